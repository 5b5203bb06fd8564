"""Store fixtures: the same contract tests run on the local store and on S3 (moto)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.storage.s3server import make_s3_store, s3_endpoint, s3_store
from zakipost.storage import LocalStore, MediaStore

__all__ = ["s3_endpoint", "s3_store"]


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> MediaStore:
    if request.param == "local":
        return LocalStore(tmp_path / "store", public_base_url="http://testserver/media")
    return make_s3_store(request.getfixturevalue("s3_endpoint"))
