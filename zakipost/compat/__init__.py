"""Other products' APIs over ZakiPost's services: code written for Zernio's or CodivUpload's
SDK runs against ZakiPost with only its base URL changed. Each surface translates a request
into the calls ZakiPost's own ``/v1`` endpoints make and the results back into the shapes that
product's SDK parses; nothing here publishes on its own. See docs/compat.md."""

from __future__ import annotations

from fastapi import APIRouter

from zakipost.compat.codivupload.endpoints import PREFIX as CODIVUPLOAD_PREFIX
from zakipost.compat.codivupload.endpoints import router as codivupload_router
from zakipost.compat.codivupload.errors import error_response as codivupload_error
from zakipost.compat.zernio.endpoints import PREFIX as ZERNIO_PREFIX
from zakipost.compat.zernio.endpoints import router as zernio_router
from zakipost.compat.zernio.errors import error_response as zernio_error
from zakipost.error_handlers import ErrorShape

router = APIRouter()
router.include_router(zernio_router)
router.include_router(codivupload_router)

ERROR_SHAPES: tuple[tuple[str, ErrorShape], ...] = (
    (ZERNIO_PREFIX, zernio_error),
    (CODIVUPLOAD_PREFIX, codivupload_error),
)
"""For :func:`zakipost.error_handlers.install_error_handlers`: errors under each prefix in
that product's shape."""

__all__ = ["ERROR_SHAPES", "router"]
