"""HTTP ``Range`` requests (RFC 9110 §14) for one byte range, as media players and TikTok send."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


class RangeNotSatisfiable(Exception):
    """The ``Range`` asks for bytes the object does not have (answer 416)."""


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``start`` to ``end``, both inclusive."""

    start: int
    end: int

    @property
    def length(self) -> int:
        """How many bytes the range holds."""
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        """The ``Content-Range`` header value of a 206 answer."""
        return f"bytes {self.start}-{self.end}/{size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range ``header`` asks for within ``size`` bytes, or ``None`` for the whole.

    Units other than bytes, and several ranges at once, are answered with the whole object
    (a server may ignore ``Range``). A malformed, reversed or unsatisfiable byte range
    raises :class:`RangeNotSatisfiable`.
    """
    if not header:
        return None
    unit, _, specs = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None
    parts = specs.split(",")
    if len(parts) > 1:
        return None
    match = _SPEC.match(parts[0])
    if match is None or match.groups() == ("", ""):
        raise RangeNotSatisfiable(header)
    first, last = match.groups()
    if first == "":
        # A suffix: the last N bytes.
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size or (last != "" and int(last) < start):
        raise RangeNotSatisfiable(header)
    return ByteRange(start, end)
