"""``POST /tiktok/webhook``: the callback URL to register in the TikTok app's settings.

Outside /v1 and without an API key: the ``TikTok-Signature`` header (HMAC-SHA256 with the
TikTok app's client secret, api-facts.md §8) is what authenticates it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from zakipost.publishing.deps import PipelineDeps
from zakipost.schemas import Envelope, error_responses, ok
from zakipost.tiktok import SIGNATURE_HEADER
from zakipost.tiktok_webhook import service

router = APIRouter(tags=["tiktok webhooks"])


@router.post(
    "/tiktok/webhook",
    summary="TikTok's webhook events (register this URL as the TikTok app's callback)",
    description=(
        "TikTok posts its events here: `post.publish.complete`, `post.publish.failed`, "
        "`post.publish.inbox_delivered`, `post.publish.publicly_available`, "
        "`post.publish.no_longer_publicaly_available` (either spelling) and "
        "`authorization.removed`. The `TikTok-Signature` header must match the raw body "
        "(HMAC-SHA256 with the TikTok app's client secret) and be at most "
        "`ZAKIPOST_TIKTOK_WEBHOOK_TOLERANCE_SECONDS` old. A delivery seen before is answered "
        "200 and not applied again. Posts move exactly as status polling would move them; "
        "polling continues as the safety net."
    ),
    response_model=Envelope[dict[str, str]],
    responses=error_responses(400, 401),
)
async def tiktok_webhook(request: Request) -> Envelope[dict[str, str]]:
    deps: PipelineDeps = request.app.state.deps
    body = await request.body()
    event = service.verify(
        request.headers.get(SIGNATURE_HEADER),
        body,
        request.app.state.tiktok_client_secret,
        now=deps.clock(),
        tolerance=deps.settings.tiktok.webhook_tolerance_seconds,
    )
    outcome = await service.receive(deps, event, body)
    return ok({"event": event.event, "outcome": outcome}, "Received.")
