"""Build the configured store from settings (``ZAKIPOST_STORAGE_*``)."""

from __future__ import annotations

from pathlib import Path

from zakipost.config import Settings, SettingsError
from zakipost.logging import register_secret
from zakipost.storage.base import MediaStore
from zakipost.storage.local import LocalStore
from zakipost.storage.s3 import S3Store


def local_dir(settings: Settings) -> Path:
    """``ZAKIPOST_STORAGE_LOCAL_DIR``, or ``<data dir>/store``."""
    configured = settings.storage.local_dir
    return Path(configured) if configured else settings.data_dir / "store"


def staging_dir(settings: Settings) -> Path:
    """Where uploads are spooled while they are checked: beside a local store, so that
    accepting one is a rename; under the data dir with a bucket."""
    if settings.storage.backend == "local":
        return local_dir(settings) / ".staging"
    return settings.data_dir / "staging"


def public_base_url(settings: Settings) -> str:
    """``ZAKIPOST_STORAGE_PUBLIC_BASE_URL``, or where the store is readable by default:
    ``<server public url>/media`` for a local store, the bucket's own URL for S3."""
    storage = settings.storage
    if storage.public_base_url:
        return storage.public_base_url.rstrip("/")
    if storage.backend == "local":
        return f"{settings.public_url}/media"
    if storage.s3_endpoint_url:
        return f"{storage.s3_endpoint_url.rstrip('/')}/{storage.s3_bucket}"
    region = storage.s3_region or "us-east-1"
    return f"https://{storage.s3_bucket}.s3.{region}.amazonaws.com"


def create_store(settings: Settings) -> MediaStore:
    """The store ``settings`` configure: a :class:`LocalStore` or an :class:`S3Store`."""
    storage = settings.storage
    if storage.backend == "local":
        return LocalStore(local_dir(settings), public_base_url=public_base_url(settings))
    if not storage.s3_bucket:
        raise SettingsError(
            "Invalid settings:\n  ZAKIPOST_STORAGE_S3_BUCKET: required when "
            "ZAKIPOST_STORAGE_BACKEND is s3"
        )
    secret = storage.s3_secret_access_key.get_secret_value()
    if secret:
        register_secret(secret)
    return S3Store.from_settings(
        bucket=storage.s3_bucket,
        endpoint_url=storage.s3_endpoint_url,
        region=storage.s3_region,
        access_key_id=storage.s3_access_key_id,
        secret_access_key=secret,
        public_base_url=public_base_url(settings),
    )
