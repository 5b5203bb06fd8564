"""Dashboard pages, one module per area; :func:`install` mounts them on the app."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from zakipost.dashboard import errors as dashboard_errors
from zakipost.dashboard.routes import accounts, auth, compose, keys, points, posts, start, webhooks
from zakipost.dashboard.sessions import SignInRequired
from zakipost.dashboard.web import HERE

PREFIX = "/dashboard"

AREAS = (auth, start, keys, accounts, compose, posts, points, webhooks)

router = APIRouter(prefix=PREFIX, include_in_schema=False)
router.add_api_route("", auth.home, methods=["GET"])
for area in AREAS:
    router.include_router(area.router)


def endpoints() -> list[tuple[str, frozenset[str]]]:
    """Every dashboard path and its methods (tests walk them all)."""
    found = [(PREFIX, frozenset({"GET"}))]
    for area in AREAS:
        for route in area.router.routes:
            if isinstance(route, APIRoute):
                found.append((PREFIX + route.path, frozenset(route.methods or ())))
    return found


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    target = f"{PREFIX}/login?next={quote(exc.next_path)}"
    return RedirectResponse(target + ("&expired=1" if exc.expired else ""), status_code=303)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")
    app.add_exception_handler(SignInRequired, _sign_in_required)
    dashboard_errors.install(app)
