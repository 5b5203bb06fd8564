"""``zakipost serve`` for the latency benchmark: the web app and its worker in one process,
the sandbox mounted at /sandbox, configured from ZAKIPOST_* variables like the real command
(the benchmark migrates the database beforehand).

The only addition is an observer around the mounted sandbox (the sandbox itself is not
touched): it notes the wall-clock time at which each request to TikTok's video init endpoint
arrives, before the sandbox sees it, and ``GET /_bench/inits`` returns those times.
"""

from __future__ import annotations

import json
import time

import uvicorn
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from zakipost.config import load_settings
from zakipost.logging import configure_logging
from zakipost.main import create_app

INIT_PATH = "/v2/post/publish/video/init/"
inits: list[float] = []


class InitObserver:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].endswith(INIT_PATH):
            inits.append(time.time())
        await self.app(scope, receive, send)


class BenchRoutes:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/_bench/inits":
            body = json.dumps({"inits": inits}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def main() -> None:
    settings = load_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings, run_worker=True)
    mounts = [r for r in app.routes if isinstance(r, Mount) and r.path == "/sandbox"]
    if len(mounts) != 1:
        raise SystemExit("the sandbox is not mounted at /sandbox")
    mounts[0].app = InitObserver(mounts[0].app)
    uvicorn.run(
        BenchRoutes(app), host=settings.server.host, port=settings.server.port, log_config=None
    )


if __name__ == "__main__":
    main()
