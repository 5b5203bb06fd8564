"""Secrets at rest: AES-256-GCM with a key id on every ciphertext, so keys can rotate.

A ciphertext reads ``v1:<key id>:<base64url(nonce || ciphertext+tag)>``. New values
are sealed with the newest key; any listed key opens old ones; re-encrypting under the
newest key is a CLI command. The context string is bound as associated data, so a
ciphertext copied into another column does not open there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = "v1"
_ALPHANUMERIC = string.ascii_letters + string.digits
_LOWER_ALPHANUMERIC = string.ascii_lowercase + string.digits


class VaultError(Exception):
    """A ciphertext cannot be opened (unknown key id, tampering, wrong context)."""


@dataclass(frozen=True, slots=True)
class MasterKey:
    key_id: str
    key: bytes

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self.key_id!r})"


def parse_master_keys(text: str) -> list[MasterKey]:
    """Parse ``id:base64key`` entries separated by commas or newlines, oldest first."""
    keys = []
    for raw in text.replace("\n", ",").split(","):
        entry = raw.strip()
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        if not sep or not key_id or not key_id.isalnum():
            raise ValueError("each master key must read '<id>:<base64 of 32 bytes>'")
        try:
            key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except ValueError:
            raise ValueError(f"master key {key_id!r} is not valid base64") from None
        if len(key) != 32:
            raise ValueError(f"master key {key_id!r} must be 32 bytes (AES-256)")
        keys.append(MasterKey(key_id, key))
    if len({k.key_id for k in keys}) != len(keys):
        raise ValueError("master key ids must be unique")
    return keys


def new_master_key(key_id: str) -> str:
    return f"{key_id}:{base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip('=')}"


def load_or_create_key_file(path: Path) -> list[MasterKey]:
    """The embedded default: a key file in the data directory, created with mode 0600."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(new_master_key("k1") + "\n")
    return parse_master_keys(path.read_text())


class Vault:
    """Seals and opens secrets under a list of master keys (the last one seals)."""

    def __init__(self, keys: list[MasterKey]) -> None:
        if not keys:
            raise ValueError("a vault needs at least one master key")
        self._keys = {k.key_id: k for k in keys}
        self._current = keys[-1]

    def __repr__(self) -> str:
        return f"Vault(current={self._current.key_id!r}, keys={len(self._keys)})"

    @property
    def current_key_id(self) -> str:
        return self._current.key_id

    def seal(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self._current.key).encrypt(nonce, plaintext.encode(), context.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{_VERSION}:{self._current.key_id}:{body}"

    def open(self, ciphertext: str, *, context: str) -> str:
        try:
            version, key_id, body = ciphertext.split(":", 2)
        except ValueError:
            raise VaultError("malformed ciphertext") from None
        if version != _VERSION:
            raise VaultError(f"unknown ciphertext version {version!r}")
        key = self._keys.get(key_id)
        if key is None:
            raise VaultError(f"no master key with id {key_id!r}")
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        try:
            plain = AESGCM(key.key).decrypt(raw[:12], raw[12:], context.encode())
        except InvalidTag:
            raise VaultError("ciphertext does not open with its key and context") from None
        return plain.decode()

    def needs_rotation(self, ciphertext: str) -> bool:
        return ciphertext.split(":", 2)[1:2] != [self._current.key_id]

    def reseal(self, ciphertext: str, *, context: str) -> str:
        return self.seal(self.open(ciphertext, context=context), context=context)


def digest(value: str) -> str:
    """SHA-256 of a high-entropy secret (API secrets, states); not for passwords."""
    return hashlib.sha256(value.encode()).hexdigest()


def digest_matches(value: str, expected_digest: str) -> bool:
    return hmac.compare_digest(digest(value), expected_digest)


def random_string(length: int, alphabet: str = _ALPHANUMERIC) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def random_lower(length: int) -> str:
    return random_string(length, _LOWER_ALPHANUMERIC)
