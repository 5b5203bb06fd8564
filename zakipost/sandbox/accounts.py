"""OAuth state layer: creators, consents (grants), codes and tokens (api-facts.md §2)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .errors import ApiError, OAuthError
from .models import AccessToken, AuthCode, Creator, Grant, RefreshToken
from .tokenlog import ExpiredTokenUse, RefreshAttempt, TokenLog, token_digest

if TYPE_CHECKING:
    from .state import Sandbox

_HEX64 = re.compile(r"[0-9a-f]{64}")
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


class ConsentPageError(Exception):
    """An authorize request answered by an error on the consent screen, nothing sent back.

    Always for a bad client_key or redirect_uri; for unapproved scopes when configured so.
    """


class AuthorizeRedirectError(Exception):
    """An authorize request error that goes back to the redirect_uri as `error=`."""

    def __init__(self, redirect_uri: str, state: str | None, error: str, description: str) -> None:
        self.redirect_uri = redirect_uri
        self.state = state
        self.error = error
        self.description = description
        super().__init__(description)


@dataclass
class AuthorizeRequest:
    client_key: str
    redirect_uri: str
    scopes: list[str]
    state: str
    code_challenge: str | None


@dataclass
class Auth:
    """The caller of a v2 API: its token, consent and creator."""

    token: AccessToken
    grant: Grant
    creator: Creator


class Accounts:
    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.creators: dict[str, Creator] = {}
        self.grants: dict[str, Grant] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.codes: dict[str, AuthCode] = {}
        self.log = TokenLog()

    # -- creators -------------------------------------------------------------------------

    def find_creator(self, ref: str) -> Creator | None:
        """By open_id or username."""
        if ref in self.creators:
            return self.creators[ref]
        return next((c for c in self.creators.values() if c.username == ref), None)

    def add_creator(self, creator: Creator) -> Creator:
        if self.find_creator(creator.username) is not None:
            raise ValueError(f"creator {creator.username!r} already exists")
        self.creators[creator.open_id] = creator
        return creator

    # -- authorize ------------------------------------------------------------------------

    def validate_authorize(self, params: Mapping[str, str]) -> AuthorizeRequest:
        config = self.sb.config
        client_key = params.get("client_key", "")
        if client_key != config.client_key:
            raise ConsentPageError("client_key")
        redirect_uri = params.get("redirect_uri", "")
        if redirect_uri not in config.redirect_uris:
            raise ConsentPageError("redirect_uri")
        state = params.get("state")

        def fail(error: str, description: str) -> AuthorizeRedirectError:
            return AuthorizeRedirectError(redirect_uri, state, error, description)

        if params.get("response_type") != "code":
            raise fail("unsupported_response_type", "The response_type must be code.")
        scopes: list[str] = []
        for scope in params.get("scope", "").split(","):
            if scope not in scopes:
                scopes.append(scope)
        # One unapproved scope fails the whole consent (§2.0): nothing is granted.
        problem = self.scope_problem(scopes)
        if problem is not None:
            if config.unapproved_scope_error == "consent_screen":
                raise ConsentPageError("scope")
            raise fail("invalid_scope", problem)
        if not state:
            raise fail("invalid_request", "The state parameter is required.")
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method")
        # TikTok's PKCE: hex-encoded SHA-256 of the verifier, method S256 only.
        pkce = challenge is not None or method is not None
        if pkce and (method != "S256" or challenge is None or not _HEX64.fullmatch(challenge)):
            raise fail("invalid_request", "Code verifier or code challenge is invalid.")
        return AuthorizeRequest(client_key, redirect_uri, scopes, state, challenge)

    def scope_problem(self, scopes: list[str]) -> str | None:
        """Why the app may not ask for `scopes` (the `invalid_scope` description), or None."""
        if not [s for s in scopes if s]:
            return "The scope parameter is required."
        approved = self.sb.config.approved_scopes
        unapproved = [s for s in scopes if s not in approved]
        if unapproved:
            return (
                "The app is not approved for the requested scopes: "
                + ",".join(repr(s) for s in unapproved)
                + "."
            )
        return None

    def check_scopes(self, scopes: list[str]) -> None:
        """Raise `invalid_scope` unless the app is approved for every one of `scopes`."""
        problem = self.scope_problem(scopes)
        if problem is not None:
            raise OAuthError("invalid_scope", problem)

    def issue_code(self, req: AuthorizeRequest, creator: Creator, scopes: list[str]) -> str:
        now = self.sb.clock.now()
        code = self.sb.ids.auth_code()
        self.codes[code] = AuthCode(
            code=code,
            client_key=req.client_key,
            redirect_uri=req.redirect_uri,
            open_id=creator.open_id,
            scopes=scopes,
            expires_at=now + timedelta(seconds=self.sb.config.code_ttl_seconds),
            code_challenge=req.code_challenge,
        )
        return code

    # -- token endpoint -------------------------------------------------------------------

    def _check_client(self, form: Mapping[str, str]) -> None:
        config = self.sb.config
        if not form.get("client_key"):
            raise OAuthError("invalid_request", "Client key is missed in request.")
        if form["client_key"] != config.client_key:
            raise OAuthError("invalid_client", "Client key is invalid.")
        if not form.get("client_secret"):
            raise OAuthError("invalid_request", "Client secret is missed in request.")
        if form["client_secret"] != config.client_secret:
            raise OAuthError("invalid_client", "Client secret is invalid.")

    def token(self, form: Mapping[str, str], *, answer_lost: bool = False) -> dict[str, Any]:
        """The token endpoint; `answer_lost` marks a refresh whose answer will be cut off."""
        if form.get("grant_type") == "refresh_token":
            return self._recorded_refresh(form, answer_lost)
        self._check_client(form)
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "Grant type is missed in request.")
        if grant_type == "authorization_code":
            return self._exchange_code(form)
        if grant_type == "client_credentials":
            raise OAuthError(
                "unauthorized_client", "The client is not authorized to use this grant type."
            )
        raise OAuthError("unsupported_grant_type", "The grant type is not supported.")

    def _exchange_code(self, form: Mapping[str, str]) -> dict[str, Any]:
        now = self.sb.clock.now()
        value = form.get("code")
        if not value:
            raise OAuthError("invalid_request", "Authorization code is missed in request.")
        code = self.codes.get(value)
        if code is None or code.client_key != form["client_key"]:
            raise OAuthError("invalid_grant", "Authorization code is invalid.")
        if code.used:
            raise OAuthError("invalid_grant", "Authorization code has been used.")
        if now >= code.expires_at:
            raise OAuthError("invalid_grant", "Authorization code is expired.")
        if form.get("redirect_uri") != code.redirect_uri:
            raise OAuthError(
                "invalid_request", "Redirect_uri is not matched with the uri when requesting code."
            )
        if code.code_challenge is not None:
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).hexdigest()
            if not _VERIFIER.fullmatch(verifier) or digest != code.code_challenge:
                raise OAuthError("invalid_request", "Code verifier or code challenge is invalid.")
        code.used = True
        creator = self.creators.get(code.open_id)
        if creator is None:
            raise OAuthError("invalid_grant", "Authorization code is invalid.")
        return self.grant(creator, code.scopes)

    def grant(self, creator: Creator, scopes: list[str]) -> dict[str, Any]:
        """Record a consent and mint its first token pair (also the test shortcut)."""
        now = self.sb.clock.now()
        grant = Grant(
            id=self.sb.ids.opaque(16),
            client_key=self.sb.config.client_key,
            open_id=creator.open_id,
            scopes=list(scopes),
            created_at=now,
        )
        self.grants[grant.id] = grant
        refresh = RefreshToken(
            self.sb.ids.refresh_token(),
            grant.id,
            now + timedelta(seconds=self.sb.config.refresh_token_ttl_seconds),
        )
        self.refresh_tokens[refresh.token] = refresh
        return self._token_response(grant, refresh)

    def _token_response(self, grant: Grant, refresh: RefreshToken) -> dict[str, Any]:
        now = self.sb.clock.now()
        access = AccessToken(
            self.sb.ids.access_token(),
            grant.id,
            now + timedelta(seconds=self.sb.config.access_token_ttl_seconds),
        )
        self.access_tokens[access.token] = access
        return {
            "access_token": access.token,
            "expires_in": self.sb.config.access_token_ttl_seconds,
            "open_id": grant.open_id,
            # Counts down from the original consent: refreshing never extends it.
            "refresh_expires_in": max(0, int((refresh.expires_at - now).total_seconds())),
            "refresh_token": refresh.token,
            "scope": ",".join(grant.scopes),
            "token_type": "Bearer",
        }

    def _recorded_refresh(self, form: Mapping[str, str], answer_lost: bool) -> dict[str, Any]:
        value = form.get("refresh_token")
        known = self.refresh_tokens.get(value) if value else None
        grant = self.grants.get(known.grant_id) if known else None
        attempt = RefreshAttempt(
            at=self.sb.clock.now(),
            refresh_token_sha256=token_digest(value) if value else None,
            outcome="",
            open_id=grant.open_id if grant else None,
            answer_lost=answer_lost,
        )
        self.log.refreshes.append(attempt)
        try:
            self._check_client(form)
            body = self._refresh(form)
        except OAuthError as err:
            attempt.outcome = err.error
            raise
        attempt.outcome = "rotated" if body["refresh_token"] != value else "refreshed"
        return body

    def _refresh(self, form: Mapping[str, str]) -> dict[str, Any]:
        now = self.sb.clock.now()
        value = form.get("refresh_token")
        if not value:
            raise OAuthError("invalid_request", "Refresh token is missed in request.")
        refresh = self.refresh_tokens.get(value)
        grant = self.grants.get(refresh.grant_id) if refresh else None
        if refresh is None or grant is None or refresh.revoked or grant.revoked_at is not None:
            raise OAuthError("invalid_grant", "Refresh token is invalid or expired.")
        if now >= refresh.expires_at:
            raise OAuthError("invalid_grant", "Refresh token is invalid or expired.")
        if self.sb.config.revoke_access_token_on_refresh:
            for token in self.access_tokens.values():
                if token.grant_id == grant.id:
                    token.revoked = True
        if self.sb.config.refresh_token_rotation:
            refresh.revoked = True
            refresh = RefreshToken(self.sb.ids.refresh_token(), grant.id, refresh.expires_at)
            self.refresh_tokens[refresh.token] = refresh
        return self._token_response(grant, refresh)

    def revoke(self, form: Mapping[str, str]) -> Grant | None:
        """`/v2/oauth/revoke/`: the whole consent goes (the app leaves the user's list)."""
        self._check_client(form)
        value = form.get("token")
        if not value:
            raise OAuthError("invalid_request", "Token is missed in request.")
        access = self.access_tokens.get(value)
        if access is None:
            return None
        grant = self.grants.get(access.grant_id)
        if grant is None or grant.revoked_at is not None:
            return None
        self.revoke_grant(grant)
        return grant

    def revoke_grant(self, grant: Grant) -> None:
        grant.revoked_at = self.sb.clock.now()
        for token in self.access_tokens.values():
            if token.grant_id == grant.id:
                token.revoked = True
        for refresh in self.refresh_tokens.values():
            if refresh.grant_id == grant.id:
                refresh.revoked = True

    def active_grants(self, open_id: str) -> list[Grant]:
        return [g for g in self.grants.values() if g.open_id == open_id and g.revoked_at is None]

    def expire_token(self, value: str) -> bool:
        token = self.access_tokens.get(value)
        if token is None:
            return False
        token.expires_at = self.sb.clock.now()
        return True

    # -- v2 API authentication ------------------------------------------------------------

    def authenticate(self, authorization: str | None, endpoint: str) -> Auth:
        invalid = ApiError("access_token_invalid")
        if not authorization:
            raise invalid
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise invalid
        token = self.access_tokens.get(value.strip())
        if token is None:
            raise invalid
        grant = self.grants.get(token.grant_id)
        now = self.sb.clock.now()
        if now >= token.expires_at:
            open_id = grant.open_id if grant else ""
            self.log.expired_uses.append(ExpiredTokenUse(now, endpoint, open_id, token.expires_at))
            raise invalid
        if token.revoked:
            raise invalid
        if grant is None or grant.revoked_at is not None:
            raise invalid
        creator = self.creators.get(grant.open_id)
        if creator is None:
            raise invalid
        return Auth(token, grant, creator)
