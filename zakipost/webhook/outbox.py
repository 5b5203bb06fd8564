"""Recorded domain events become webhook deliveries in the transaction that made them.

``zakipost.events.record`` keeps events in the session; just before that session commits,
:func:`_before_commit` takes them, finds the account's enabled endpoints subscribed to each
type, and adds one delivery row and one ``webhook.deliver`` job per (endpoint, event), all in
the committing transaction: the change, its deliveries and their jobs commit together or not
at all, so a crash after the commit loses no event and a rollback sends none.

The hook runs inside ``AsyncSession.commit()``, on the synchronous session, under the async
session's greenlet: plain synchronous ORM calls work there; nothing may be awaited. It stays
small on purpose (two statements per event): the payload is built by the delivery's first
attempt, which freezes it into the row (see docs/webhooks.md, "Payloads").
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction

from zakipost import events
from zakipost.db.engine import AppSession
from zakipost.kit.clock import utcnow
from zakipost.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from zakipost.worker import enqueue_sync

DELIVER_TASK = "webhook.deliver"


def delivery_job_lock(delivery_id: uuid.UUID) -> str:
    """The ``lock`` and ``queueing_lock`` of a delivery's job: one attempt at a time."""
    return f"webhook-delivery:{delivery_id}"


def add_delivery(
    session: Session,
    endpoint: WebhookEndpoint,
    *,
    event_id: uuid.UUID,
    event_type: str,
    subject_kind: str,
    subject_id: uuid.UUID,
    details: dict[str, Any],
    now: dt.datetime,
    retry_until: dt.datetime | None = None,
) -> WebhookDelivery:
    """A pending delivery of one event to ``endpoint`` and its job, in ``session``'s
    transaction (synchronous: commit hooks call it, and async code through ``run_sync``)."""
    delivery = WebhookDelivery(
        id=uuid.uuid4(),
        endpoint_id=endpoint.id,
        account_id=endpoint.account_id,
        event_id=event_id,
        event_type=event_type,
        subject_kind=subject_kind,
        subject_id=subject_id,
        details=details,
        status=DeliveryStatus.pending,
        attempts=0,
        next_attempt_at=now,
        retry_until=retry_until,
        created_at=now,
        updated_at=now,
    )
    session.add(delivery)
    lock = delivery_job_lock(delivery.id)
    enqueue_sync(
        session,
        DELIVER_TASK,
        {"delivery_id": str(delivery.id)},
        run_at=now,
        lock=lock,
        queueing_lock=lock,
        now=now,
    )
    return delivery


def _before_commit(session: Session) -> None:
    pending = events.take_pending(session)
    if not pending:
        return
    now = utcnow()
    by_account: dict[uuid.UUID, list[WebhookEndpoint]] = {}
    for recorded in pending:
        endpoints = by_account.get(recorded.account_id)
        if endpoints is None:
            endpoints = list(
                session.scalars(
                    select(WebhookEndpoint).where(
                        WebhookEndpoint.account_id == recorded.account_id,
                        WebhookEndpoint.enabled.is_(True),
                    )
                )
            )
            by_account[recorded.account_id] = endpoints
        event_id = uuid.uuid4()
        for endpoint in endpoints:
            if endpoint.wants(recorded.type):
                add_delivery(
                    session,
                    endpoint,
                    event_id=event_id,
                    event_type=recorded.type,
                    subject_kind=recorded.subject_kind,
                    subject_id=recorded.subject_id,
                    details=_json_details(recorded.details),
                    now=now,
                )


def _json_details(details: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, dt.datetime) else value
        for key, value in details.items()
    }


def _after_soft_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    # Every rollback() of the outermost transaction, even one that never reached the
    # database (nothing was executed yet): its events did not happen. A savepoint's
    # rollback keeps them, as its outer transaction may still commit.
    if previous_transaction.parent is None:
        events.discard_pending(session)


event.listen(AppSession, "before_commit", _before_commit)
event.listen(AppSession, "after_soft_rollback", _after_soft_rollback)
