"""Every domain router, under /v1."""

from __future__ import annotations

from fastapi import APIRouter

from zakipost.account.endpoints import router as account_router
from zakipost.api_key.endpoints import router as api_key_router
from zakipost.connection.endpoints import router as connection_router
from zakipost.post.endpoints import router as post_router
from zakipost.upload.endpoints import router as media_router
from zakipost.webhook.endpoints import router as webhook_router

router = APIRouter(prefix="/v1")
router.include_router(account_router)
router.include_router(api_key_router)
router.include_router(connection_router)
router.include_router(post_router)
router.include_router(media_router)
router.include_router(webhook_router)
