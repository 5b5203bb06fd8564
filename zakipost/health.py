"""Liveness and readiness.

``/readyz`` is the web process's readiness: it answers 200 while the database does, and
reports how many workers were seen in the last minute without depending on them (a web
tier deployed apart from its workers is ready to take requests whatever the workers do).
``/readyz?workers=1`` also requires a live worker: 503 when none was seen in the last
minute, for the check that watches the whole deployment (queued posts do not move).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost.kit.clock import utcnow
from zakipost.worker import liveness

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _clock(request: Request) -> dt.datetime:
    components = getattr(request.app.state, "components", None)
    return components.clock() if components is not None else utcnow()


@router.get(
    "/readyz",
    summary="Readiness: the database answers (and, with workers=1, a worker is alive)",
    responses={
        503: {
            "description": "The database is unreachable, or (workers=1) no worker "
            "was seen in the last minute."
        }
    },
)
async def readyz(
    request: Request,
    workers: Annotated[
        bool,
        Query(
            description="Also require a live worker: 503 when no worker was seen in the last "
            "minute. Without it the answer is the web process's readiness alone, and "
            "`workers.live` only reports."
        ),
    ] = False,
) -> JSONResponse:
    maker: async_sessionmaker[AsyncSession] = request.app.state.read_sessionmaker
    try:
        async with maker() as session:
            await session.execute(text("SELECT 1"))
            live = await liveness.live_workers(session, now=_clock(request))
    except (OSError, SQLAlchemyError):
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    report: dict[str, Any] = {
        "live": len(live),
        "window_seconds": int(liveness.LIVE_WINDOW.total_seconds()),
        "last_seen_at": live[0].last_seen_at.isoformat() if live else None,
    }
    if workers and not live:
        return JSONResponse(
            {
                "status": "unavailable",
                "database": "ok",
                "workers": report,
                "message": "No worker was seen in the last minute: queued posts wait until "
                "one runs (zakipost worker).",
            },
            status_code=503,
        )
    return JSONResponse({"status": "ok", "database": "ok", "workers": report})
