"""posts: typed pipeline state, backfill (options copied into the new columns)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 19:01:00

Posts in flight keep every value: what the caller asked goes to ``request``, what preflight
resolved to ``plan``, prepared images to ``prepared_photos``, and the crash-safety flags to
their own columns. The downgrade writes them back into ``options``.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

posts = sa.table(
    "posts",
    sa.column("id", sa.Uuid()),
    sa.column("kind", sa.String()),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("options", sa.JSON()),
    sa.column("request", sa.JSON()),
    sa.column("plan", sa.JSON()),
    sa.column("prepared_photos", sa.JSON()),
    sa.column("init_attempted_at", sa.DateTime(timezone=True)),
    sa.column("media_path_owned", sa.Boolean()),
    sa.column("step_failures", sa.Integer()),
)

PLAN_KEYS = (
    "privacy_level",
    "disable_comment",
    "disable_duet",
    "disable_stitch",
    "creator_nickname",
    "max_video_post_duration_sec",
)
PREPARED_KEYS = ("prepared_key", "public_url", "width", "height", "size", "sha256")


def split_options(options: dict[str, Any]) -> dict[str, Any]:
    """The new columns' values for one post's ``options``."""
    photos = list(options.get("photos") or [])
    prepared = []
    for photo in photos:  # images are prepared in order: keep the prepared prefix
        if "prepared_key" not in photo:
            break
        prepared.append({k: photo.get(k) for k in PREPARED_KEYS})
    plan = {k: options[k] for k in PLAN_KEYS if k in options}
    return {
        "request": {
            "on_daily_cap": options.get("on_daily_cap") or "defer",
            "media_key": options.get("media_key"),
            "photos": [{"url": p.get("url"), "media_key": p.get("media_key")} for p in photos],
            "photo_cover_index": int(options.get("photo_cover_index") or 0),
            "auto_add_music": bool(options.get("auto_add_music")),
        },
        "plan": plan or None,
        "prepared_photos": prepared,
        "init_attempted": bool(options.get("init_attempted")),
        "media_path_owned": bool(options.get("media_path_owned", True)),
        "step_failures": int(options.get("step_failures") or 0),
    }


def join_options(
    kind: str,
    request: dict[str, Any] | None,
    plan: dict[str, Any] | None,
    prepared: list[dict[str, Any]] | None,
    *,
    init_attempted: bool,
    media_path_owned: bool,
    step_failures: int,
) -> dict[str, Any]:
    """``options`` as the code before 0006 wrote it, from the new columns."""
    request = request or {}
    options: dict[str, Any] = {"on_daily_cap": request.get("on_daily_cap") or "defer"}
    if request.get("media_key"):
        options["media_key"] = request["media_key"]
    if kind == "photo":
        photos = []
        for index, source in enumerate(request.get("photos") or []):
            photo = {k: v for k, v in source.items() if v is not None}
            if index < len(prepared or []):
                photo.update((prepared or [])[index])
            photos.append(photo)
        options["photos"] = photos
        options["photo_cover_index"] = request.get("photo_cover_index") or 0
        options["auto_add_music"] = bool(request.get("auto_add_music"))
    options.update({k: v for k, v in (plan or {}).items() if v is not None})
    if init_attempted:
        options["init_attempted"] = True
    if not media_path_owned:
        options["media_path_owned"] = False
    if step_failures:
        options["step_failures"] = step_failures
    return options


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(posts.c.id, posts.c.updated_at, posts.c.options).where(
            posts.c.request.is_(None)
        )
    ).all()
    for row in rows:
        values = split_options(row.options or {})
        bind.execute(
            sa.update(posts)
            .where(posts.c.id == row.id)
            .values(
                request=values["request"],
                plan=values["plan"],
                prepared_photos=values["prepared_photos"],
                # When the init was attempted is not known; the row's last write is after it.
                init_attempted_at=row.updated_at if values["init_attempted"] else None,
                media_path_owned=values["media_path_owned"],
                step_failures=values["step_failures"],
            )
        )


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            posts.c.id,
            posts.c.kind,
            posts.c.request,
            posts.c.plan,
            posts.c.prepared_photos,
            posts.c.init_attempted_at,
            posts.c.media_path_owned,
            posts.c.step_failures,
        )
    ).all()
    for row in rows:
        options = join_options(
            row.kind,
            row.request,
            row.plan,
            row.prepared_photos,
            init_attempted=row.init_attempted_at is not None,
            media_path_owned=bool(row.media_path_owned),
            step_failures=int(row.step_failures or 0),
        )
        bind.execute(
            sa.update(posts)
            .where(posts.c.id == row.id)
            .values(options=options, request=None, plan=None, prepared_photos=None)
        )
