"""Dashboard pages: sign up, log in and out, API keys, connected accounts."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from zakipost.account import service as account_service
from zakipost.connection import service as connection_service
from zakipost.dashboard.sessions import (
    PRE_SESSION_CSRF_COOKIE,
    SESSION_COOKIE,
    CsrfRejected,
    CurrentUser,
    OptionalUser,
    SignInRequired,
    check_csrf,
    close_session,
    cookie_options,
    open_session,
)
from zakipost.dependencies import SessionmakerDep, SettingsDep, TikTokDep, VaultDep
from zakipost.errors import AppError

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix="/dashboard", include_in_schema=False)


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("notices", [])
    context.setdefault("errors", [])
    context.setdefault("user", None)
    return templates.TemplateResponse(request, name, context, status_code=status)


def _pre_session_csrf(request: Request) -> str:
    return request.cookies.get(PRE_SESSION_CSRF_COOKIE) or secrets.token_urlsafe(24)


def _with_csrf_cookie(response: Response, token: str, settings: SettingsDep) -> Response:
    response.set_cookie(PRE_SESSION_CSRF_COOKIE, token, max_age=3600, **cookie_options(settings))  # type: ignore[arg-type]
    return response


def _safe_next(path: str | None) -> str:
    # Only local paths, so the login form cannot be turned into an open redirect.
    if path and path.startswith("/dashboard") and "//" not in path:
        return path
    return "/dashboard/accounts"


@router.get("")
async def home(user: OptionalUser) -> RedirectResponse:
    return RedirectResponse("/dashboard/accounts" if user else "/dashboard/login", status_code=303)


@router.get("/login")
async def login_page(request: Request, settings: SettingsDep, next: str = "") -> Response:
    token = _pre_session_csrf(request)
    page = render(
        request,
        "login.html",
        title="Log in",
        csrf_token=token,
        next=_safe_next(next),
        email="",
        signup_open=settings.security.allow_signup,
    )
    return _with_csrf_cookie(page, token, settings)


@router.post("/login")
async def login(
    request: Request,
    settings: SettingsDep,
    sessionmaker: SessionmakerDep,
    email: str = Form(""),
    password: str = Form(""),
    csrf_token: str = Form(""),
    next: str = Form(""),
) -> Response:
    check_csrf(request.cookies.get(PRE_SESSION_CSRF_COOKIE), csrf_token)
    async with sessionmaker() as session, session.begin():
        account = await account_service.authenticate(session, email, password)
        if account is None:
            token = _pre_session_csrf(request)
            page = render(
                request,
                "login.html",
                400,
                title="Log in",
                csrf_token=token,
                next=_safe_next(next),
                email=email,
                signup_open=settings.security.allow_signup,
                errors=["That email and password do not match an account."],
            )
            return _with_csrf_cookie(page, token, settings)
        cookie, _ = await open_session(session, account)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=14 * 86400, **cookie_options(settings))  # type: ignore[arg-type]
    response.delete_cookie(PRE_SESSION_CSRF_COOKIE, path="/")
    return response


@router.get("/signup")
async def signup_page(request: Request, settings: SettingsDep) -> Response:
    if not settings.security.allow_signup:
        return render(
            request,
            "base.html",
            403,
            title="Sign-up is closed",
            errors=["Ask the operator for an account."],
        )
    token = _pre_session_csrf(request)
    page = render(
        request, "signup.html", title="Sign up", csrf_token=token, email="", field_errors={}
    )
    return _with_csrf_cookie(page, token, settings)


@router.post("/signup")
async def signup(
    request: Request,
    settings: SettingsDep,
    vault: VaultDep,
    sessionmaker: SessionmakerDep,
    email: str = Form(""),
    password: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    check_csrf(request.cookies.get(PRE_SESSION_CSRF_COOKIE), csrf_token)
    if not settings.security.allow_signup:
        return render(
            request,
            "base.html",
            403,
            title="Sign-up is closed",
            errors=["Ask the operator for an account."],
        )
    try:
        async with sessionmaker() as session, session.begin():
            account, _ = await account_service.create(
                session,
                settings,
                vault,
                email=email,
                password=password,
                points_grant=settings.billing.signup_points,
            )
            cookie, _ = await open_session(session, account)
    except AppError as exc:
        fields = {f["field"]: f["message"] for f in exc.details.get("fields", [])}
        if exc.code == "email_taken":
            fields["email"] = exc.message
        token = _pre_session_csrf(request)
        page = render(
            request,
            "signup.html",
            400,
            title="Sign up",
            csrf_token=token,
            email=email,
            field_errors=fields or {"email": exc.message},
        )
        return _with_csrf_cookie(page, token, settings)
    response = RedirectResponse("/dashboard/keys", status_code=303)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=14 * 86400, **cookie_options(settings))  # type: ignore[arg-type]
    return response


@router.post("/logout")
async def logout(
    user: CurrentUser, sessionmaker: SessionmakerDep, csrf_token: str = Form("")
) -> Response:
    check_csrf(user.csrf_token, csrf_token)
    async with sessionmaker() as session, session.begin():
        await close_session(session, user.session_id)
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/keys")
async def keys_page(request: Request, user: CurrentUser, vault: VaultDep) -> Response:
    credentials = account_service.reveal_credentials(vault, user.account)
    response = render(
        request,
        "keys.html",
        title="API keys",
        nav="keys",
        user=user,
        client_key=credentials.client_key,
        client_secret=credentials.client_secret,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/accounts")
async def accounts_page(
    request: Request, user: CurrentUser, sessionmaker: SessionmakerDep
) -> Response:
    async with request.app.state.read_sessionmaker() as session:
        connections = await connection_service.list_for(session, user.account.id)
    notices = ["TikTok account connected."] if request.query_params.get("connected") else []
    return render(
        request,
        "accounts.html",
        title="Connected accounts",
        nav="accounts",
        user=user,
        connections=connections,
        notices=notices,
    )


@router.post("/accounts/connect")
async def connect(
    user: CurrentUser,
    settings: SettingsDep,
    vault: VaultDep,
    tiktok: TikTokDep,
    sessionmaker: SessionmakerDep,
    csrf_token: str = Form(""),
) -> Response:
    check_csrf(user.csrf_token, csrf_token)
    async with sessionmaker() as session, session.begin():
        url = await connection_service.begin_connect(session, settings, vault, tiktok, user.account)
    return RedirectResponse(url, status_code=303)


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return RedirectResponse(f"/dashboard/login?next={quote(exc.next_path)}", status_code=303)


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


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/dashboard/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(CsrfRejected, _csrf_rejected)
