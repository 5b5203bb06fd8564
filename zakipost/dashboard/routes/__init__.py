"""Dashboard pages, one module per area; :func:`install` mounts them on the app."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from zakipost.dashboard.routes import accounts, auth, compose, keys, points, posts, webhooks
from zakipost.dashboard.sessions import CsrfRejected, SignInRequired, optional_user
from zakipost.dashboard.web import HERE, render
from zakipost.errors import AppError

PREFIX = "/dashboard"

AREAS = (auth, keys, accounts, compose, posts, points, webhooks)

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


async def _csrf_rejected(request: Request, exc: Exception) -> Response:
    return render(
        request,
        "base.html",
        403,
        title="Form expired",
        errors=[
            "This form expired or was not sent from ZakiPost; go back, reload the page and try again."
        ],
    )


def _dashboard_errors(api_handler: object) -> object:
    """Service errors raised on a dashboard page are shown as a page; elsewhere they keep
    the API's envelope."""

    async def handler(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith(PREFIX + "/") or not isinstance(exc, AppError):
            assert callable(api_handler)
            response: Response = await api_handler(request, exc)
            return response
        user = await optional_user(request)
        title = "Not found" if exc.status_code == 404 else "That did not work"
        return render(request, "base.html", exc.status_code, title=title, user=user,
                      errors=[exc.message])  # fmt: skip

    return handler


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(CsrfRejected, _csrf_rejected)
    api_handler = app.exception_handlers.get(AppError)
    if api_handler is not None:
        app.add_exception_handler(AppError, _dashboard_errors(api_handler))  # type: ignore[arg-type]
