"""Error pages in the dashboard's style, each with the next thing to do: a page asked for by
a browser gets one (404, 500, a refused form, a service error on a dashboard page), while the
API and every other client keep the JSON envelope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from zakipost.dashboard.sessions import CsrfRejected, DashboardUser, optional_user
from zakipost.dashboard.web import render
from zakipost.errors import AppError
from zakipost.logging import get_logger

log = get_logger(__name__)

Handler = Callable[[Request, Exception], Awaitable[Response]]
Action = tuple[str, str]

DASHBOARD = "/dashboard"
HOME_ACTION: Action = (DASHBOARD, "Back to the dashboard")
ACCOUNTS_ACTION: Action = ("/dashboard/accounts", "Back to connected accounts")
# Paths whose errors are always JSON, whoever asks: the API and the media TikTok pulls.
_MACHINE_PREFIXES = ("/v1/", "/media/", "/healthz", "/readyz", "/metrics", "/openapi.json")


def wants_page(request: Request) -> bool:
    """Whether an error should be a page: dashboard and callback paths, and any other
    path a browser navigates to (it asks for text/html); never the API."""
    path = request.url.path
    if path.startswith(_MACHINE_PREFIXES):
        return False
    if path == DASHBOARD or path.startswith((DASHBOARD + "/", "/connect/")):
        return True
    return "text/html" in request.headers.get("accept", "")


def message_page(
    request: Request,
    status: int,
    title: str,
    details: Sequence[str],
    *,
    actions: Sequence[Action] = (HOME_ACTION,),
    user: DashboardUser | None = None,
    retry_connect: bool = False,
) -> Response:
    """A page saying what went wrong and offering what to do next. ``retry_connect`` adds a
    "Try again" that starts Connect TikTok afresh (for a signed-in user)."""
    return render(
        request,
        "error.html",
        status,
        title=title,
        details=list(details),
        actions=list(actions),
        user=user,
        retry_connect=retry_connect,
    )


def _local_referer(request: Request) -> str | None:
    """The dashboard page the request came from, when it is one of ours."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc != request.url.netloc:
        return None
    if referer.path.startswith(DASHBOARD) and "//" not in referer.path:
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return None


def _again(request: Request) -> Action | None:
    """ "Try again": the same page for a GET, the page the form was on for a POST."""
    if request.method == "GET":
        query = request.url.query
        return (request.url.path + (f"?{query}" if query else ""), "Try again")
    back = _local_referer(request)
    return (back, "Back to the form") if back else None


async def _csrf_rejected(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CsrfRejected)
    back = _local_referer(request)
    return message_page(
        request,
        403,
        "Form expired",
        [
            (
                "This form expired or was not sent from ZakiPost. Nothing was changed: open the "
                "form again (it gets a fresh token) and send it once more."
            )
        ],
        actions=[(back, "Open the form again"), HOME_ACTION] if back else [HOME_ACTION],
    )


def _with_pages(api_handler: Handler, *, for_app_errors: bool = False) -> Handler:
    async def handler(request: Request, exc: Exception) -> Response:
        # Service errors become pages only on dashboard pages: elsewhere (the callback)
        # they are the API's own answers.
        on_dashboard = request.url.path.startswith(DASHBOARD + "/")
        if (for_app_errors and not on_dashboard) or not wants_page(request):
            return await api_handler(request, exc)
        try:
            return await _page_for(request, exc)
        except Exception:
            log.exception("error_page_failed", error_type=type(exc).__name__)
            return await api_handler(request, exc)

    return handler


async def _page_for(request: Request, exc: Exception) -> Response:
    if isinstance(exc, AppError):
        user = await optional_user(request)
        again = _again(request)
        if exc.status_code == 404:
            return message_page(request, 404, "Not found", [exc.message], user=user)
        actions = [again, HOME_ACTION] if again else [HOME_ACTION]
        return message_page(
            request, exc.status_code, "That did not work", [exc.message], actions=actions, user=user
        )
    if isinstance(exc, StarletteHTTPException):
        if exc.status_code == 404:
            return message_page(
                request,
                404,
                "Page not found",
                [
                    f"There is no page at {request.url.path}. It may have moved, or the link has a typo."
                ],
                actions=[HOME_ACTION, ("/", "ZakiPost's home page")],
            )
        if exc.status_code == 405:
            return message_page(
                request,
                405,
                "Not a page to open this way",
                ["This address takes a form, not a visit; start again from the dashboard."],
            )
        again = _again(request)
        return message_page(
            request,
            exc.status_code,
            "That did not work",
            [str(exc.detail)],
            actions=[again, HOME_ACTION] if again else [HOME_ACTION],
        )
    # Anything else is our fault; the details go to the log, never to the page, and the
    # session is not looked up (the database may be what failed).
    again = _again(request)
    return message_page(
        request,
        500,
        "Something went wrong on our side",
        [
            (
                "ZakiPost could not finish this request; the failure has been logged. Wait a "
                "moment and try again."
            )
        ],
        actions=[again, HOME_ACTION] if again else [HOME_ACTION],
    )


def install(app: FastAPI) -> None:
    """Put page-rendering handlers in front of the API's (installed first, in
    :func:`zakipost.error_handlers.install_error_handlers`)."""
    app.add_exception_handler(CsrfRejected, _csrf_rejected)
    for kind, for_app_errors in (
        (AppError, True),
        (StarletteHTTPException, False),
        (Exception, False),
    ):
        api_handler = app.exception_handlers.get(kind)
        if api_handler is not None:
            app.add_exception_handler(
                kind,
                _with_pages(api_handler, for_app_errors=for_app_errors),  # type: ignore[arg-type]
            )
