from __future__ import annotations

from zakipost.errors import BadRequest, Conflict, NotFound, ServiceUnavailable


class ConnectionNotFound(NotFound):
    """No connected TikTok account with this id."""

    code = "tiktok_account_not_found"


class ReconnectRequired(Conflict):
    """This TikTok account must be connected again: TikTok no longer accepts its tokens."""

    code = "reconnect_required"


class ConnectionRevoked(Conflict):
    """This TikTok account was disconnected; connect it again to publish."""

    code = "tiktok_account_revoked"


class TikTokUnavailable(ServiceUnavailable):
    """TikTok did not answer in time; try again shortly."""

    code = "tiktok_unavailable"


class InvalidRedirectUrl(BadRequest):
    """redirect_url must be an absolute http(s) URL."""

    code = "invalid_redirect_url"
