"""The built-in sandbox creators (TikTok accounts that can consent) and custom ones."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .ids import open_id_for, union_id_for
from .models import PRIVACY_LEVELS, PRIVATE_ACCOUNT_OPTIONS, PUBLIC_ACCOUNT_OPTIONS, Creator

BUILTIN_SPECS: list[dict[str, Any]] = [
    {
        # First on the consent page, hence the default choice: nothing special about it.
        "username": "sandbox.creator",
        "nickname": "Sandbox Creator",
        "bio_description": "An ordinary public account.",
        "follower_count": 1520,
        "following_count": 87,
        "likes_count": 40210,
        "is_verified": False,
    },
    {
        "username": "private.creator",
        "nickname": "Private Creator",
        "is_private": True,
        "bio_description": "A private account: no duets, no stitches.",
    },
    {
        "username": "quiet.creator",
        "nickname": "Quiet Creator",
        "comment_disabled": True,
        "bio_description": "Comments are set to 'No one'.",
    },
    {
        "username": "short.creator",
        "nickname": "Short Creator",
        "max_video_post_duration_sec": 60,
        "bio_description": "Can only post videos up to 60 seconds.",
    },
    {
        "username": "busy.creator",
        "nickname": "Busy Creator",
        "posts_last_24h": 14,
        "bio_description": "Has made 14 API posts in the last 24 hours (cap 15).",
    },
]

_FIELDS = {
    "nickname": str,
    "is_private": bool,
    "comment_disabled": bool,
    "duet_disabled": bool,
    "stitch_disabled": bool,
    "max_video_post_duration_sec": int,
    "bio_description": str,
    "is_verified": bool,
    "follower_count": int,
    "following_count": int,
    "likes_count": int,
    "app_version": str,
    "banned": bool,
}


def creator_from_spec(spec: dict[str, Any], client_key: str, now: datetime) -> Creator:
    """Build a creator from a JSON-like spec; raises ValueError on a bad field."""
    username = spec.get("username")
    if not isinstance(username, str) or not username:
        raise ValueError("username is required")
    unknown = (
        set(spec)
        - set(_FIELDS)
        - {
            "username",
            "privacy_level_options",
            "daily_post_cap",
            "posts_last_24h",
        }
    )
    if unknown:
        raise ValueError(f"unknown creator fields: {sorted(unknown)}")
    kwargs: dict[str, Any] = {}
    for name, kind in _FIELDS.items():
        if name in spec:
            value = spec[name]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ValueError(f"{name} must be {kind.__name__}")
            kwargs[name] = value
    private = bool(kwargs.get("is_private", False))
    options = spec.get("privacy_level_options")
    if options is None:
        options = list(PRIVATE_ACCOUNT_OPTIONS if private else PUBLIC_ACCOUNT_OPTIONS)
    if (
        not isinstance(options, list)
        or not options
        or any(o not in PRIVACY_LEVELS for o in options)
    ):
        raise ValueError("privacy_level_options must be a non-empty list of privacy levels")
    cap = spec.get("daily_post_cap")
    if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 0):
        raise ValueError("daily_post_cap must be a non-negative integer")
    prior = spec.get("posts_last_24h", 0)
    if not isinstance(prior, int) or isinstance(prior, bool) or prior < 0:
        raise ValueError("posts_last_24h must be a non-negative integer")
    if private:
        # TikTok reports duet/stitch as disabled for private accounts.
        kwargs.setdefault("duet_disabled", True)
        kwargs.setdefault("stitch_disabled", True)
    kwargs.setdefault("nickname", username)
    creator = Creator(
        username=username,
        open_id=open_id_for(client_key, username),
        union_id=union_id_for(username),
        privacy_level_options=list(options),
        daily_post_cap=cap,
        **kwargs,
    )
    creator.post_times = [now - timedelta(hours=1) for _ in range(prior)]
    return creator


def builtin_creators(client_key: str, now: datetime) -> list[Creator]:
    return [creator_from_spec(spec, client_key, now) for spec in BUILTIN_SPECS]
