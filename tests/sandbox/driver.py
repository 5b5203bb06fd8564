"""Drives the sandbox over HTTP only, as a third-party TikTok client (plus `/_sandbox/` calls).

Deliberately shares no code with `zakipost.sandbox`: the chunk plan here is a second,
independent reading of TikTok's rules.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from zakipost.sandbox import SandboxConfig

from .helper import Helper
from .media import make_video

MIB = 1 << 20
PUBLIC = {
    "privacy_level": "PUBLIC_TO_EVERYONE",
    "brand_content_toggle": False,
    "brand_organic_toggle": False,
}
SELF_ONLY = {
    "privacy_level": "SELF_ONLY",
    "brand_content_toggle": False,
    "brand_organic_toggle": False,
}


def chunk_plan(size: int, chunk_size: int | None = None) -> tuple[int, int]:
    """(chunk_size, total_chunk_count): whole file under 5 MiB, else floor(size / chunk)."""
    if chunk_size is None or size < 5 * MIB:
        return size, 1
    return chunk_size, size // chunk_size


def chunk_ranges(size: int, chunk_size: int, count: int) -> list[tuple[int, int]]:
    ranges = [(i * chunk_size, (i + 1) * chunk_size - 1) for i in range(count - 1)]
    ranges.append(((count - 1) * chunk_size, size - 1))
    return ranges


def form_fields(page: str) -> tuple[str, dict[str, Any]]:
    """The consent form's action and what a browser would submit (defaults kept)."""
    action = html.unescape(re.search(r'<form method="post" action="([^"]*)"', page).group(1))  # type: ignore[union-attr]
    fields: dict[str, Any] = {}
    for tag in re.findall(r"<input [^>]*>", page):
        attrs = dict(re.findall(r'(\w+)="([^"]*)"', tag))
        kind, name, value = (
            attrs.get("type"),
            attrs.get("name"),
            html.unescape(attrs.get("value", "")),
        )
        if name is None or " disabled" in tag:
            continue
        if kind in ("radio", "checkbox"):
            if " checked" in tag:
                fields.setdefault(name, []).append(value)
        else:
            fields[name] = value
    return action, fields


@dataclass
class Driver:
    http: httpx.AsyncClient
    config: SandboxConfig
    helper: Helper
    helper_base: str
    mode: str

    @property
    def media_base(self) -> str:
        return f"{self.helper_base}/media/"

    # -- control -------------------------------------------------------------------------------

    async def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, f"/_sandbox/{path}", **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    async def configure(self, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self.control("PATCH", "config", json=changes)
        return result

    async def advance_clock(self, seconds: float) -> None:
        await self.control("POST", "clock/advance", json={"seconds": seconds})

    async def posts(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.control("GET", "posts")
        return result

    async def post(self, publish_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.control("GET", f"posts/{publish_id}")
        return result

    async def settle(self) -> None:
        await self.control("POST", "settle", json={})

    async def webhooks(self) -> list[dict[str, Any]]:
        await self.settle()
        result: list[dict[str, Any]] = await self.control("GET", "webhooks")
        return result

    async def creators(self) -> dict[str, dict[str, Any]]:
        return {c["username"]: c for c in await self.control("GET", "creators")}

    # -- tokens ----------------------------------------------------------------------------------

    async def token(
        self, creator: str = "sandbox.creator", scopes: list[str] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"creator": creator}
        if scopes is not None:
            body["scopes"] = scopes
        result: dict[str, Any] = await self.control("POST", "tokens", json=body)
        return result

    async def auth(
        self, creator: str = "sandbox.creator", scopes: list[str] | None = None
    ) -> dict[str, str]:
        token = await self.token(creator, scopes)
        return {"Authorization": f"Bearer {token['access_token']}"}

    async def consent(
        self,
        scope: str = "user.info.basic,video.publish",
        *,
        decision: str = "approve",
        **extra: str,
    ) -> dict[str, str]:
        """Open the consent page, submit its form as a browser would, return the callback query."""
        params = {
            "client_key": self.config.client_key,
            "scope": scope,
            "redirect_uri": self.config.redirect_uris[0],
            "state": "st-123",
            "response_type": "code",
            **extra,
        }
        page = await self.http.get("/v2/auth/authorize/", params=params)
        assert page.status_code == 200, page.text
        action, fields = form_fields(page.text)
        fields["decision"] = decision
        answer = await self.http.post(action, data=fields)
        assert answer.status_code in (302, 303), answer.text
        return callback_query(answer.headers["location"])

    async def exchange(self, code: str, **extra: str) -> httpx.Response:
        form = {
            "client_key": self.config.client_key,
            "client_secret": self.config.client_secret,
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": self.config.redirect_uris[0],
            **extra,
        }
        return await self.http.post("/v2/oauth/token/", data=form)

    # -- content posting ---------------------------------------------------------------------------

    async def api(self, path: str, headers: dict[str, str], body: Any = None) -> httpx.Response:
        return await self.http.post(path, headers=headers, json=body)

    async def init_file(
        self,
        headers: dict[str, str],
        size: int,
        chunk_size: int | None = None,
        *,
        post_info: dict[str, Any] | None = None,
        inbox: bool = False,
    ) -> httpx.Response:
        chunk, count = chunk_plan(size, chunk_size)
        body: dict[str, Any] = {
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": size,
                "chunk_size": chunk,
                "total_chunk_count": count,
            }
        }
        if not inbox:
            body["post_info"] = PUBLIC if post_info is None else post_info
        path = "/v2/post/publish/inbox/video/init/" if inbox else "/v2/post/publish/video/init/"
        return await self.api(path, headers, body)

    async def put_all(
        self,
        upload_url: str,
        data: bytes,
        chunk_size: int | None = None,
        content_type: str = "video/mp4",
    ) -> list[httpx.Response]:
        chunk, count = chunk_plan(len(data), chunk_size)
        responses = []
        for first, last in chunk_ranges(len(data), chunk, count):
            responses.append(
                await self.http.put(
                    upload_url,
                    content=data[first : last + 1],
                    headers={
                        "Content-Type": content_type,
                        "Content-Range": f"bytes {first}-{last}/{len(data)}",
                    },
                )
            )
        return responses

    async def upload_video(
        self,
        headers: dict[str, str],
        data: bytes | None = None,
        chunk_size: int | None = None,
        *,
        post_info: dict[str, Any] | None = None,
        inbox: bool = False,
    ) -> str:
        """Init + every chunk; returns the publish_id (asserts the happy path)."""
        data = make_video() if data is None else data
        init = await self.init_file(
            headers, len(data), chunk_size, post_info=post_info, inbox=inbox
        )
        assert init.status_code == 200, init.text
        responses = await self.put_all(init.json()["data"]["upload_url"], data, chunk_size)
        assert responses[-1].status_code == 201, responses[-1].text
        publish_id: str = init.json()["data"]["publish_id"]
        return publish_id

    async def status(self, headers: dict[str, str], publish_id: str) -> dict[str, Any]:
        response = await self.api(
            "/v2/post/publish/status/fetch/", headers, {"publish_id": publish_id}
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data


def callback_query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def error_of(response: httpx.Response) -> tuple[int, str]:
    """(HTTP status, error.code) of a v2 envelope, checking the envelope's shape on the way."""
    body = response.json()
    assert set(body) <= {"data", "error"}, body
    assert set(body["error"]) == {"code", "message", "log_id"}, body
    assert re.fullmatch(r"\d{14}[0-9A-F]{20}", body["error"]["log_id"]), body
    return response.status_code, body["error"]["code"]
