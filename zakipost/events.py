"""Domain events: what happened to a post or a connection, recorded in the transaction that
made it happen.

Code that changes a post or a connection calls :func:`record` with the session doing the
change; whoever tells the outside world (outbound webhooks) reads the recorded events from
that same session before it commits, so an event exists exactly when its change does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

EventType = Literal[
    "post.published",
    "post.in_inbox",
    "post.failed",
    "post.unknown",
    "post.cancelled",
    "post.deferred",
    "post.link_available",
    "connection.connected",
    "connection.reconnect_required",
    "connection.expiring",
    "connection.revoked",
]

SubjectKind = Literal["post", "connection"]

_PENDING = "zakipost.events.pending"


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """``type`` happened to the post or connection ``subject_id`` of ``account_id``."""

    type: EventType
    account_id: uuid.UUID
    subject_kind: SubjectKind
    subject_id: uuid.UUID
    details: dict[str, Any] = field(default_factory=dict)


def record(session: AsyncSession | Session, event: DomainEvent) -> None:
    """Remember ``event`` as part of the session's current transaction."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    sync.info.setdefault(_PENDING, []).append(event)


def take_pending(session: Session) -> list[DomainEvent]:
    """The events recorded since the last take, removed from the session."""
    events: list[DomainEvent] = session.info.pop(_PENDING, [])
    return events


def discard_pending(session: Session) -> None:
    """Forget recorded events (their transaction rolled back)."""
    session.info.pop(_PENDING, None)


__all__ = ["DomainEvent", "EventType", "SubjectKind", "discard_pending", "record", "take_pending"]
