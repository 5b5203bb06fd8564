"""Every domain router, under /v1."""

from __future__ import annotations

from fastapi import APIRouter

from zakipost.account.endpoints import router as account_router
from zakipost.api_key.endpoints import router as api_key_router

router = APIRouter(prefix="/v1")
router.include_router(account_router)
router.include_router(api_key_router)
