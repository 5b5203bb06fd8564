"""The scaled-out layout of docs/operations.md, in real processes: PostgreSQL, two
``zakipost web`` and two ``zakipost worker`` processes with data directories of their own,
media in an S3 API server (moto's), a standalone TikTok sandbox.

Every process is set up only from the doc's variables (parsed from its "Scaled out" block)
plus a few documented tuning settings. Uploads and URL posts publish; the first worker is
SIGKILLed while it fetches a post's video, and the second takes its jobs over when their
leases expire. Every post ends published, and TikTok (the sandbox) received each once.

Nothing waits on a wall-clock deadline as an assertion: each wait is for an event in
another process, with a generous guard against a hang only.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.connection.conftest import CALLBACK_TARGET
from tests.fixtures.app import TEST_MASTER_KEY
from tests.fixtures.consent import consent
from tests.fixtures.database import PG_URL
from tests.fixtures.servers import ThreadedServer, free_port
from tests.sandbox.media import make_video
from zakipost.models import Job, Post, WorkerProcess
from zakipost.sandbox import SandboxConfig, create_sandbox_app

REPO = Path(__file__).resolve().parents[2]
OPERATIONS = REPO / "docs" / "operations.md"
README = REPO / "README.md"
# Against a hang, never an assertion about speed.
GUARD = 180
CREATORS = 3
BUCKET = "zakipost-media"
PASSWORD = "correct horse battery staple"

# Tuning for a test run, each a setting README documents: a killed worker's jobs are taken
# over in seconds instead of a minute; the media server is on loopback.
TUNING = {
    "ZAKIPOST_WORKER_LEASE_SECONDS": "5",
    "ZAKIPOST_WORKER_POLL_INTERVAL_SECONDS": "0.5",
    "ZAKIPOST_WORKER_RETRY_BASE_SECONDS": "0.2",
    "ZAKIPOST_MEDIA_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
}


def on_postgresql(test: Callable[..., Any]) -> Callable[..., Any]:
    """Runs in the normal suite when ZAKIPOST_TEST_DATABASE_URL names a PostgreSQL."""
    test = pytest.mark.parametrize("dialect", ["postgresql"], indirect=True)(test)
    return pytest.mark.skipif(not PG_URL, reason="web and worker processes apart need PostgreSQL")(
        test
    )


METRICS_TOKEN = "scaled-out-scrape-token"


def documented_variables() -> list[str]:
    """The variables of the "Scaled out" block of docs/operations.md, in order."""
    section = OPERATIONS.read_text().split("\n## Scaled out\n", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("=", 1)[0] for line in block.splitlines() if line.startswith("ZAKIPOST_")]


def test_the_doc_lists_every_setting_the_processes_get() -> None:
    names = documented_variables()
    assert set(names) == set(
        layout_values(Path("/d"), "http://web", "http://s3", "http://tt", "pg")
    )
    readme = README.read_text()
    assert [name for name in TUNING if f"`{name}`" not in readme] == []


def layout_values(
    data_dir: Path, public_url: str, s3_url: str, sandbox_url: str, database_url: str
) -> dict[str, str]:
    """A value for each variable the doc lists (and only those)."""
    return {
        "ZAKIPOST_ENV": "production",
        "ZAKIPOST_DATA_DIR": str(data_dir),
        "ZAKIPOST_DATABASE_URL": database_url,
        "ZAKIPOST_SECURITY_MASTER_KEYS": TEST_MASTER_KEY,
        "ZAKIPOST_SECURITY_SESSION_SECRET": "scaled-out-session-secret",
        "ZAKIPOST_SERVER_PUBLIC_URL": public_url,
        "ZAKIPOST_STORAGE_BACKEND": "s3",
        "ZAKIPOST_STORAGE_S3_BUCKET": BUCKET,
        "ZAKIPOST_STORAGE_S3_ENDPOINT_URL": s3_url,
        "ZAKIPOST_STORAGE_S3_REGION": "us-east-1",
        "ZAKIPOST_STORAGE_S3_ACCESS_KEY_ID": "testing",
        "ZAKIPOST_STORAGE_S3_SECRET_ACCESS_KEY": "testing",
        "ZAKIPOST_TIKTOK_SANDBOX_URL": sandbox_url,
        "ZAKIPOST_METRICS_ENABLED": "true",
        "ZAKIPOST_METRICS_TOKEN": METRICS_TOKEN,
    }


class GatedMedia:
    """Serves one video on loopback; ``/held.mp4`` answers only once ``release()`` is called,
    so whoever fetches it is caught mid-run."""

    def __init__(self, video: bytes) -> None:
        self.hits: Counter[str] = Counter()
        self.gate = threading.Event()
        media = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                media.hits[path] += 1
                if path == "/held.mp4":
                    media.gate.wait(GUARD)
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(video)))
                self.end_headers()
                self.wfile.write(video)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, name: str) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/{name}"

    def release(self) -> None:
        self.gate.set()

    def close(self) -> None:
        self.gate.set()
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Deployment:
    """The processes of one layout, started from the doc's variables."""

    root: Path
    database_url: str
    s3_url: str
    sandbox_url: str
    public_port: int = field(default_factory=free_port)
    processes: dict[str, Process] = field(default_factory=dict)

    def env(self, name: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        # Nothing of the test run's own ZAKIPOST_* environment leaks into the processes.
        base = {k: v for k, v in os.environ.items() if not k.startswith("ZAKIPOST_")}
        public = f"http://127.0.0.1:{self.public_port}"
        values = layout_values(
            self.root / name, public, self.s3_url, self.sandbox_url, self.database_url
        )
        return {**base, **values, **TUNING, **(extra or {}), "PYTHONUNBUFFERED": "1"}

    def command(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        """A one-shot ``zakipost`` command, run to its end."""
        return subprocess.run(
            [sys.executable, "-m", "zakipost", *args],
            env=self.env(name),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=GUARD,
            check=False,
        )

    def begin(self, name: str, *args: str) -> subprocess.Popen[str]:
        """A one-shot ``zakipost`` command started in the background (its output piped)."""
        return subprocess.Popen(
            [sys.executable, "-m", "zakipost", *args],
            env=self.env(name),
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def start(
        self, name: str, *args: str, port: int | None = None, extra: dict[str, str] | None = None
    ) -> Process:
        log = self.root / f"{name}.log"
        with log.open("ab") as output:
            popen = subprocess.Popen(
                [sys.executable, "-m", "zakipost", *args],
                env=self.env(name, extra),
                cwd=self.root,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        process = Process(name, popen, log, port)
        self.processes[name] = process
        return process

    def start_web(self, name: str, port: int | None = None) -> Process:
        port = port or free_port()
        return self.start(name, "web", "--host", "127.0.0.1", "--port", str(port), port=port)

    def start_worker(self, name: str, extra: dict[str, str] | None = None) -> Process:
        return self.start(name, "worker", "--concurrency", "2", extra=extra)

    def outputs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.output()[-3000:]}" for p in self.processes.values())

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.popen.poll() is None:
                process.popen.kill()
            process.popen.wait()


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, deployment: Deployment
) -> None:
    """Re-run ``check`` until true; what it waits for happens in other processes."""
    try:
        async with asyncio.timeout(GUARD):
            while not await check():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"gave up waiting: {what}\n{deployment.outputs()}")


@pytest.fixture
def moto_s3() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    yield url
    server.stop()


@pytest.fixture
def media() -> Iterator[GatedMedia]:
    server = GatedMedia(make_video(seconds=4))
    yield server
    server.close()


@pytest.fixture
async def deployment(
    tmp_path: Path, engine: AsyncEngine, moto_s3: str
) -> AsyncIterator[Deployment]:
    public_port = free_port()
    public_url = f"http://127.0.0.1:{public_port}"
    config = SandboxConfig(
        progression="immediate", redirect_uris=[f"{public_url}/connect/tiktok/callback"]
    )
    sandbox_app = create_sandbox_app(config)
    for i in range(CREATORS):
        sandbox_app.state.sandbox.add_creator(username=f"scaled_{i}")
    sandbox = ThreadedServer(sandbox_app).start()
    database_url = engine.url.render_as_string(hide_password=False).replace("+asyncpg", "")
    layout = Deployment(tmp_path, database_url, moto_s3, sandbox.url, public_port)
    try:
        yield layout
    finally:
        layout.stop_all()
        sandbox.stop()


async def healthy(process: Process) -> bool:
    if process.popen.poll() is not None:
        pytest.fail(f"{process.name} exited:\n{process.output()}")
    try:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"{process.url}/healthz")).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Caller:
    """An API caller spreading its requests over the web processes, as a load balancer does."""

    webs: list[Process]
    headers: dict[str, str]
    turn: int = 0

    def base(self) -> str:
        self.turn += 1
        return self.webs[self.turn % len(self.webs)].url

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        async with httpx.AsyncClient(timeout=60) as http:
            return await http.request(method, f"{self.base()}{path}", headers=headers, **kwargs)


async def set_up(deployment: Deployment, workers: dict[str, dict[str, str]]) -> Caller:
    """Migrate, then (all at once, as separate machines would) create an account and start
    both webs and the ``workers``; return a caller once every process is up."""
    migrated = deployment.command("migrate", "migrate")
    assert migrated.returncode == 0, migrated.stderr + migrated.stdout
    create = deployment.begin(
        "accounts",
        *("accounts", "create", "--email", "ops@example.com", "--password", PASSWORD),
        *("--plan", "pro", "--points", "100000", "--json"),
    )
    webs = [
        deployment.start_web("web-0", port=deployment.public_port),
        deployment.start_web("web-1"),
    ]
    for name, extra in workers.items():
        deployment.start_worker(name, extra)
    out, err = await asyncio.to_thread(create.communicate, timeout=GUARD)
    assert create.returncode == 0, err + out
    account = json.loads(out)
    for web in webs:
        await eventually(functools.partial(healthy, web), f"{web.name} up", deployment)
    caller = Caller(
        webs,
        {
            "X-ZakiPost-Client-Key": account["client_key"],
            "X-ZakiPost-Client-Secret": account["client_secret"],
        },
    )
    await eventually(lambda: _live(caller, len(workers)), "the workers' heartbeats", deployment)
    return caller


async def holder_pid(sessionmaker: async_sessionmaker[AsyncSession], publish_id: str) -> int:
    """The pid of the worker holding the lease on the post's job (worker ids are
    ``host:pid:random``)."""
    async with sessionmaker() as session:
        post_id = await session.scalar(select(Post.id).where(Post.publish_id == publish_id))
        owner = await session.scalar(
            select(Job.lease_owner).where(Job.lock == f"post:{post_id}", Job.status == "doing")
        )
    assert owner is not None
    return int(owner.rsplit(":", 2)[1])


async def connect(caller: Caller, count: int) -> list[str]:
    ids = []
    async with httpx.AsyncClient() as browser:
        for i in range(count):
            started = await caller.call(
                "POST", "/v1/tiktok/connect", json={"redirect_url": CALLBACK_TARGET}
            )
            assert started.status_code == 200, started.text
            result = await consent(
                browser, started.json()["data"]["authorize_url"], creator_index=-(i + 1)
            )
            # TikTok sends the browser to the public URL: here, web-0.
            back = await browser.get(result.location, follow_redirects=False)
            assert back.status_code == 303, back.text
            ids.append(back.headers["location"].split("tiktok_account_id=")[1])
    assert len(set(ids)) == count
    return ids


async def upload(caller: Caller) -> str:
    uploaded = await caller.call(
        "POST",
        "/v1/media",
        content=make_video(seconds=4),
        headers={"Content-Type": "video/mp4"},
    )
    assert uploaded.status_code == 200, uploaded.text
    return str(uploaded.json()["data"]["media_id"])


async def publish(caller: Caller, account: str, title: str, **source: str) -> str:
    accepted = await caller.call(
        "POST",
        "/v1/tiktok/publish",
        json={**source, "tiktok_account_id": account, "title": title, "privacy_level": "SELF_ONLY"},
    )
    assert accepted.status_code == 200, accepted.text
    return str(accepted.json()["data"]["publish_id"])


async def statuses(sessionmaker: async_sessionmaker[AsyncSession]) -> Counter[str]:
    async with sessionmaker() as session:
        return Counter(s.value for s in (await session.scalars(select(Post.status))).all())


async def ready(caller: Caller) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{caller.base()}/readyz", params={"workers": "1"})
    body: dict[str, Any] = response.json()
    body["http_status"] = response.status_code
    return body


async def sandbox_completed(deployment: Deployment) -> Counter[str]:
    async with httpx.AsyncClient() as http:
        received = (await http.get(f"{deployment.sandbox_url}/_sandbox/posts")).json()
    received = received["posts"] if isinstance(received, dict) else received
    return Counter(p["title"] for p in received if p["status"] == "PUBLISH_COMPLETE")


@on_postgresql
async def test_scaled_out_posts_publish_once_through_a_killed_worker(
    deployment: Deployment, media: GatedMedia, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    caller = await set_up(deployment, {"worker-a": {}, "worker-b": {}})
    for name in ("worker-a", "worker-b"):
        banner = deployment.processes[name].output()
        assert f"TikTok         the TikTok sandbox at {deployment.sandbox_url}" in banner, banner
        assert f"media store    S3 bucket {BUCKET} at {deployment.s3_url}" in banner, banner
        assert "database       PostgreSQL postgresql://postgres@127.0.0.1" in banner, banner
    accounts = await connect(caller, CREATORS)
    uploads = [await upload(caller) for _ in accounts]

    first = await publish(caller, accounts[0], "scaled #0 url", video_url=media.url("held.mp4"))
    titles = {first: "scaled #0 url"}
    for n, (account, media_id) in enumerate(zip(accounts, uploads, strict=True)):
        if n:
            title = f"scaled #{n} url"
            titles[await publish(caller, account, title, video_url=media.url("clip.mp4"))] = title
        title = f"scaled #{n} upload"
        titles[await publish(caller, account, title, media_id=media_id)] = title

    # A worker is fetching the held video, holding the lease on that post's job: kill it.
    async def fetching() -> bool:
        return media.hits["/held.mp4"] >= 1

    await eventually(fetching, "a worker fetching the held video", deployment)
    victim_pid = await holder_pid(sessionmaker, first)
    by_pid = {p.popen.pid: p for name, p in deployment.processes.items() if "worker" in name}
    victim = by_pid.pop(victim_pid)
    [survivor] = by_pid.values()
    victim.popen.send_signal(signal.SIGKILL)
    victim.popen.wait()
    media.release()

    async def all_ended() -> bool:
        done = await statuses(sessionmaker)
        return sum(done[s] for s in ("published", "failed", "unknown", "cancelled")) == len(titles)

    await eventually(all_ended, "every post ending", deployment)
    assert await statuses(sessionmaker) == Counter({"published": len(titles)}), deployment.outputs()
    # The survivor fetched the held video again: the victim died mid-run, holding that post.
    assert media.hits["/held.mp4"] == 2
    completed = await sandbox_completed(deployment)
    assert completed == Counter({title: 1 for title in titles.values()})
    for publish_id in titles:
        post = (await caller.call("GET", f"/v1/tiktok/publish/{publish_id}")).json()["data"]
        assert (post["status"], post["waiting_for"]) == ("published", None)

    # A clean stop removes the survivor's heartbeat; the killed worker's stays until it ages.
    survivor.popen.send_signal(signal.SIGTERM)
    assert survivor.popen.wait(timeout=GUARD) == 0, survivor.output()
    async with sessionmaker() as session:
        rows = (await session.scalars(select(WorkerProcess))).all()
    assert [r.pid for r in rows] == [victim_pid]


async def _live(caller: Caller, count: int) -> bool:
    body = await ready(caller)
    return body.get("workers", {}).get("live") == count


METRIC = re.compile(r"^zakipost_posts\{([^}]*)\}\s+([0-9.e+]+)$", re.MULTILINE)


def published_in(metrics: str) -> float:
    return sum(
        float(value) for labels, value in METRIC.findall(metrics) if 'status="published"' in labels
    )


@on_postgresql
async def test_every_process_metrics_show_the_posts(
    deployment: Deployment, media: GatedMedia, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    pytest.importorskip("zakipost.metrics")
    observability = (REPO / "docs" / "observability.md").read_text()
    assert "ZAKIPOST_WORKER_METRICS_PORT" in observability
    media.release()
    ports = [free_port(), free_port()]
    caller = await set_up(
        deployment,
        {
            f"worker-{i}": {"ZAKIPOST_WORKER_METRICS_PORT": str(port)}
            for i, port in enumerate(ports)
        },
    )
    accounts = await connect(caller, 2)
    media_id = await upload(caller)
    publish_ids = [
        await publish(caller, accounts[0], "metrics url", video_url=media.url("clip.mp4")),
        await publish(caller, accounts[1], "metrics upload", media_id=media_id),
    ]

    async def published() -> bool:
        return (await statuses(sessionmaker))["published"] == len(publish_ids)

    await eventually(published, "both posts published", deployment)
    scrapes = [f"{web.url}/metrics" for web in caller.webs]
    scrapes += [f"http://127.0.0.1:{port}/metrics" for port in ports]
    async with httpx.AsyncClient() as http:
        for url in scrapes:
            anonymous = await http.get(url)
            assert anonymous.status_code == 401, (url, anonymous.text)
            response = await http.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
            assert response.status_code == 200, (url, response.text)
            assert published_in(response.text) == len(publish_ids), (url, response.text)
