"""Structured logging with a processor that redacts secrets wherever they appear.

Redaction works on three levels, because a secret can reach a log line by name
(``access_token=...`` as a field), by value inside another string (an upload URL,
an exception message), or as a value we know at runtime (an app's client secret):

1. fields whose name looks secret are replaced whole, at any depth;
2. token-shaped substrings (TikTok's ``act.``/``rft.``/``clt.`` tokens, ``upload_token=``,
   ``client_secret=``, bearer credentials) are masked inside every string;
3. values registered with :func:`register_secret` are masked inside every string.
Standard-library loggers (uvicorn, httpx, alembic) go through the same processors.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

REDACTED = "[REDACTED]"

_SECRET_KEY = re.compile(
    r"(secret|token|password|passwd|authorization|cookie|api[_-]?key|credential|code_verifier)",
    re.IGNORECASE,
)
# Keys that contain a secret-looking word but carry no secret.
_SAFE_KEYS = frozenset({"token_type", "tokens_refreshed", "internal_token", "tiktok_account_id"})

_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(act|rft|clt)\.[^\s\"'&,;]+"), r"\1." + REDACTED),
    (
        re.compile(
            r"((?:upload_token|client_secret|access_token|refresh_token|code_verifier|password)"
            r"[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;]+",
            re.IGNORECASE,
        ),
        r"\1" + REDACTED,
    ),
    # OAuth codes and states travel in callback query strings (access logs).
    (re.compile(r"([?&](?:code|state)=)[^&\s\"']+"), r"\1" + REDACTED),
    (re.compile(r"(Bearer\s+)[^\s\"',;]+", re.IGNORECASE), r"\1" + REDACTED),
    (re.compile(r"\bzp_(sk|live|test)_[A-Za-z0-9]+"), r"zp_\1_" + REDACTED),
)
# Matches wherever any of the patterns above does (each in its own flags): one search tells
# whether a string needs the substitutions at all. Almost no logged string does, and a log
# line holds about ten strings, each otherwise costing five substitutions (most of a line's
# formatting time, measured: docs/benchmarks.md).
_ANY_SECRET_PATTERN = re.compile(
    "|".join(
        f"(?i:{pattern.pattern})" if pattern.flags & re.IGNORECASE else f"(?:{pattern.pattern})"
        for pattern, _ in _SECRET_PATTERNS
    )
)

_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask this exact value in every future log line (short values are ignored)."""
    if value and len(value) >= 8:
        _registered.add(value)


def redact_text(text: str) -> str:
    if _ANY_SECRET_PATTERN.search(text) is not None:
        for pattern, replacement in _SECRET_PATTERNS:
            text = pattern.sub(replacement, text)
    for secret in _registered:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _redact_value(key: str | None, value: Any) -> Any:
    if key is not None and key not in _SAFE_KEYS and _SECRET_KEY.search(key):
        return REDACTED if value not in (None, "") else value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return type(value)(_redact_value(None, v) for v in value)
    if isinstance(value, BaseException):
        return redact_text(repr(value))
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the last line of defence before anything is written."""
    for key in list(event_dict):
        event_dict[key] = _redact_value(None if key == "event" else key, event_dict[key])
    return event_dict


def _redact_rendered(_logger: Any, _method: str, event_dict: Any) -> Any:
    # Exception tracebacks are rendered to text late; mask them after rendering too.
    if isinstance(event_dict, str):
        return redact_text(event_dict)
    return event_dict


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (it may be swapped after setup)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: str = "INFO", *, json: bool = False) -> None:
    """Route structlog and the standard library through the redacting processors."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    # Redaction runs once per line, in the formatter below, which every record (structlog's
    # and the standard library's, such as uvicorn's access line) goes through; running it
    # in the shared chain too cost a second pass over every field of every line.
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
            _redact_rendered,
        ],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_zakipost", False):
            root.removeHandler(existing)
    handler._zakipost = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # SQL parameters hold CSRF tokens, password hashes and ciphertexts: the engine hides
    # them (hide_parameters), and aiosqlite's DEBUG lines, which print every statement with
    # its parameters, are never written.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
