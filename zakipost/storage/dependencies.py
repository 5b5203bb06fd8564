"""The store an endpoint works with: the app's one store, built by the composition root."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from zakipost.storage.base import MediaStore


def get_store(request: Request) -> MediaStore:
    """``app.state.media_store``: the store the worker uses too (tests may swap it)."""
    store: MediaStore = request.app.state.media_store
    return store


StoreDep = Annotated[MediaStore, Depends(get_store)]
