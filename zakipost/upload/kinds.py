"""What media is and where its upload stands (free of the ORM: the API schemas and the
client use them)."""

from __future__ import annotations

import enum


class MediaKind(enum.StrEnum):
    video = "video"
    photo = "photo"


class MediaStatus(enum.StrEnum):
    pending = "pending"  # announced (presigned or resumable upload), not received whole yet
    ready = "ready"  # received and checked: usable by a post
    failed = "failed"  # received but refused by the checks; the file is gone
    deleted = "deleted"  # expired unused, deleted by its owner, or released after its post
