"""Identifiers shaped like TikTok's (api-facts.md §2.7, §3.9), drawn from a seedable RNG."""

from __future__ import annotations

import base64
import hashlib
import random
import string
from datetime import datetime

_ALNUM = string.ascii_letters + string.digits
_URLSAFE = _ALNUM + "-_"


class IdFactory:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def _pick(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def digits(self, n: int = 19) -> str:
        return str(self.rng.randint(1, 9)) + "".join(
            self.rng.choice(string.digits) for _ in range(n - 1)
        )

    def log_id(self, now: datetime) -> str:
        """14-digit UTC timestamp + 20 uppercase hex, e.g. 202210112248442CB9319E1FB30C1073F3."""
        return now.strftime("%Y%m%d%H%M%S") + "".join(
            self.rng.choice("0123456789ABCDEF") for _ in range(20)
        )

    def auth_code(self) -> str:
        # Real codes carry '*' and '!' (e.g. "...BELY*0!6410"): clients must URL-decode them.
        return f"{self._pick(_ALNUM, 40)}*{self.rng.randint(0, 9)}!{self.rng.randint(1000, 9999)}"

    def access_token(self) -> str:
        return f"act.{self._pick(_ALNUM, 48)}!{self.rng.randint(1000, 9999)}.va"

    def refresh_token(self) -> str:
        return f"rft.{self._pick(_ALNUM, 48)}!{self.rng.randint(1000, 9999)}.va"

    def publish_id(self, media: str, mode: str, source: str) -> str:
        """`{v|p}_{pub|inbox}_{file|url}~v2[-1].<19 digits>` per the observed formats."""
        kind = "v" if media == "VIDEO" else "p"
        where = "pub" if mode == "DIRECT_POST" else "inbox"
        src = "file" if source == "FILE_UPLOAD" else "url"
        version = "v2-1" if kind == "v" and where == "pub" else "v2"
        return f"{kind}_{where}_{src}~{version}.{self.digits(19)}"

    def post_id(self) -> int:
        return int("7" + self.digits(18))

    def upload_id(self) -> str:
        return self.digits(19)

    def upload_token(self) -> str:
        hexd = "0123456789abcdef"
        parts = [self._pick(hexd, n) for n in (8, 4, 4, 4, 12)]
        return "-".join(parts)

    def opaque(self, n: int = 24) -> str:
        return self._pick(_ALNUM, n)


def open_id_for(client_key: str, username: str) -> str:
    """Stable per-app user id shaped like the observed `-000…` 36-char values."""
    digest = hashlib.sha256(f"open:{client_key}:{username}".encode()).digest()
    return "-000" + base64.urlsafe_b64encode(digest).decode()[:32]


def union_id_for(username: str) -> str:
    digest = hashlib.sha256(f"union:{username}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
