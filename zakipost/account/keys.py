"""The shapes of ZakiPost credentials."""

from __future__ import annotations

from zakipost.kit.crypto import random_lower, random_string

CLIENT_KEY_PREFIX = "zp_key_"
NAMED_KEY_PREFIX = "zp_sk_"


def new_client_key() -> str:
    """``zp_key_`` + 32 of ``[a-z0-9]``: the public half of the fixed pair."""
    return CLIENT_KEY_PREFIX + random_lower(32)


def new_client_secret() -> str:
    """40 characters of ``[A-Za-z0-9]``: the private half of the fixed pair."""
    return random_string(40)


def new_named_key() -> str:
    return NAMED_KEY_PREFIX + random_string(40)


def secret_context(account_id: object) -> str:
    return f"accounts.client_secret:{account_id}"
