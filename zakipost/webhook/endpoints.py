"""``/v1/webhooks``: endpoints that receive signed events, their deliveries log, retry, test."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from zakipost.auth.dependencies import ApiAccount
from zakipost.db.session import ReadSessionDep, SessionDep
from zakipost.dependencies import SettingsDep, VaultDep
from zakipost.media import Resolver
from zakipost.models import WebhookEndpoint
from zakipost.schemas import AUTH_ERRORS, Envelope, error_responses, ok
from zakipost.webhook import service as webhook_service
from zakipost.webhook.schemas import (
    DeliveryOut,
    DeliveryPage,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookUpdate,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"], responses=error_responses(*AUTH_ERRORS))


def _resolver(request: Request) -> Resolver | None:
    # Tests put a fake DNS here; None: the system's resolver.
    resolver: Resolver | None = getattr(request.app.state, "webhook_resolver", None)
    return resolver


def _out(endpoint: WebhookEndpoint) -> WebhookOut:
    return WebhookOut.model_validate(endpoint)


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> WebhookCreated:
    return WebhookCreated.model_validate({**_out(endpoint).model_dump(), "secret": secret})


@router.post(
    "",
    summary="Add a webhook endpoint; its signing secret is shown in this answer only",
    status_code=201,
    response_model=Envelope[WebhookCreated],
    responses=error_responses(422),
)
async def create_webhook(
    body: WebhookCreate,
    request: Request,
    account: ApiAccount,
    session: SessionDep,
    settings: SettingsDep,
    vault: VaultDep,
) -> Envelope[WebhookCreated]:
    """Events are POSTed to ``url`` signed per Standard Webhooks (``webhook-id``,
    ``webhook-timestamp``, ``webhook-signature``); see docs/webhooks.md."""
    endpoint, secret = await webhook_service.create(
        session, settings, vault, account.id, body, resolver=_resolver(request)
    )
    return ok(_with_secret(endpoint, secret), "Webhook created; copy the secret now.")


@router.get(
    "", summary="The account's webhook endpoints", response_model=Envelope[list[WebhookOut]]
)
async def list_webhooks(account: ApiAccount, session: ReadSessionDep) -> Envelope[list[WebhookOut]]:
    return ok([_out(e) for e in await webhook_service.list_for(session, account.id)])


@router.get(
    "/{webhook_id}",
    summary="One webhook endpoint",
    response_model=Envelope[WebhookOut],
    responses=error_responses(404),
)
async def get_webhook(
    webhook_id: uuid.UUID, account: ApiAccount, session: ReadSessionDep
) -> Envelope[WebhookOut]:
    return ok(_out(await webhook_service.get_for(session, account.id, webhook_id)))


@router.patch(
    "/{webhook_id}",
    summary="Change a webhook endpoint, switch it on or off, or rotate its secret",
    response_model=Envelope[WebhookCreated | WebhookOut],
    responses=error_responses(404, 422),
)
async def update_webhook(
    webhook_id: uuid.UUID,
    body: WebhookUpdate,
    request: Request,
    account: ApiAccount,
    session: SessionDep,
    settings: SettingsDep,
    vault: VaultDep,
) -> Envelope[WebhookCreated | WebhookOut]:
    """With ``rotate_secret`` the answer carries the new ``secret`` (once); the previous
    secret keeps signing beside it for ``overlap_seconds`` (default 24 h)."""
    endpoint, secret = await webhook_service.update(
        session, settings, vault, account.id, webhook_id, body, resolver=_resolver(request)
    )
    if secret is not None:
        return ok(_with_secret(endpoint, secret), "Secret rotated; copy the new one now.")
    return ok(_out(endpoint), "Webhook updated.")


@router.delete(
    "/{webhook_id}",
    summary="Delete a webhook endpoint and its deliveries log",
    status_code=204,
    response_class=Response,
    responses=error_responses(404),
)
async def delete_webhook(
    webhook_id: uuid.UUID, account: ApiAccount, session: SessionDep
) -> Response:
    await webhook_service.delete(session, account.id, webhook_id)
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries",
    summary="The endpoint's deliveries, newest first",
    response_model=Envelope[DeliveryPage],
    responses=error_responses(404, 422),
)
async def list_deliveries(
    webhook_id: uuid.UUID,
    account: ApiAccount,
    session: ReadSessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
) -> Envelope[DeliveryPage]:
    page, following = await webhook_service.deliveries(
        session,
        account.id,
        webhook_id,
        limit=limit,
        cursor=webhook_service.Cursor.decode(cursor) if cursor else None,
    )
    return ok(
        DeliveryPage(
            items=[DeliveryOut.model_validate(d) for d in page],
            next_cursor=following.encode() if following else None,
        )
    )


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/retry",
    summary="Send a delivery again now (same webhook-id and body)",
    response_model=Envelope[DeliveryOut],
    responses=error_responses(404),
)
async def retry_delivery(
    webhook_id: uuid.UUID,
    delivery_id: uuid.UUID,
    account: ApiAccount,
    session: SessionDep,
    settings: SettingsDep,
) -> Envelope[DeliveryOut]:
    delivery = await webhook_service.retry(session, settings, account.id, webhook_id, delivery_id)
    return ok(DeliveryOut.model_validate(delivery), "Delivery queued again.")


@router.post(
    "/{webhook_id}/test",
    summary="Send a webhook.test event to this endpoint only",
    status_code=202,
    response_model=Envelope[DeliveryOut],
    responses=error_responses(404, 409),
)
async def test_webhook(
    webhook_id: uuid.UUID, account: ApiAccount, session: SessionDep
) -> Envelope[DeliveryOut]:
    delivery = await webhook_service.send_test(session, account.id, webhook_id)
    return ok(DeliveryOut.model_validate(delivery), "Test event queued.")
