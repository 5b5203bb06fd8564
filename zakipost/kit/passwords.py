"""Passwords: argon2id.

A hash or a check costs tens of milliseconds of CPU by design: callers on the event loop use
the ``*_in_thread`` forms, and never while a database transaction is open.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# A hash of no one's password under the current parameters, made on first use (hashing at
# import would cost a production-strength hash in every process that imports this module).
_dummy_hash: str | None = None


def use_fast_hashing() -> None:
    """Cheaper argon2id parameters for the test suite (never in production)."""
    global _hasher, _dummy_hash
    _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    _dummy_hash = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def dummy_hash() -> str:
    """A hash of no one's password, with the parameters of the hasher in use."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("not-a-real-password-0000")
    return _dummy_hash


def verify_against_dummy(password: str) -> bool:
    """Spend what checking a real password costs, and refuse: for a login whose email
    matches no account, so the time taken does not tell which emails exist."""
    verify_password(dummy_hash(), password)
    return False


async def hash_password_in_thread(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def verify_password_in_thread(password_hash: str, password: str) -> bool:
    return await asyncio.to_thread(verify_password, password_hash, password)


async def verify_against_dummy_in_thread(password: str) -> bool:
    return await asyncio.to_thread(verify_against_dummy, password)
