"""The setting shared by relay and memory: ZakiPost publishing to a standalone TikTok sandbox.

Four processes on 127.0.0.1, each started here and stopped on exit:

- the media source (``bench._source``: a threaded HTTP server using sendfile);
- the TikTok sandbox on its own (``zakipost sandbox``: its own uvicorn process, progression
  ``immediate``, media checks ON: TikTok checks what it received, and so does the sandbox,
  with PyAV reading only the container's metadata; rate limits and daily cap lifted, so a
  benchmark's repeated inits are not refused by quota);
- ``zakipost web`` (acceptance and the OAuth callback only; idle while bytes move);
- ``zakipost worker`` processes, started per measurement with ``start_worker``.

ZakiPost is configured as in production with a TikTok app of its own: the sandbox's client
key and secret, and the sandbox's URL as TikTok's API and auth base URL. SQLite in the data
directory is shared by web and worker. There is no cross-process wake-up on SQLite, so the
worker finds a post at its next poll (the default 5 s): the relay's figure is taken from the
post's own timeline and excludes that wait. The poll interval is left at its default on
purpose: a shorter one would add its queries to the worker's event loop during the transfer.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from bench._env import (
    HOST,
    PYTHON,
    ZAKIPOST,
    Service,
    Video,
    child_env,
    connect_tiktok,
    create_account,
    free_port,
    fresh_database,
    new_master_key,
    publish,
    settings_for,
    wait_final,
    wait_for_log,
    wait_http,
    zakipost_env,
)


class PipelineEnv:
    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.name = name
        self.work = root / name
        self.logs = root / "logs"
        self.media_dir = root / "media"
        self.storage_dir = self.work / "sandbox-storage"
        self.source_port, self.sandbox_port, self.web_port = free_port(), free_port(), free_port()
        self.sandbox_url = f"http://{HOST}:{self.sandbox_port}"
        self.base = f"http://{HOST}:{self.web_port}"
        self.stack = contextlib.ExitStack()
        self.http = httpx.AsyncClient(timeout=60.0)
        self.headers: dict[str, str] = {}
        self.account_id = ""
        self.workers = 0

    def source_url(self, video: Video) -> str:
        return f"http://{HOST}:{self.source_port}/{video.path.name}"

    async def __aenter__(self) -> Self:
        try:
            await self._start()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def _start(self) -> None:
        from zakipost.sandbox import SandboxConfig

        app = SandboxConfig()
        self.media_dir.mkdir(parents=True, exist_ok=True)
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        self.env = zakipost_env(
            data_dir=self.work / "data",
            port=self.web_port,
            master_key=new_master_key(),
            ZAKIPOST_TIKTOK_CLIENT_KEY=app.client_key,
            ZAKIPOST_TIKTOK_CLIENT_SECRET=app.client_secret,
            ZAKIPOST_TIKTOK_API_BASE_URL=self.sandbox_url,
            ZAKIPOST_TIKTOK_AUTH_BASE_URL=self.sandbox_url,
            ZAKIPOST_MEDIA_ALLOW_PRIVATE_NETWORKS="true",
        )
        sandbox_env = {
            "ZAKIPOST_DATA_DIR": str(self.work / "sandbox-data"),
            "ZAKIPOST_SANDBOX_STORAGE_DIR": str(self.storage_dir),
            "ZAKIPOST_SANDBOX_PROGRESSION": "immediate",
            "ZAKIPOST_SANDBOX_MEDIA_CHECKS": "true",
            "ZAKIPOST_SANDBOX_RATE_LIMITS_ENABLED": "false",
            "ZAKIPOST_SANDBOX_DAILY_POST_CAP": "1000",
            "ZAKIPOST_SANDBOX_REDIRECT_URIS": f"{self.base}/connect/tiktok/callback",
        }
        settings = settings_for(self.env)
        await fresh_database(settings)
        self.headers = await create_account(
            settings, email=f"{self.name}@bench.example", points=1_000_000
        )
        source = self._service(
            "source",
            [PYTHON, "-m", "bench._source", str(self.source_port), str(self.media_dir)],
            {},
        )
        sandbox = self._service(
            "sandbox", [ZAKIPOST, "sandbox", "--port", str(self.sandbox_port)], sandbox_env
        )
        web = self._service("web", [ZAKIPOST, "web"], self.env)
        await wait_http(f"{self.sandbox_url}/_sandbox/config", sandbox)
        await wait_http(f"{self.base}/healthz", web)
        self.services = [source, sandbox, web]
        self.account_id = await connect_tiktok(self.http, self.base, self.headers)

    def _service(self, role: str, argv: list[str], env: dict[str, str]) -> Service:
        service = Service(f"{self.name}-{role}", argv, child_env(env), self.work, self.logs)
        self.stack.enter_context(service)
        return service

    async def start_worker(self) -> Service:
        """A fresh ``zakipost worker`` (its own process: peak RSS starts from zero), ready."""
        self.workers += 1
        worker = self._service(f"worker{self.workers}", [ZAKIPOST, "worker"], self.env)
        await wait_for_log(worker, "worker.started")
        return worker

    async def publish(self, video: Video, title: str) -> str:
        body = {
            "video_url": self.source_url(video),
            "tiktok_account_id": self.account_id,
            "title": title,
            "privacy_level": "SELF_ONLY",
        }
        return await publish(self.http, self.base, self.headers, body)

    async def wait(self, publish_id: str, services: list[Service]) -> dict[str, Any]:
        post = await wait_final(
            self.http,
            self.base,
            self.headers,
            publish_id,
            within=600.0,
            interval=0.5,
            services=[*self.services, *services],
        )
        if post["status"] != "published":
            raise RuntimeError(f"{publish_id} ended {post['status']}: {post.get('error')}")
        return post

    async def sandbox_post(self, tiktok_publish_id: str) -> dict[str, Any]:
        response = await self.http.get(f"{self.sandbox_url}/_sandbox/posts/{tiktok_publish_id}")
        response.raise_for_status()
        return dict(response.json())

    async def check_received(self, tiktok_publish_id: str, video: Video) -> dict[str, Any]:
        """What the sandbox received must be the source's bytes, and it must be published."""
        received = await self.sandbox_post(tiktok_publish_id)
        if received.get("media_size") != video.size or received.get("media_sha256") != video.sha256:
            raise RuntimeError(
                f"the sandbox received {received.get('media_size')} bytes "
                f"(sha256 {received.get('media_sha256')}), not the {video.size}-byte source"
            )
        if received.get("status") != "PUBLISH_COMPLETE":
            raise RuntimeError(
                f"the sandbox says {received.get('status')}: {received.get('fail_reason')}"
            )
        return received

    def clear_storage(self) -> None:
        """Drop what the sandbox stored (it keeps every upload on disk)."""
        for path in self.storage_dir.iterdir():
            path.unlink(missing_ok=True)

    async def sandbox_token(self) -> str:
        """An access token of the sandbox's first creator, for the plain-copy baselines."""
        response = await self.http.post(f"{self.sandbox_url}/_sandbox/tokens", json={})
        response.raise_for_status()
        return str(response.json()["access_token"])

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.http.aclose()
        self.stack.close()
        shutil.rmtree(self.work, ignore_errors=True)
