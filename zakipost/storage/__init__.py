"""The media store: where uploaded media and the files TikTok pulls are kept.

:class:`MediaStore` is the interface; :class:`LocalStore` (a directory under the data dir,
served at ``/media/``) is the default and :class:`S3Store` (an S3-compatible bucket) the
alternative, chosen by ``ZAKIPOST_STORAGE_BACKEND``. :func:`create_store` builds the
configured one. Keys come from :func:`new_key`.
"""

from zakipost.storage.base import (
    BLOCK_SIZE,
    CONTENT_TYPES,
    EXTENSIONS,
    MediaStore,
    PresignedUpload,
    StoredObject,
    check_key,
    content_type_of,
    new_key,
)
from zakipost.storage.errors import InvalidKey, RangeNotSatisfiable, StoredObjectNotFound
from zakipost.storage.factory import create_store, local_dir, public_base_url, staging_dir
from zakipost.storage.local import LocalStore
from zakipost.storage.s3 import S3Store

__all__ = [
    "BLOCK_SIZE",
    "CONTENT_TYPES",
    "EXTENSIONS",
    "InvalidKey",
    "LocalStore",
    "MediaStore",
    "PresignedUpload",
    "RangeNotSatisfiable",
    "S3Store",
    "StoredObject",
    "StoredObjectNotFound",
    "check_key",
    "content_type_of",
    "create_store",
    "local_dir",
    "new_key",
    "public_base_url",
    "staging_dir",
]
