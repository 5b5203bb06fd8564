"""What every benchmark section shares: processes, configuration, the database, accounts,
connected TikTok accounts, test videos, statistics and printing.

Everything a section starts is a child process of ``python -m bench`` (tracked by its
``Service``) or a file under the run's temporary directory; both are removed when the
section ends, whatever happens (see ``__main__``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ctypes
import hashlib
import json
import math
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Self
from urllib.parse import parse_qs, urlsplit

import httpx

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
ZAKIPOST = str(Path(sys.executable).with_name("zakipost"))
HOST = "127.0.0.1"

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
PG_ADMIN_DB = "test"
PG_BENCH_DB = "zp_bench"
PG_BENCH_URL = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_BENCH_DB}"

CALLBACK_TARGET = "https://app.example.com/tiktok/done"
MB = 1_000_000


# -- options and results -------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    quick: bool = False
    # Connections of the accept load generator (--accept-concurrency).
    accept_concurrency: int = 8

    @property
    def quiet_wait(self) -> float:
        """How long to wait for other processes to go quiet before each measurement."""
        return 1.0 if self.quick else 3.0


@dataclass
class Verdict:
    """One line of the closing summary."""

    section: str
    figure: str
    value: str
    target: str = ""
    status: str = "INFO"  # PASS, FAIL, INFO, SKIP or ERROR
    note: str = ""


# -- processes -----------------------------------------------------------------------------


def die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # If the benchmark itself is killed, its servers must not outlive it.
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class ServiceFailed(RuntimeError):
    pass


class Service:
    """A child process with its output in a log file; ``stop()`` ends exactly this process."""

    def __init__(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path, log_dir: Path
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.log_path = log_dir / f"{name}.log"
        self._log: IO[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed by stop())
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def check(self) -> None:
        if not self.alive():
            code = self.process.returncode if self.process else None
            raise ServiceFailed(
                f"{self.name} exited (code {code}); last lines of {self.log_path}:\n"
                + self.log_tail()
            )

    def stop(self, timeout: float = 20.0) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


async def wait_http(url: str, service: Service, within: float = 60.0) -> None:
    """Until ``url`` answers 200 (the service's log is shown if it dies first)."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2.0) as http:
        while True:
            service.check()
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(url)).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise ServiceFailed(f"{service.name} did not answer {url} in {within:.0f} s")
            await asyncio.sleep(0.1)


async def wait_for_log(service: Service, text: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while text not in service.log_path.read_text(errors="replace"):
        service.check()
        if time.monotonic() > deadline:
            raise ServiceFailed(f"{service.name} never logged {text!r}:\n{service.log_tail()}")
        await asyncio.sleep(0.1)


def proc_memory_kb(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (peak RSS) and friends from /proc/<pid>/status, in kB."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            name, _, rest = line.partition(":")
            if name.startswith("Vm") and rest.strip().endswith("kB"):
                values[name] = int(rest.split()[0])
    return values


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (utime and stime of /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_seconds(root: int) -> float:
    """CPU time of ``root`` and its live descendants, children already reaped included
    (utime + stime + cutime + cstime of each live process of the tree)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        parents[pid] = int(fields[1])
        times[pid] = sum(int(v) for v in fields[11:15]) / tick
    total = 0.0
    for pid, seconds in times.items():
        ancestor = pid
        while ancestor not in (root, 0, 1) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor == root:
            total += seconds
    return total


# The databases the benchmark creates; their PostgreSQL backends work for the benchmark.
BENCH_DATABASES = ("zp_bench", "bench_throughput")


def _bench_postgres_seconds() -> float:
    """CPU time of the PostgreSQL backends serving the benchmark's own databases: they are
    not children of the benchmark, yet they do its work (a publish's statements), so they
    must not count as "other" load. A backend's title names its database:
    ``postgres: [<cluster>:] <user> <database> <host>(<port>) <state>``."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                title = fh.read().split(b"\0", 1)[0].decode(errors="replace").split()
            # After "postgres:" may come the cluster's name ("15/main:"), then user, database.
            if not title or title[0] != "postgres:" or not set(title[1:5]) & set(BENCH_DATABASES):
                continue
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _machine_busy_seconds() -> float:
    with open("/proc/stat") as fh:
        user, nice, system, _idle, _iowait, irq, softirq, *_ = (
            int(v) for v in fh.readline().split()[1:]
        )
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _ours() -> float:
    return _tree_cpu_seconds(os.getpid()) + _bench_postgres_seconds()


class Background:
    """How busy the machine was with work other than this benchmark's processes (and the
    PostgreSQL backends of its databases), in cores (other engineers' test runs share these
    2 cores and make any figure noisier)."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.busy = _machine_busy_seconds()
        self.ours = _ours()

    def cores(self) -> float:
        elapsed = time.monotonic() - self.started
        busy = _machine_busy_seconds() - self.busy
        ours = _ours() - self.ours
        return max(0.0, busy - ours) / elapsed if elapsed > 0 else 0.0


async def quiet_machine(max_wait: float, threshold: float = 0.25) -> float:
    """Wait up to ``max_wait`` seconds for a second in which other processes use less than
    ``threshold`` cores; the last reading. Shared machines make this a best effort."""
    deadline = time.monotonic() + max_wait
    while True:
        sample = Background()
        await asyncio.sleep(1.0)
        cores = sample.cores()
        if cores < threshold or time.monotonic() >= deadline:
            return cores


# -- configuration ---------------------------------------------------------------------------


def new_master_key() -> str:
    return "b1:" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


async def run_json_child(module: str, job: Mapping[str, Any], what: str) -> dict[str, Any]:
    """Run ``python -m <module>`` in its own process: the job as JSON on stdin, its result
    as JSON on stdout (load generators and baselines measured beside ZakiPost)."""
    process = await asyncio.create_subprocess_exec(
        PYTHON,
        "-m",
        module,
        cwd=REPO,
        env=child_env({}),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        preexec_fn=die_with_parent,
    )
    out, _ = await process.communicate(json.dumps(job).encode())
    if process.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {process.returncode})")
    result: dict[str, Any] = json.loads(out)
    return result


def child_env(values: Mapping[str, str]) -> dict[str, str]:
    """The environment of a child: ours without any ZAKIPOST_* variable, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAKIPOST_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(values)
    return env


def zakipost_env(
    *,
    data_dir: Path,
    port: int,
    master_key: str,
    database_url: str = "",
    **extra: str,
) -> dict[str, str]:
    """ZAKIPOST_* variables for a web, worker or serve process of one benchmark."""
    values = {
        "ZAKIPOST_ENV": "development",
        "ZAKIPOST_DATA_DIR": str(data_dir),
        "ZAKIPOST_SERVER_HOST": HOST,
        "ZAKIPOST_SERVER_PORT": str(port),
        "ZAKIPOST_SECURITY_MASTER_KEYS": master_key,
        "ZAKIPOST_SECURITY_SESSION_SECRET": "bench-session-secret",
        # A benchmark's web and workers run on one machine: they share the data directory's
        # store, named explicitly as a layout of separate processes requires.
        "ZAKIPOST_STORAGE_LOCAL_DIR": str(data_dir / "store"),
    }
    if database_url:
        values["ZAKIPOST_DATABASE_URL"] = database_url
    values.update(extra)
    return values


@contextlib.contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    saved = {k: v for k, v in os.environ.items() if k.startswith("ZAKIPOST_")}
    for key in saved:
        del os.environ[key]
    os.environ.update({k: v for k, v in values.items() if k.startswith("ZAKIPOST_")})
    try:
        yield
    finally:
        for key in [k for k in os.environ if k.startswith("ZAKIPOST_")]:
            del os.environ[key]
        os.environ.update(saved)


def settings_for(values: Mapping[str, str]) -> Any:
    """The Settings a child started with ``values`` will read (no .env file)."""
    from zakipost.config import load_settings

    with _environ(values):
        return load_settings(_env_file=None)


# -- database and accounts -------------------------------------------------------------------


async def postgres_problem() -> str | None:
    """Create the benchmark's database if missing; a reason when PostgreSQL is unusable."""
    import asyncpg

    try:
        conn = await asyncpg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB, timeout=5
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL at {PG_HOST}:{PG_PORT} is not reachable ({exc})"
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", PG_BENCH_DB)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{PG_BENCH_DB}"')
    except asyncpg.PostgresError as exc:
        return f"cannot create database {PG_BENCH_DB}: {exc}"
    finally:
        await conn.close()
    return None


def _empty_data_dir(settings: Any) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.is_sqlite:
        path = Path(settings.database_url.split(":///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


async def fresh_database(settings: Any) -> None:
    """An empty, migrated database: PostgreSQL's public schema recreated, SQLite from zero."""
    from sqlalchemy import text

    from zakipost.db import migrate
    from zakipost.db.engine import create_engine

    _empty_data_dir(settings)
    engine = create_engine(settings.database_url)
    try:
        if not settings.is_sqlite:
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


async def empty_postgres() -> None:
    """Leave the benchmark's PostgreSQL database empty (its tables are rebuilt on each run)."""
    import asyncpg

    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_BENCH_DB)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


async def create_account(settings: Any, *, email: str, points: int) -> dict[str, str]:
    """An API account on the pro plan; returns its credential headers."""
    from zakipost.account import service as account_service
    from zakipost.composition import create_vault
    from zakipost.db.engine import create_engine, create_sessionmaker

    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            _, credentials = await account_service.create(
                session,
                settings,
                create_vault(settings),
                email=email,
                password="bench password 123",  # noqa: S106 (a throwaway account)
                plan="pro",
                points_grant=points,
            )
    finally:
        await engine.dispose()
    return {
        "X-ZakiPost-Client-Key": credentials.client_key,
        "X-ZakiPost-Client-Secret": credentials.client_secret,
    }


async def connect_tiktok(
    http: httpx.AsyncClient, base_url: str, headers: Mapping[str, str], creator_index: int = 0
) -> str:
    """Connect a TikTok account over HTTP: begin over the API, consent on the sandbox's page
    the way a browser does, follow TikTok's redirect to ZakiPost's callback. Returns the
    ``tiktok_account_id``."""
    from tests.fixtures.consent import consent

    started = await http.post(
        f"{base_url}/v1/tiktok/connect",
        json={"redirect_url": CALLBACK_TARGET},
        headers=dict(headers),
    )
    started.raise_for_status()
    authorize_url = started.json()["data"]["authorize_url"]
    result = await consent(http, authorize_url, creator_index=creator_index)
    back = await http.get(result.location, follow_redirects=False)
    if back.status_code != 303 or not back.headers["location"].startswith(CALLBACK_TARGET):
        raise RuntimeError(f"the callback answered {back.status_code}: {back.text[:300]}")
    query = parse_qs(urlsplit(back.headers["location"]).query)
    if "tiktok_account_id" not in query:
        raise RuntimeError(f"connecting TikTok failed: {back.headers['location']}")
    return query["tiktok_account_id"][0]


async def publish(
    http: httpx.AsyncClient, base_url: str, headers: Mapping[str, str], body: Mapping[str, Any]
) -> str:
    response = await http.post(
        f"{base_url}/v1/tiktok/publish", json=dict(body), headers=dict(headers)
    )
    if response.status_code != 200:
        raise RuntimeError(f"publish answered {response.status_code}: {response.text[:300]}")
    return str(response.json()["data"]["publish_id"])


async def read_post(
    http: httpx.AsyncClient, base_url: str, headers: Mapping[str, str], publish_id: str
) -> dict[str, Any]:
    response = await http.get(f"{base_url}/v1/tiktok/publish/{publish_id}", headers=dict(headers))
    response.raise_for_status()
    return dict(response.json()["data"])


FINAL = {"published", "failed", "unknown", "in_inbox", "cancelled"}


async def wait_final(
    http: httpx.AsyncClient,
    base_url: str,
    headers: Mapping[str, str],
    publish_id: str,
    *,
    within: float,
    interval: float,
    first_look: float = 0.0,
    services: Sequence[Service] = (),
) -> dict[str, Any]:
    """Poll the post until it is final; ``first_look`` waits before the first poll (so polling
    does not compete with the pipeline for the server's CPU)."""
    deadline = time.monotonic() + within
    await asyncio.sleep(first_look)
    while True:
        post = await read_post(http, base_url, headers, publish_id)
        if post["status"] in FINAL:
            return post
        for service in services:
            service.check()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{publish_id} still {post['status']} after {within:.0f} s")
        await asyncio.sleep(interval)


def event_time(
    post: Mapping[str, Any], *, step: str | None = None, status: str | None = None
) -> float:
    """Epoch seconds of the first timeline event with that step (and/or status)."""
    import datetime as dt

    for event in post["timeline"]:
        if (step is None or event["step"] == step) and (
            status is None or event["status"] == status
        ):
            at = dt.datetime.fromisoformat(event["at"])
            if at.tzinfo is None:
                at = at.replace(tzinfo=dt.UTC)
            return at.timestamp()
    raise KeyError(f"no timeline event step={step} status={status} in {post['publish_id']}")


# -- media -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Video:
    path: Path
    size: int
    sha256: str


def write_video(path: Path, size: int, *, block: int = 8 << 20) -> Video:
    """A valid MP4 of exactly ``size`` bytes: a 4 s H.264 clip followed by a top-level
    ``free`` box (the layout of ``tests.sandbox.media.pad_mp4``), written in blocks."""
    from tests.sandbox.media import make_video

    head = make_video(seconds=4)
    missing = size - len(head)
    if missing < 8 or missing >= 1 << 32:
        raise ValueError(f"cannot pad a {len(head)}-byte clip to {size} bytes with one free box")
    digest = hashlib.sha256()
    zeros = bytes(block)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        for piece in (head, struct.pack(">I", missing) + b"free"):
            fh.write(piece)
            digest.update(piece)
        remaining = missing - 8
        while remaining:
            piece = zeros[: min(block, remaining)]
            fh.write(piece)
            digest.update(piece)
            remaining -= len(piece)
    return Video(path, size, digest.hexdigest())


_videos: dict[Path, Video] = {}


def video(root: Path, size: int) -> Video:
    """The run's video of ``size`` bytes, written once and shared by the sections."""
    path = root / "media" / f"video-{size}.mp4"
    if path not in _videos:
        _videos[path] = write_video(path, size)
    return _videos[path]


# -- statistics and printing -----------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return pct(values, 50)


def fmt(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def render(self) -> str:
        widths = [len(h) for h in self.headers]
        for row in self.rows:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=False)]

        def line(cells: Sequence[str]) -> str:
            first, *rest = cells
            parts = [first.ljust(widths[0])] + [
                c.rjust(w) for c, w in zip(rest, widths[1:], strict=False)
            ]
            return "  " + "  ".join(parts)

        out = [
            f"\n== {self.title} ==",
            line(self.headers),
            "  " + "  ".join("-" * w for w in widths),
        ]
        out += [line(r) for r in self.rows]
        out += [f"  {n}" for n in self.notes]
        return "\n".join(out)

    def print(self) -> None:
        print(self.render(), flush=True)
