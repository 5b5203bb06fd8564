"""The store an endpoint works with: built from settings once per app, on first use."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from zakipost.storage.base import MediaStore
from zakipost.storage.factory import create_store


def get_store(request: Request) -> MediaStore:
    """``app.state.media_store``, created from the app's settings when first needed.

    Tests (or the composition root) may set ``app.state.media_store`` to another store."""
    store: MediaStore | None = getattr(request.app.state, "media_store", None)
    if store is None:
        store = create_store(request.app.state.settings)
        request.app.state.media_store = store
    return store


StoreDep = Annotated[MediaStore, Depends(get_store)]
