"""Who may use the control API (`/_sandbox/`): it mints tokens without consent, reads the
app's secret and every creator's posts, so it is for the machine the sandbox runs on, or for
callers holding the token the operator set.

A loopback client counts as local only when no proxy relayed the request: a reverse proxy on
the same machine connects from loopback on behalf of anyone, and says so in `Forwarded`,
`X-Forwarded-For` or `X-Real-IP`.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

from starlette.requests import Request

TOKEN_HEADER = "X-Sandbox-Control-Token"  # noqa: S105 (a header name)
_RELAY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


@dataclass(frozen=True)
class ControlAccess:
    """Loopback clients may use the control API; with `token` set, so may any request that
    sends it (`Authorization: Bearer <token>` or `X-Sandbox-Control-Token: <token>`)."""

    token: str | None = None

    def __repr__(self) -> str:
        return f"ControlAccess(token={'***' if self.token else None})"

    def allows(self, request: Request) -> bool:
        return _is_local(request) or self._has_token(request)

    def _has_token(self, request: Request) -> bool:
        if not self.token:
            return False
        sent = request.headers.get(TOKEN_HEADER)
        if sent is None:
            scheme, _, value = request.headers.get("authorization", "").partition(" ")
            sent = value.strip() if scheme.lower() == "bearer" else None
        return sent is not None and hmac.compare_digest(sent.encode(), self.token.encode())


def _is_local(request: Request) -> bool:
    if request.client is None:
        return False
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_loopback:
        return False
    return not any(name in request.headers for name in _RELAY_HEADERS)
