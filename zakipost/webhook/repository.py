"""The webhook tables' queries."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> WebhookRepository:
        return cls(session)

    async def endpoints_of(self, account_id: uuid.UUID) -> Sequence[WebhookEndpoint]:
        return (
            await self.session.scalars(
                select(WebhookEndpoint)
                .where(WebhookEndpoint.account_id == account_id)
                .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
            )
        ).all()

    async def endpoint(
        self, endpoint_id: uuid.UUID, *, account_id: uuid.UUID | None = None, lock: bool = False
    ) -> WebhookEndpoint | None:
        stmt = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
        if account_id is not None:
            stmt = stmt.where(WebhookEndpoint.account_id == account_id)
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt.execution_options(populate_existing=True))).first()

    async def delivery(
        self, delivery_id: uuid.UUID, *, endpoint_id: uuid.UUID | None = None, lock: bool = False
    ) -> WebhookDelivery | None:
        stmt = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
        if endpoint_id is not None:
            stmt = stmt.where(WebhookDelivery.endpoint_id == endpoint_id)
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt.execution_options(populate_existing=True))).first()

    async def deliveries_page(
        self,
        endpoint_id: uuid.UUID,
        *,
        limit: int,
        before: tuple[dt.datetime, uuid.UUID] | None = None,
    ) -> Sequence[WebhookDelivery]:
        """Newest first, keyset-paginated on (created_at, id)."""
        stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
        if before is not None:
            created_at, delivery_id = before
            stmt = stmt.where(
                or_(
                    WebhookDelivery.created_at < created_at,
                    and_(
                        WebhookDelivery.created_at == created_at, WebhookDelivery.id < delivery_id
                    ),
                )
            )
        stmt = stmt.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        return (await self.session.scalars(stmt.limit(limit))).all()

    async def delivered_since(self, endpoint_id: uuid.UUID, since: dt.datetime) -> bool:
        """Whether the endpoint took any delivery at or after ``since``."""
        found = await self.session.scalar(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.endpoint_id == endpoint_id,
                WebhookDelivery.status == DeliveryStatus.succeeded,
                WebhookDelivery.delivered_at >= since,
            )
            .limit(1)
        )
        return found is not None
