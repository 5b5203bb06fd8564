"""OAuth v2, HTTP layer: the consent page, token and revoke endpoints (api-facts.md §2)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import jinja2
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .accounts import AuthorizeRedirectError, AuthorizeRequest, ConsentPageError
from .errors import InvalidParams, OAuthError
from .faults import LOSE_ANSWER
from .web import read_body, sandbox_of

templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
)

SCOPE_TEXT = {
    "user.info.basic": "read your profile info (avatar, display name)",
    "user.info.profile": "read your bio, profile link, username and verified status",
    "user.info.stats": "read your follower, following, like and video counts",
    "video.list": "read your public videos",
    "video.publish": "post content directly to your profile",
    "video.upload": "send content to your TikTok inbox as drafts",
}
NOT_TOGGLEABLE = {"user.info.basic"}
AUTHORIZE_PARAMS = (
    "client_key",
    "scope",
    "redirect_uri",
    "state",
    "response_type",
    "code_challenge",
    "code_challenge_method",
    "disable_auto_auth",
)


def _redirect(uri: str, params: dict[str, str]) -> RedirectResponse:
    joiner = "&" if "?" in uri else "?"
    return RedirectResponse(uri + joiner + urlencode(params), status_code=302)


def _error_redirect(err: AuthorizeRedirectError) -> RedirectResponse:
    params = {"error": err.error, "error_description": err.description}
    if err.state is not None:
        params["state"] = err.state
    return _redirect(err.redirect_uri, params)


async def authorize(request: Request) -> Response:
    sb = sandbox_of(request)
    params = dict(request.query_params)
    form: FormData | None = None
    if request.method == "POST":
        form = await request.form()
        params.update(
            {k: v for k, v in form.items() if k in AUTHORIZE_PARAMS and isinstance(v, str)}
        )
    try:
        req = sb.accounts.validate_authorize(params)
    except ConsentPageError as err:
        page = templates.get_template("error.html").render(field=str(err))
        return HTMLResponse(page, status_code=400)
    except AuthorizeRedirectError as err:
        return _error_redirect(err)
    if form is None:
        return _consent_page(request, req, params)
    decision = form.get("decision")
    if decision == "deny":
        return _redirect(
            req.redirect_uri,
            {
                "error": "access_denied",
                "error_description": "The user denied the authorization request.",
                "state": req.state,
            },
        )
    if decision != "approve":
        return _error_redirect(
            AuthorizeRedirectError(
                req.redirect_uri, req.state, "invalid_request", "Missing decision."
            )
        )
    chosen = form.get("creator")
    creator = (
        sb.accounts.find_creator(chosen)
        if isinstance(chosen, str) and chosen
        else next(iter(sb.accounts.creators.values()), None)
    )
    if creator is None:
        return _error_redirect(
            AuthorizeRedirectError(
                req.redirect_uri, req.state, "invalid_request", "Unknown account."
            )
        )
    scopes = req.scopes
    if form.get("scopes_offered"):
        # Unchecked boxes are not submitted; untoggleable ones are always granted.
        picked = {v for v in form.getlist("granted_scope") if isinstance(v, str)}
        scopes = [s for s in req.scopes if s in picked or s in NOT_TOGGLEABLE]
    code = sb.accounts.issue_code(req, creator, scopes)
    return _redirect(
        req.redirect_uri, {"code": code, "scopes": ",".join(scopes), "state": req.state}
    )


def _consent_page(request: Request, req: AuthorizeRequest, params: dict[str, str]) -> HTMLResponse:
    sb = sandbox_of(request)
    hidden = [(k, params[k]) for k in AUTHORIZE_PARAMS if k in params]
    page = templates.get_template("consent.html").render(
        app_name=f"ZakiPost sandbox app ({req.client_key})",
        action=str(request.url),
        hidden=hidden,
        creators=sb.creators,
        scopes=[
            {"name": s, "text": SCOPE_TEXT.get(s, s), "toggleable": s not in NOT_TOGGLEABLE}
            for s in req.scopes
        ],
    )
    return HTMLResponse(page)


async def _form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "The request parameters are malformed.")
    try:
        raw = await read_body(request)
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except (InvalidParams, UnicodeDecodeError, ValueError) as exc:
        raise OAuthError("invalid_request", "The request parameters are malformed.") from exc


async def token(request: Request) -> Response:
    sb = sandbox_of(request)
    form = await _form(request)
    lost = form.get("grant_type") == "refresh_token" and sb.faults.take_lost_refresh_answer()
    if lost:
        # Handled in full (the token rotates); FaultMiddleware then cuts the connection.
        request.scope.setdefault("state", {})[LOSE_ANSWER] = True
    return JSONResponse(sb.accounts.token(form, answer_lost=lost))


async def revoke(request: Request) -> Response:
    sb = sandbox_of(request)
    form = await _form(request)
    grant = sb.accounts.revoke(form)
    if grant is not None:
        # 5 = "developer revoked": the token is already dead when the event arrives.
        sb.webhooks.emit("authorization.removed", grant.open_id, {"reason": 5})
        if not sb.accounts.active_grants(grant.open_id):
            sb.progression.fail_in_flight(grant.open_id, "auth_removed")
    if sb.config.revoke_empty_body:
        return Response(b"", status_code=200)
    return JSONResponse({})


routes = [
    Route("/v2/auth/authorize/", authorize, methods=["GET", "POST"]),
    Route("/v2/oauth/token/", token, methods=["POST"]),
    Route("/v2/oauth/revoke/", revoke, methods=["POST"]),
]
