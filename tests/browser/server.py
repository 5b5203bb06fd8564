"""The whole app (gateway, dashboard, sandbox, worker) served on a loopback port for a real
browser: its own SQLite database, migrated in the server's own event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from tests.fixtures.app import make_settings
from tests.fixtures.servers import free_port
from zakipost.db import migrate
from zakipost.main import create_app


class LiveApp:
    """``create_app`` with the sandbox mounted and the worker running, served by uvicorn on
    a thread of its own (with the app's lifespan, unlike ``ThreadedServer``)."""

    def __init__(self, tmp_path: Path, **overrides: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = make_settings(
            tmp_path,
            database={"url": f"sqlite:///{tmp_path / 'browser.db'}"},
            server={"public_url": self.url},
            **overrides,
        )
        self.app: FastAPI = create_app(settings, mount_sandbox=True, run_worker=True)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._failure: Exception | None = None

    @property
    def sandbox(self) -> Any:
        return self.app.state.sandbox_app.state.sandbox

    def _run(self) -> None:
        async def main() -> None:
            await migrate.upgrade(self.app.state.engine)
            await self._server.serve()

        try:
            asyncio.run(main())
        except Exception as exc:  # noqa: BLE001 (any failure is reported by start())
            self._failure = exc

    def start(self) -> LiveApp:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if self._failure is not None or not self._thread.is_alive():
                raise RuntimeError(f"the app did not start: {self._failure!r}")
            if time.monotonic() > deadline:
                raise RuntimeError("the app did not start within 30 s")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
