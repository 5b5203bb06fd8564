"""The TikTok scopes ZakiPost asks for, and what to say when an app is not approved for them.

TikTok fails the whole consent when any requested scope is one the app is not approved for,
and new apps get no Display API, so the default request is what posting needs.
"""

from __future__ import annotations

from collections.abc import Sequence

SCOPES_SETTING = "ZAKIPOST_TIKTOK_SCOPES"
# What publishing needs: the creator's identity, inbox drafts and direct posts.
POSTING_SCOPES = ("user.info.basic", "video.upload", "video.publish")
# Display API (granted only to apps TikTok approved for it): without it the username
# comes from creator info instead.
PROFILE_SCOPE = "user.info.profile"


def scope_refusal(requested: Sequence[str]) -> str:
    """Why TikTok refused the consent (``invalid_scope``), for the user and the operator."""
    extra = [scope for scope in requested if scope not in POSTING_SCOPES]
    advice = f"remove {', '.join(extra)}; " if extra else ""
    posting = ",".join(f'"{scope}"' for scope in POSTING_SCOPES)
    return (
        "TikTok refused the connection: this ZakiPost server's TikTok app is not approved for "
        f"a permission it asked for ({', '.join(requested)}). The server operator must set "
        f"{SCOPES_SETTING} to only the scopes the TikTok app is approved for ({advice}posting "
        f"needs only {SCOPES_SETTING}='[{posting}]'), then connect again."
    )
