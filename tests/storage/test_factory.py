"""StorageSettings (ZAKIPOST_STORAGE_*) and the store they build."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.app import make_settings
from tests.storage.s3server import MISSING
from zakipost.config import Settings, SettingsError
from zakipost.storage import LocalStore, create_store, public_base_url, staging_dir


class TestSettings:
    def test_defaults(self, tmp_path: Path) -> None:
        settings = make_settings(tmp_path)
        storage = settings.storage
        assert (storage.backend, storage.upload_ttl_hours) == ("local", 24.0)
        assert storage.max_upload_bytes == 4 * 1000**3
        store = create_store(settings)
        assert isinstance(store, LocalStore)
        assert store.root == settings.data_dir / "store"
        assert store.public_base_url == "http://127.0.0.1:8000/media"
        assert staging_dir(settings) == settings.data_dir / "store" / ".staging"

    def test_environment_variables(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.setenv("ZAKIPOST_STORAGE_BACKEND", "s3")
        monkeypatch.setenv("ZAKIPOST_STORAGE_S3_BUCKET", "media")
        monkeypatch.setenv("ZAKIPOST_STORAGE_S3_REGION", "eu-west-1")
        monkeypatch.setenv("ZAKIPOST_STORAGE_S3_SECRET_ACCESS_KEY", "s3cr3t")
        monkeypatch.setenv("ZAKIPOST_STORAGE_UPLOAD_TTL_HOURS", "2")
        monkeypatch.setenv("ZAKIPOST_STORAGE_MAX_UPLOAD_BYTES", "1000")
        settings = Settings(data_dir=tmp_path)
        storage = settings.storage
        assert (storage.backend, storage.s3_bucket, storage.s3_region) == (
            "s3",
            "media",
            "eu-west-1",
        )
        assert storage.s3_secret_access_key.get_secret_value() == "s3cr3t"
        assert (storage.upload_ttl_hours, storage.max_upload_bytes) == (2.0, 1000)
        assert public_base_url(settings) == "https://media.s3.eu-west-1.amazonaws.com"
        assert staging_dir(settings) == tmp_path / "staging"

    def test_public_base_url(self, tmp_path: Path) -> None:
        custom = make_settings(tmp_path, storage={"public_base_url": "https://cdn.example.com/m/"})
        assert public_base_url(custom) == "https://cdn.example.com/m"
        minio = make_settings(
            tmp_path,
            storage={"backend": "s3", "s3_bucket": "b", "s3_endpoint_url": "http://minio:9000/"},
        )
        assert public_base_url(minio) == "http://minio:9000/b"
        served = make_settings(tmp_path, server={"public_url": "https://zp.example.com"})
        assert public_base_url(served) == "https://zp.example.com/media"

    def test_s3_needs_a_bucket(self, tmp_path: Path) -> None:
        with pytest.raises(SettingsError, match="ZAKIPOST_STORAGE_S3_BUCKET"):
            create_store(make_settings(tmp_path, storage={"backend": "s3"}))

    def test_bad_backend_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(SettingsError, match="ZAKIPOST_STORAGE_BACKEND"):
            make_settings(tmp_path, storage={"backend": "ftp"})

    def test_s3_store_from_settings(self, tmp_path: Path) -> None:
        pytest.importorskip("boto3", reason=MISSING)
        settings = make_settings(
            tmp_path,
            storage={"backend": "s3", "s3_bucket": "b", "s3_endpoint_url": "http://127.0.0.1:9"},
        )
        store = create_store(settings)
        assert store.public_url("a" * 43 + ".jpg") == "http://127.0.0.1:9/b/" + "a" * 43 + ".jpg"
