"""The scaled-out layout's rules: what a web or worker process serves, and the settings a
process apart from the others must have (docs/operations.md#scaled-out).

``zakipost web`` and ``zakipost worker`` run apart from each other (other processes, other
machines, other data directories). Two things then cannot be left to defaults:

- **the media store**: uploads land in the web's store and the worker reads them there;
  prepared photos are written by the worker and served by the web (or the bucket). A local
  store inside one process's data directory is seen by nobody else, so it is refused: use
  S3, or name a directory every process shares with ``ZAKIPOST_STORAGE_LOCAL_DIR``;
- **which TikTok**: without a TikTok app the worker talks to a sandbox, and the default
  (``<its own public URL>/sandbox``, i.e. ``http://127.0.0.1:8000/sandbox``) names a web
  server the worker does not run. A worker must be told: ``ZAKIPOST_TIKTOK_SANDBOX_URL``
  or ``ZAKIPOST_SERVER_PUBLIC_URL`` (the web's, whose mounted sandbox it then uses).
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy.engine import make_url

from zakipost.config import Settings, SettingsError
from zakipost.storage.factory import local_dir

Role = Literal["web", "worker"]

MEDIA_DOC = "docs/operations.md#media"


def database_location(settings: Settings) -> str:
    """The database in use, without its password (or any query parameter)."""
    if settings.is_sqlite:
        return "SQLite " + settings.database_url.split(":///", 1)[-1]
    url = make_url(settings.database_url)
    user = f"{url.username}@" if url.username else ""
    port = f":{url.port}" if url.port else ""
    return f"PostgreSQL postgresql://{user}{url.host or ''}{port}/{url.database or ''}"


def store_location(settings: Settings) -> str:
    """The media store, as an operator recognises it: a directory or a bucket."""
    storage = settings.storage
    if storage.backend == "local":
        return f"local directory {local_dir(settings).resolve()}"
    where = f" at {storage.s3_endpoint_url}" if storage.s3_endpoint_url else ""
    return f"S3 bucket {storage.s3_bucket}{where}"


def tiktok_location(settings: Settings) -> str:
    if settings.uses_sandbox:
        return f"the TikTok sandbox at {settings.sandbox_url}"
    return f"TikTok at {settings.tiktok_api_base_url}"


def serving(settings: Settings, *, concurrency: int) -> dict[str, Any]:
    """What a worker serves: printed at its start and kept in its ``worker_processes`` row."""
    return {
        "database": database_location(settings),
        "tiktok": tiktok_location(settings),
        "sandbox": settings.uses_sandbox,
        "store": store_location(settings),
        "concurrency": concurrency,
    }


def problems(settings: Settings, role: Role) -> list[str]:
    """Why ``settings`` cannot run ``role`` apart from the other role's processes."""
    found = []
    other = "worker" if role == "web" else "web"
    if settings.storage.backend == "local" and not settings.storage.local_dir:
        found.append(
            f"ZAKIPOST_STORAGE_BACKEND: a {role} runs apart from the {other} processes, which "
            f"cannot see a local store in this process's data directory "
            f"({local_dir(settings).resolve()}). Use ZAKIPOST_STORAGE_BACKEND=s3 with "
            "ZAKIPOST_STORAGE_S3_BUCKET (and its endpoint and keys), or set "
            "ZAKIPOST_STORAGE_LOCAL_DIR to a directory every web and worker process shares: "
            f"see {MEDIA_DOC}"
        )
    if (
        role == "worker"
        and settings.uses_sandbox
        and not settings.tiktok.sandbox_url
        and not settings.server.public_url
    ):
        found.append(
            "ZAKIPOST_TIKTOK_SANDBOX_URL: no TikTok app is configured "
            "(ZAKIPOST_TIKTOK_CLIENT_KEY), so this worker publishes to a TikTok sandbox, and "
            f"the default ({settings.sandbox_url}) is not a server this worker runs. Set "
            "ZAKIPOST_TIKTOK_SANDBOX_URL to a standalone sandbox (zakipost sandbox), or "
            "ZAKIPOST_SERVER_PUBLIC_URL to the web's URL to use the sandbox it mounts at "
            "/sandbox: see docs/operations.md#scaled-out"
        )
    return found


def check(settings: Settings, role: Role) -> None:
    """Refuse to run ``role`` apart with settings that cannot work (a SettingsError)."""
    found = problems(settings, role)
    if found:
        raise SettingsError(
            f"Cannot run zakipost {role} apart from the {'worker' if role == 'web' else 'web'}"
            ":\n  " + "\n  ".join(found)
        )


def missing_media_message(settings: Settings, key: str) -> str:
    """Why a worker cannot find a media key the web accepted."""
    return (
        f"The uploaded media {key} is not in the worker's store ({store_location(settings)}): "
        f"web and worker must share a store: see {MEDIA_DOC}"
    )
