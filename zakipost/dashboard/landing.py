"""The landing page at ``/``: what ZakiPost is and where to go, in the dashboard's style."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from zakipost.dashboard.web import render


async def landing_page(request: Request) -> Response:
    return render(
        request,
        "landing.html",
        title="ZakiPost",
        sandbox=request.app.state.sandbox_app is not None,
    )
