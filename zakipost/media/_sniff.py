"""Telling a media file from a web page, JSON or text, by header and by the first bytes.

A sharing link (Google Drive, Dropbox) answers with a page, often labelled correctly but not
always; servers also send pages as ``application/octet-stream`` or even ``video/mp4``. Media
files start with binary headers (MP4 box sizes, the EBML magic, JPEG and PNG signatures), so
a start that is valid UTF-8 text without control bytes is not media.
"""

from __future__ import annotations

import codecs

_HTML_OPENINGS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<!--", b"<script", b"<meta")
# Control bytes that never occur in text; media headers are full of them.
_BINARY_BYTES = bytes(set(range(32)) - {9, 10, 12, 13, 27})


def refused_content_type(content_type: str) -> str | None:
    """What a non-media ``Content-Type`` announces ("a web page (text/html)"), or ``None``."""
    if content_type in ("text/html", "application/xhtml+xml"):
        return f"a web page ({content_type})"
    if content_type == "application/json" or content_type.endswith("+json"):
        return f"a JSON document ({content_type})"
    if content_type in ("application/xml", "text/xml") or content_type.endswith("+xml"):
        return f"an XML document ({content_type})"
    if content_type.startswith("text/") or content_type == "application/javascript":
        return f"a text document ({content_type})"
    return None


def sniffed_non_media(head: bytes) -> str | None:
    """What the first bytes of a body show it to be when that is not media, or ``None``."""
    if not head:
        return "an empty file"
    opening = head.lstrip(b"\xef\xbb\xbf \t\r\n\x0c")[:16].lower()
    if opening.startswith(_HTML_OPENINGS):
        return "a web page (HTML)"
    if opening.startswith(b"<?xml"):
        return "an XML document"
    if not _looks_like_text(head):
        return None
    if opening[:1] in (b"{", b"["):
        return "a JSON document"
    return "a text document"


def _looks_like_text(data: bytes) -> bool:
    if len(data.translate(None, _BINARY_BYTES)) != len(data):
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True
