"""What every dashboard page shares: the templates, rendering, and turning service errors
into messages shown next to the fields they concern."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost.errors import AppError

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

# Scripts and styles only from this server, no framing (the confirmation pages cannot be
# clickjacked); previews may show media from any link the user gives, and local files.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' https: http: data: blob:; "
    "media-src 'self' https: http: blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)

# TikTok's privacy levels, in the words TikTok's own app uses.
PRIVACY_LABELS = {
    "PUBLIC_TO_EVERYONE": "Everyone",
    "MUTUAL_FOLLOW_FRIENDS": "Friends",
    "FOLLOWER_OF_CREATOR": "Followers",
    "SELF_ONLY": "Only me",
}


def get_read_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """Sessions for pages that read around a TikTok call (no write lock held on SQLite)."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.read_sessionmaker
    return maker


ReadMakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_read_sessionmaker)]


def when(value: dt.datetime | None) -> str:
    """A moment as the dashboard writes it (UTC, to the minute)."""
    if value is None:
        return ""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def words(value: str | None) -> str:
    """``reconnect_required`` -> ``reconnect required``."""
    return (value or "").replace("_", " ")


def privacy(value: str | None) -> str:
    return PRIVACY_LABELS.get(value or "", words(value))


templates.env.filters["when"] = when
templates.env.filters["words"] = words
templates.env.filters["privacy"] = privacy


def render(request: Request, template: str, status: int = 200, /, **context: Any) -> HTMLResponse:
    context.setdefault("notices", [])
    context.setdefault("errors", [])
    context.setdefault("field_errors", {})
    context.setdefault("user", None)
    context.setdefault("nav", None)
    response = templates.TemplateResponse(request, template, context, status_code=status)
    # Dashboard pages are private to one account (some hold secrets): never cached.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def app_error_fields(exc: AppError) -> dict[str, str]:
    """The per-field messages a service error carries in ``details.fields``."""
    fields = exc.details.get("fields") if isinstance(exc.details, dict) else None
    result: dict[str, str] = {}
    for item in fields or []:
        if isinstance(item, dict) and item.get("field"):
            result[str(item["field"])] = str(item.get("message") or exc.message)
    return result


def validation_fields(exc: ValidationError, known: Iterable[str], default: str) -> dict[str, str]:
    """Pydantic's errors by field. An error about the whole request goes to the first known
    field its message names (``brand_content_toggle cannot be used with…``), else to
    ``default``."""
    names = list(known)
    result: dict[str, str] = {}
    for error in exc.errors():
        message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
        loc = [str(part) for part in error.get("loc", ())]
        field = loc[0] if loc else ""
        if field not in names:
            mentioned = [(message.find(name), name) for name in names if name in message]
            field = min(mentioned)[1] if mentioned else default
            text = message[:1].upper() + message[1:]
        else:
            text = "is required" if error.get("type") == "missing" else message
            if text[:1].islower():
                text = f"This {words(field)} {text}"
        result.setdefault(field, text.rstrip(".") + ".")
    return result
