"""The opaque cursor of the API's newest-first lists (posts, webhook deliveries): the last
row's creation time and id, so a page never repeats or skips a row that was added meanwhile."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from dataclasses import dataclass

from zakipost.errors import ValidationFailed


@dataclass(frozen=True, slots=True)
class Cursor:
    created_at: dt.datetime
    row_id: uuid.UUID

    def encode(self) -> str:
        raw = f"{self.created_at.isoformat()}|{self.row_id}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            created, row_id = raw.split("|")
            created_at = dt.datetime.fromisoformat(created)
            # encode() writes the database's time in UTC; anything else was not ours, and a
            # naive or far-offset time would fail in the database's comparison instead.
            if created_at.utcoffset() != dt.timedelta(0):
                raise ValueError("not a UTC time")
            return cls(created_at, uuid.UUID(row_id))
        except (ValueError, UnicodeDecodeError):
            raise ValidationFailed("cursor is not one this API returned.") from None

    @property
    def key(self) -> tuple[dt.datetime, uuid.UUID]:
        """What the next page is older than."""
        return self.created_at, self.row_id
