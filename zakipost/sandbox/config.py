"""Sandbox settings: one dataclass, every field overridable by `ZAKIPOST_SANDBOX_<FIELD>`.

Where TikTok's behaviour is observed, the default is what TikTok does; where it is not,
the default is the strictest reading. Either way a field switches to the alternative
(see README.md, "Readings").
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Progression = Literal["immediate", "manual", "time"]
MbUnit = Literal["binary", "decimal", "safe"]
ErrorHttpStatus = Literal["documented", "always_200"]
PendingShareMode = Literal["rolling", "outstanding"]
RateLimitScope = Literal["token", "app"]
EventSpelling = Literal["publicaly", "publicly"]
UnapprovedScopeError = Literal["redirect", "consent_screen"]

ALL_SCOPES: tuple[str, ...] = (
    "user.info.basic",
    "user.info.profile",
    "user.info.stats",
    "video.list",
    "video.publish",
    "video.upload",
)
# What a new app is approved for today (Login Kit + Content Posting, api-facts.md §2.0).
POSTING_SCOPES: tuple[str, ...] = ("user.info.basic", "video.publish", "video.upload")
# The Display API product, no longer offered to new apps.
DISPLAY_SCOPES: tuple[str, ...] = ("user.info.profile", "user.info.stats", "video.list")

DEFAULT_RATE_LIMITS: dict[str, int] = {
    "creator_info": 20,
    "video.init": 6,
    "inbox.init": 6,
    "content.init": 6,
    "status.fetch": 30,
    "user.info": 600,
    "video.list": 600,
    "video.query": 600,
}

ENV_PREFIX = "ZAKIPOST_SANDBOX_"


@dataclass
class SandboxConfig:
    """Everything that shapes the emulated TikTok; defaults follow api-facts.md."""

    # The registered app (a TikTok sandbox app: keys start with "sbaw", 18 chars).
    client_key: str = "sbawzakipostsandbx"
    client_secret: str = "zakipostsandboxsecret0123456789a"  # noqa: S105 (public fake)
    # Deviation: TikTok web apps need https redirect URIs; offline use needs localhost.
    redirect_uris: list[str] = field(
        default_factory=lambda: [
            "http://127.0.0.1:8000/connect/tiktok/callback",
            "http://localhost:8000/connect/tiktok/callback",
        ]
    )
    # Approved products: `app_scopes`, plus DISPLAY_SCOPES when the Display API is approved.
    app_scopes: list[str] = field(default_factory=lambda: list(POSTING_SCOPES))
    display_api_approved: bool = False
    # Observed: asking for an unapproved scope fails the whole consent, usually as a redirect
    # with `error=invalid_scope`, sometimes as an error on the consent screen.
    unapproved_scope_error: UnapprovedScopeError = "redirect"
    audited: bool = True
    # None: unlimited for audited apps, 5 distinct creators per 24 h when unaudited.
    active_user_cap: int | None = None

    # Publish status progression.
    progression: Progression = "time"
    processing_delay_seconds: float = 2.0
    processing_seconds_per_gb: float = 60.0
    # Observed: a public post's id comes after PUBLISH_COMPLETE, once moderated (usually
    # within a minute, sometimes hours later); "immediate" mode moderates at once.
    moderation_delay_seconds: float = 30.0
    # "time" mode only: the creator posts inbox drafts by itself after this delay.
    inbox_autopost_seconds: float | None = None

    # OAuth.
    code_ttl_seconds: int = 600
    # §2.0: 2-hour access tokens, 180-day refresh tokens counted from the consent.
    access_token_ttl_seconds: int = 7_200
    refresh_token_ttl_seconds: int = 15_552_000
    refresh_token_rotation: bool = True
    # Unobserved either way: the strict reading, a refresh kills the previous access token.
    revoke_access_token_on_refresh: bool = True
    oauth_error_status: int = 200
    # §2.0: revoke answers `{}` as JSON; True keeps the older empty body.
    revoke_empty_body: bool = False

    # Envelope statuses: "documented" 4xx/5xx, or TikTok's sometimes-seen HTTP 200.
    error_http_status: ErrorHttpStatus = "documented"

    # Uploads and pulls.
    # "MB" is undefined: only chunk sizes valid under both readings (strict).
    mb_unit: MbUnit = "safe"
    upload_url_ttl_seconds: int = 3600
    verified_url_prefixes: list[str] = field(default_factory=list)
    verified_domains: list[str] = field(default_factory=list)
    allow_http_pull: bool = False
    pull_timeout_seconds: float = 3600.0
    storage_dir: str | None = None
    # False: delete media files once checked (size and sha256 are kept) for long runs.
    keep_media: bool = True

    # Media checks.
    media_checks: bool = True
    min_video_duration_seconds: float = 3.0
    max_video_duration_seconds: int = 600

    # Request rules.
    # Observed: TikTok accepts a post_info without it (True: the doc table's "required").
    require_brand_content_toggle: bool = False
    photo_media_upload_requires_privacy: bool = True
    enforce_branded_content_privacy: bool = True

    # Quotas and rate limits.
    daily_post_cap: int = 15
    pending_share_cap: int = 5
    # Observed: drafts count while not yet posted (and for 24 h at most), not every init.
    pending_share_mode: PendingShareMode = "outstanding"
    rate_limits_enabled: bool = True
    rate_limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    init_rate_limit_shared: bool = False
    display_rate_limit_scope: RateLimitScope = "app"

    # Webhooks.
    webhook_url: str | None = None
    # False: webhooks only go to public addresses (not loopback, private, link-local...);
    # set at start only (ZAKIPOST_SANDBOX_WEBHOOK_ALLOW_PRIVATE_NETWORKS), never at run time.
    webhook_allow_private_networks: bool = False
    webhook_duplicate_rate: float = 0.0
    webhook_retry_base_seconds: float = 1.0
    webhook_retry_window_seconds: float = 259_200.0
    webhook_max_attempts: int | None = None
    webhook_timeout_seconds: float = 10.0
    no_longer_available_spelling: EventSpelling = "publicaly"

    # Faults.
    seed: int | None = None
    fault_timeout_seconds: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SandboxConfig:
        """Build a config from `ZAKIPOST_SANDBOX_<FIELD>` variables (unset ones keep defaults)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = parse_field(f.name, raw)
        return cls(**values)

    def updated(self, changes: Mapping[str, Any]) -> SandboxConfig:
        """A copy with `changes` applied, each value checked against the field's type."""
        known = {f.name for f in dataclasses.fields(self)}
        checked: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown config field {name!r}")
            checked[name] = coerce_field(name, value)
        return dataclasses.replace(self, **checked)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def approved_scopes(self) -> list[str]:
        """Every scope the app may request, in TikTok's order."""
        approved = set(self.app_scopes)
        if self.display_api_approved:
            approved.update(DISPLAY_SCOPES)
        ordered = [s for s in ALL_SCOPES if s in approved]
        return ordered + sorted(approved - set(ordered))


@functools.cache
def _hints() -> dict[str, Any]:
    return typing.get_type_hints(SandboxConfig)


def _field_type(name: str) -> Any:
    return _hints()[name]


def parse_field(name: str, raw: str) -> Any:
    """Parse an environment string for field `name`."""
    hint = _field_type(name)
    args = typing.get_args(hint)
    optional = type(None) in args and typing.get_origin(hint) in (typing.Union, types.UnionType)
    if optional and raw.strip().lower() in ("", "none", "null"):
        return None
    inner = next((a for a in args if a is not type(None)), hint) if optional else hint
    origin = typing.get_origin(inner)
    if origin in (list, dict):
        text = raw.strip()
        if origin is list and not text.startswith("["):
            return coerce_field(name, [p.strip() for p in text.split(",") if p.strip()])
        return coerce_field(name, json.loads(text))
    if inner is bool:
        return coerce_field(name, raw.strip().lower() in ("1", "true", "yes", "on"))
    if inner is int:
        return coerce_field(name, int(raw))
    if inner is float:
        return coerce_field(name, float(raw))
    return coerce_field(name, raw)


def coerce_field(name: str, value: Any) -> Any:
    """Check `value` against field `name`'s type; ints are accepted for floats."""
    hint = _field_type(name)
    if _matches(hint, value):
        if hint is float or float in typing.get_args(hint):
            return float(value) if isinstance(value, int) and not isinstance(value, bool) else value
        return value
    raise ValueError(f"invalid value for {name}: {value!r}")


def _matches(hint: Any, value: Any) -> bool:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(a, value) for a in args)
    if origin is Literal:
        return value in args
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is list:
        return isinstance(value, list) and all(_matches(args[0], v) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(
            _matches(args[0], k) and _matches(args[1], v) for k, v in value.items()
        )
    return False
