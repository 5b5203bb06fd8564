"""Sign up, log in (rate-limited), log out, and the account settings page (password)."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from zakipost.account import service as account_service
from zakipost.dashboard import login_limit
from zakipost.dashboard.sessions import (
    PRE_SESSION_CSRF_COOKIE,
    SESSION_COOKIE,
    CurrentUser,
    FormUser,
    OptionalUser,
    check_csrf,
    close_other_sessions,
    close_session,
    cookie_options,
    drop_expired_sessions,
    open_session,
    set_session_cookie,
)
from zakipost.dashboard.web import app_error_fields, render
from zakipost.dependencies import SessionmakerDep, SettingsDep, VaultDep
from zakipost.errors import AppError
from zakipost.kit.clock import utcnow

router = APIRouter()


async def home(user: OptionalUser) -> RedirectResponse:
    """``/dashboard``: compose when signed in, else the login page."""
    return RedirectResponse(HOME if user else "/dashboard/login", status_code=303)


HOME = "/dashboard/compose"
# Where a new account lands: the checklist from sign-up to a first post.
START = "/dashboard/start"
SIGNUP_CLOSED = "Sign-up is closed on this ZakiPost; ask its operator for an account."
MISMATCH = "The two new passwords differ; type the same one twice."


def _pre_session_csrf(request: Request) -> str:
    return request.cookies.get(PRE_SESSION_CSRF_COOKIE) or secrets.token_urlsafe(24)


def _with_csrf_cookie(response: Response, token: str, settings: SettingsDep) -> Response:
    response.set_cookie(PRE_SESSION_CSRF_COOKIE, token, max_age=3600, **cookie_options(settings))  # type: ignore[arg-type]
    return response


def safe_next(path: str | None) -> str:
    # Only local dashboard paths, so the login form cannot be turned into an open redirect.
    if path and path.startswith("/dashboard") and "//" not in path and "\\" not in path:
        return path
    return HOME


def _signed_in(response: Response, token: str, settings: SettingsDep) -> Response:
    set_session_cookie(response, token, settings)
    response.delete_cookie(PRE_SESSION_CSRF_COOKIE, path="/")
    return response


def _login_page(
    request: Request,
    settings: SettingsDep,
    *,
    status: int = 200,
    next_path: str = "",
    email: str = "",
    errors: list[str] | None = None,
    notices: list[str] | None = None,
) -> Response:
    token = _pre_session_csrf(request)
    page = render(
        request,
        "login.html",
        status,
        title="Log in",
        csrf_token=token,
        next=safe_next(next_path),
        email=email,
        signup_open=settings.security.allow_signup,
        errors=errors or [],
        notices=notices or [],
    )
    return _with_csrf_cookie(page, token, settings)


@router.get("/login")
async def login_page(
    request: Request, settings: SettingsDep, user: OptionalUser, next: str = "", expired: str = ""
) -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    notices = ["Your session has ended; log in again."] if expired else []
    return _login_page(request, settings, next_path=next, notices=notices)


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
    address = request.client.host if request.client else None
    now = utcnow()
    # The attempt is reserved and committed first, the password checked (slow, in a
    # thread) with no transaction open, and only a success writes again.
    async with sessionmaker() as session, session.begin():
        reserved = await login_limit.reserve(session, email, address, now)
        candidate = None
        if isinstance(reserved, login_limit.Reservation):
            candidate = await account_service.login_candidate(session, email)
    if isinstance(reserved, login_limit.LoginBlocked):
        page = _login_page(
            request, settings, status=429, next_path=next, email=email,
            errors=[reserved.message(now)],
        )  # fmt: skip
        page.headers["Retry-After"] = str(max(1, int((reserved.retry_at - now).total_seconds())))
        return page
    account = None
    if await account_service.password_matches(candidate, password) and candidate is not None:
        async with sessionmaker() as session, session.begin():
            account = await account_service.get(session, candidate.account_id)
            # A password changed while this one was being checked wins.
            if account.password_hash != candidate.password_hash:
                account = None
            else:
                await login_limit.succeeded(session, reserved)
                await drop_expired_sessions(session, account.id)
                cookie, _ = await open_session(session, account)
    if account is None:
        return _login_page(
            request, settings, status=400, next_path=next, email=email,
            errors=["That email and password do not match an account."],
        )  # fmt: skip
    return _signed_in(RedirectResponse(safe_next(next), status_code=303), cookie, settings)


def _signup_page(
    request: Request,
    settings: SettingsDep,
    *,
    status: int = 200,
    email: str = "",
    field_errors: dict[str, str] | None = None,
) -> Response:
    token = _pre_session_csrf(request)
    page = render(
        request,
        "signup.html",
        status,
        title="Sign up",
        csrf_token=token,
        email=email,
        field_errors=field_errors or {},
    )
    return _with_csrf_cookie(page, token, settings)


@router.get("/signup")
async def signup_page(request: Request, settings: SettingsDep) -> Response:
    if not settings.security.allow_signup:
        return render(request, "base.html", 403, title="Sign-up is closed", errors=[SIGNUP_CLOSED])
    return _signup_page(request, settings)


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
        return render(request, "base.html", 403, title="Sign-up is closed", errors=[SIGNUP_CLOSED])
    # Every field is checked before anything is said, so all their errors show at once.
    fields: dict[str, str] = {}
    for check, value in (
        (account_service.normalize_email, email),
        (account_service.check_password, password),
    ):
        try:
            check(value)
        except AppError as exc:
            fields.update({name: exc.message for name in app_error_fields(exc)})
    if fields:
        return _signup_page(request, settings, status=400, email=email, field_errors=fields)
    try:
        # Hashed before the transaction, off the event loop.
        prepared = await account_service.new_password(password)
        async with sessionmaker() as session, session.begin():
            account, _ = await account_service.create(
                session,
                settings,
                vault,
                email=email,
                password=prepared,
                points_grant=settings.billing.signup_points,
            )
            cookie, _ = await open_session(session, account)
    except AppError as exc:
        fields = {name: exc.message for name in app_error_fields(exc)} or {"email": exc.message}
        return _signup_page(request, settings, status=400, email=email, field_errors=fields)
    return _signed_in(RedirectResponse(START, status_code=303), cookie, settings)


@router.post("/logout")
async def logout(user: FormUser, sessionmaker: SessionmakerDep) -> Response:
    async with sessionmaker() as session, session.begin():
        await close_session(session, user.session_id)
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/settings")
async def settings_page(request: Request, user: CurrentUser) -> Response:
    changed = request.query_params.get("password") == "changed"
    notices = ["Password changed; every other browser was signed out."] if changed else []
    return render(
        request, "settings.html", title="Account", nav="settings", user=user, notices=notices
    )


@router.post("/settings/password")
async def change_password(
    request: Request,
    user: FormUser,
    sessionmaker: SessionmakerDep,
    current_password: str = Form(""),
    new_password: str = Form(""),
    new_password_again: str = Form(""),
) -> Response:
    fields: dict[str, str] = {}
    if new_password != new_password_again:
        fields["new_password_again"] = MISMATCH
    else:
        try:
            # Both slow steps (checking the current password, hashing the new one) run in a
            # thread before the transaction that stores the hash.
            checked_hash = user.account.password_hash
            await account_service.check_current_password(user.account, current_password)
            prepared = await account_service.new_password(new_password)
            async with sessionmaker() as session, session.begin():
                await account_service.change_password(
                    session, user.account.id, checked_hash=checked_hash, new=prepared
                )
                await close_other_sessions(session, user.account.id, keep=user.session_id)
        except AppError as exc:
            # The service names the new password "password".
            names = list(app_error_fields(exc)) or ["new_password"]
            fields = {("new_password" if n == "password" else n): exc.message for n in names}
    if fields:
        return render(
            request,
            "settings.html",
            400,
            title="Account",
            nav="settings",
            user=user,
            field_errors=fields,
        )
    return RedirectResponse("/dashboard/settings?password=changed", status_code=303)
