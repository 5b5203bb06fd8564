"""Errors of the media store and of the public ``/media/`` route."""

from __future__ import annotations

from zakipost.errors import AppError, NotFound


class StoredObjectNotFound(NotFound):
    """No media with this key (it may have expired and been deleted)."""

    code = "media_not_found"


class InvalidKey(StoredObjectNotFound):
    """No media with this key: it is not a key ZakiPost hands out."""


class RangeNotSatisfiable(AppError):
    """The requested byte range is not within the file; see Content-Range for its size."""

    status_code = 416
    code = "range_not_satisfiable"
