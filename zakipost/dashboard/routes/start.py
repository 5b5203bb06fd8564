"""Getting started: a checklist (create a key, connect TikTok, publish) that ticks itself
from what the account has, with a curl and a Python example filled with its own values."""

from __future__ import annotations

import json
from dataclasses import dataclass

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from zakipost.api_key import service as api_key_service
from zakipost.billing.readiness import readiness
from zakipost.connection import service as connection_service
from zakipost.dashboard.sessions import CurrentUser, DashboardUser, FormUser
from zakipost.dashboard.web import ReadMakerDep, app_error_fields, render
from zakipost.dependencies import SessionmakerDep, SettingsDep
from zakipost.errors import AppError
from zakipost.kit.clock import utcnow
from zakipost.models import ConnectionStatus
from zakipost.post import service as post_service

router = APIRouter(prefix="/start")

EXAMPLE_VIDEO_URL = "https://example.com/video.mp4"
FIRST_KEY_NAME = "first key"
# The privacy level of the examples: "Only me" is offered to every creator (and is all an
# unaudited TikTok app may use), so the example runs as it is.
EXAMPLE_PRIVACY = "SELF_ONLY"


@dataclass(frozen=True, slots=True)
class Example:
    """What the examples need; ``key`` is the full key only in the answer that created it."""

    api_url: str
    key: str | None
    key_hint: str
    tiktok_account_id: str | None

    @property
    def body(self) -> dict[str, str]:
        return {
            "tiktok_account_id": self.tiktok_account_id or "YOUR_TIKTOK_ACCOUNT_ID",
            "video_url": EXAMPLE_VIDEO_URL,
            "privacy_level": EXAMPLE_PRIVACY,
            "title": "My first post from ZakiPost #zakipost",
        }

    def curl(self) -> str:
        body = json.dumps(self.body).replace("'", "'\\''")
        return (
            f"export ZAKIPOST_API_KEY='{self.key or self.key_hint}'\n"
            f"curl -sS {self.api_url}/v1/tiktok/publish \\\n"
            '  -H "Authorization: Bearer $ZAKIPOST_API_KEY" \\\n'
            '  -H "Content-Type: application/json" \\\n'
            f"  -d '{body}'\n"
            "# then follow it with the publish_id it answers:\n"
            f"curl -sS {self.api_url}/v1/tiktok/publish/PUBLISH_ID \\\n"
            '  -H "Authorization: Bearer $ZAKIPOST_API_KEY"'
        )

    def python(self) -> str:
        # JSON's string literals are Python's too, and keep one kind of quote throughout.
        body = ",\n".join(f"        {json.dumps(k)}: {json.dumps(v)}" for k, v in self.body.items())
        key = (
            json.dumps(self.key)
            if self.key
            else f"{json.dumps(self.key_hint)}  # the key you copied"
        )
        return (
            "import time\n\n"
            "import httpx\n\n"
            f"API_KEY = {key}\n"
            "api = httpx.Client(\n"
            f"    base_url={json.dumps(self.api_url)},\n"
            '    headers={"Authorization": f"Bearer {API_KEY}"},\n'
            ")\n"
            "answer = api.post(\n"
            '    "/v1/tiktok/publish",\n'
            "    json={\n"
            f"{body},\n"
            "    },\n"
            ")\n"
            "answer.raise_for_status()\n"
            'publish_id = answer.json()["data"]["publish_id"]\n'
            "while True:  # until the post reaches its end\n"
            '    post = api.get(f"/v1/tiktok/publish/{publish_id}").json()["data"]\n'
            '    if post["status"] in ("published", "in_inbox", "failed", "cancelled", "unknown"):\n'
            "        break\n"
            "    time.sleep(2)\n"
            'print(publish_id, post["status"], post.get("error_message") or "")'
        )


async def _start_page(
    request: Request,
    user: DashboardUser,
    reader: ReadMakerDep,
    settings: SettingsDep,
    *,
    status: int = 200,
    new_key: str | None = None,
    field_errors: dict[str, str] | None = None,
) -> Response:
    async with reader() as session:
        keys = [
            k for k in await api_key_service.list_for(session, user.account.id) if not k.revoked_at
        ]
        connections = [
            c
            for c in await connection_service.list_for(session, user.account.id)
            if c.status is ConnectionStatus.active
        ]
        posts, _ = await post_service.list_for(session, user.account.id, limit=1)
        ready = await readiness(session, settings, user.account, utcnow())
    key_hint = f"{keys[-1].prefix}…" if keys else "zp_sk_…"
    example = Example(
        api_url=settings.public_url,
        key=new_key,
        key_hint=key_hint,
        tiktok_account_id=str(connections[0].internal_token) if connections else None,
    )
    return render(
        request,
        "start.html",
        status,
        title="Getting started",
        nav="start",
        user=user,
        key_done=bool(keys),
        key_hint=key_hint,
        new_key=new_key,
        connect_done=bool(connections),
        post_done=bool(posts),
        first_post=posts[0].post if posts else None,
        example=example,
        ready=ready,
        key_name=FIRST_KEY_NAME,
        field_errors=field_errors or {},
    )


@router.get("")
async def start_page(
    request: Request, user: CurrentUser, reader: ReadMakerDep, settings: SettingsDep
) -> Response:
    return await _start_page(request, user, reader, settings)


@router.post("/key")
async def create_key(
    request: Request,
    user: FormUser,
    sessionmaker: SessionmakerDep,
    reader: ReadMakerDep,
    settings: SettingsDep,
    name: str = Form(FIRST_KEY_NAME),
) -> Response:
    """Create a named key and show it once, filled into the examples."""
    try:
        async with sessionmaker() as session, session.begin():
            _, value = await api_key_service.create(session, user.account.id, name=name)
    except AppError as exc:
        fields = {f: exc.message for f in app_error_fields(exc)} or {"name": exc.message}
        return await _start_page(request, user, reader, settings, status=400, field_errors=fields)
    return await _start_page(request, user, reader, settings, new_key=value)
