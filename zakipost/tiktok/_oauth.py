"""TikTok's OAuth v2 quirks: ``client_key``, comma-separated scopes, hex PKCE, flat bodies."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from typing import Any, NamedTuple
from urllib.parse import urlencode

from pydantic import ValidationError

from zakipost.tiktok._errors import TikTokApiError
from zakipost.tiktok._models import TokenGrant

AUTHORIZE_PATH = "/v2/auth/authorize/"
TOKEN_PATH = "/v2/oauth/token/"  # noqa: S105
REVOKE_PATH = "/v2/oauth/revoke/"

_SCOPE_SEPARATOR = re.compile(r"[,\s]+")


class PkcePair(NamedTuple):
    """A PKCE code verifier (keep it) and its challenge (send it in the authorize URL)."""

    verifier: str
    challenge: str


def pkce_challenge(verifier: str) -> str:
    """TikTok's PKCE challenge: the hex-encoded SHA-256 of the verifier, not base64url."""
    return hashlib.sha256(verifier.encode("ascii")).hexdigest()


def make_pkce_pair() -> PkcePair:
    """A fresh random verifier (64 characters of ``[A-Za-z0-9_-]``) and its challenge."""
    verifier = secrets.token_urlsafe(48)
    return PkcePair(verifier, pkce_challenge(verifier))


def parse_scopes(value: str | None) -> list[str]:
    """Split TikTok's comma-separated scope string, dropping blanks."""
    return [scope for scope in _SCOPE_SEPARATOR.split(value or "") if scope]


def build_authorize_url(
    auth_base_url: str,
    client_key: str,
    *,
    redirect_uri: str,
    scopes: Sequence[str],
    state: str,
    code_challenge: str | None,
    disable_auto_auth: bool,
) -> str:
    """The URL of TikTok's consent page for these parameters."""
    if isinstance(scopes, str) or not scopes:
        raise ValueError("scopes must be a non-empty sequence of scope names")
    params = {
        "client_key": client_key,
        "scope": ",".join(scopes),
        "redirect_uri": redirect_uri,
        "state": state,
        "response_type": "code",
        "disable_auto_auth": "1" if disable_auto_auth else "0",
    }
    if code_challenge is not None:
        params["code_challenge"] = code_challenge
        params["code_challenge_method"] = "S256"
    return f"{auth_base_url.rstrip('/')}{AUTHORIZE_PATH}?{urlencode(params, safe=',')}"


def token_grant_from_body(body: dict[str, Any]) -> TokenGrant:
    """Read a successful token response into a ``TokenGrant``.

    Also accepts the legacy shape that wraps the same fields in ``data``.
    """
    if "access_token" not in body and isinstance(body.get("data"), dict):
        body = body["data"]
    fields = {key: value for key, value in body.items() if key != "scope"}
    fields["scopes"] = parse_scopes(body.get("scope"))
    try:
        return TokenGrant.model_validate(fields)
    except ValidationError as exc:
        # The ValidationError would echo the tokens, so only the field names are kept.
        names = ", ".join(".".join(map(str, err["loc"])) for err in exc.errors())
        raise TikTokApiError(
            f"TikTok's token response is missing or has invalid fields: {names}",
            code="unexpected_response",
        ) from None
