"""Request bodies: refused with 413 over the limit, and credentials checked, before the app
reads them. The app is called as an ASGI app with a body source that counts what it hands
out, so "not read" is a byte count, not a memory reading."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.app import AccountWithKeys, make_settings, running_app
from zakipost.auth import dependencies
from zakipost.body_limit import limits_from

CHUNK = 64 * 1024
BIG = 45 * 1000 * 1000


@dataclass
class BodySource:
    """An ASGI ``receive`` sending ``total`` bytes in chunks; counts what the app took."""

    total: int
    taken: int = 0
    calls: int = 0

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        piece = min(CHUNK, self.total - self.taken)
        self.taken += piece
        return {"type": "http.request", "body": b" " * piece, "more_body": self.taken < self.total}


@dataclass
class Answer:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


async def call(
    app: FastAPI,
    method: str,
    path: str,
    source: BodySource,
    *,
    headers: dict[str, str] | None = None,
    declare_length: bool = True,
) -> Answer:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    raw.append((b"host", b"127.0.0.1:8000"))
    if declare_length:
        raw.append((b"content-length", str(source.total).encode()))
    else:
        raw.append((b"transfer-encoding", b"chunked"))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": raw,
        "client": ("203.0.113.9", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    answer = Answer()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = {k.decode(): v.decode() for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    await app(scope, source, send)
    return answer


JSON = {"Content-Type": "application/json"}


class TestUnauthenticatedBodies:
    async def test_a_declared_45_mb_body_is_refused_without_reading_a_byte(
        self, app: FastAPI
    ) -> None:
        source = BodySource(BIG)
        answer = await call(app, "POST", "/v1/tiktok/publish", source, headers=JSON)
        assert answer.status == 413
        assert b'"code":"payload_too_large"' in answer.body
        assert b'"success":false' in answer.body
        assert source.taken == 0

    async def test_a_chunked_body_without_credentials_is_401_before_it_is_read(
        self, app: FastAPI
    ) -> None:
        # Size unknown up front: the credentials are checked before the body is touched.
        source = BodySource(BIG)
        answer = await call(
            app, "POST", "/v1/tiktok/publish", source, headers=JSON, declare_length=False
        )
        assert answer.status == 401
        assert b'"code":"invalid_credentials"' in answer.body
        assert source.taken == 0

    async def test_wrong_credentials_are_refused_before_the_body_too(
        self, app: FastAPI, owner: AccountWithKeys
    ) -> None:
        source = BodySource(500 * 1000)
        headers = {**JSON, **owner.headers, "X-ZakiPost-Client-Secret": "x" * 40}
        answer = await call(app, "POST", "/v1/tiktok/publish", source, headers=headers)
        assert answer.status == 401
        assert source.taken == 0


class TestAuthenticatedBodies:
    async def test_a_chunked_body_stops_being_read_at_the_limit(
        self, app: FastAPI, owner: AccountWithKeys
    ) -> None:
        limit = app.state.settings.server.max_body_bytes
        source = BodySource(BIG)
        answer = await call(
            app,
            "POST",
            "/v1/tiktok/publish",
            source,
            headers={**JSON, **owner.headers},
            declare_length=False,
        )
        assert answer.status == 413
        assert b'"code":"payload_too_large"' in answer.body
        # At most one chunk past the limit: the read that crosses it is the last one.
        assert limit < source.taken <= limit + CHUNK

    async def test_a_body_under_the_limit_reaches_the_endpoint(
        self, app: FastAPI, owner: AccountWithKeys
    ) -> None:
        # Not JSON: the endpoint itself answers (validation), so the body got through.
        source = BodySource(10 * 1000)
        answer = await call(
            app, "POST", "/v1/tiktok/publish", source, headers={**JSON, **owner.headers}
        )
        assert answer.status == 422
        assert source.taken == source.total


class TestNamedKeysFirst:
    async def test_a_named_key_is_resolved_before_the_body_and_reused(
        self, client: httpx.AsyncClient, owner: AccountWithKeys, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        created = await client.post("/v1/api-keys", json={"name": "ci"}, headers=owner.headers)
        bearer = {"Authorization": f"Bearer {created.json()['data']['key']}"}
        resolved: list[str] = []
        real = dependencies.resolve_account

        async def counting(state: Any, headers: Any) -> Any:
            resolved.append(headers.get("Authorization", ""))
            return await real(state, headers)

        monkeypatch.setattr(dependencies, "resolve_account", counting)
        second = await client.post("/v1/api-keys", json={"name": "second"}, headers=bearer)
        assert second.status_code == 200
        assert second.json()["data"]["name"] == "second"
        # Once, by the middleware; the endpoint's dependency reused the account.
        assert resolved == [bearer["Authorization"]]

    async def test_a_revoked_named_key_is_refused_before_the_body(
        self, app: FastAPI, client: httpx.AsyncClient, owner: AccountWithKeys
    ) -> None:
        created = (
            await client.post("/v1/api-keys", json={"name": "old"}, headers=owner.headers)
        ).json()["data"]
        await client.delete(f"/v1/api-keys/{created['id']}", headers=owner.headers)
        source = BodySource(500 * 1000)
        headers = {**JSON, "Authorization": f"Bearer {created['key']}"}
        answer = await call(app, "POST", "/v1/tiktok/publish", source, headers=headers)
        assert answer.status == 401
        assert source.taken == 0


class TestRouteFamilies:
    async def test_a_dashboard_form_over_the_form_limit_is_413(self, app: FastAPI) -> None:
        limit = app.state.settings.server.max_form_bytes
        source = BodySource(limit + 1)
        answer = await call(
            app,
            "POST",
            "/dashboard/login",
            source,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert answer.status == 413
        assert source.taken == 0

    async def test_a_chunked_form_is_cut_at_the_form_limit(self, app: FastAPI) -> None:
        limit = app.state.settings.server.max_form_bytes
        source = BodySource(BIG)
        answer = await call(
            app,
            "POST",
            "/dashboard/login",
            source,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            declare_length=False,
        )
        assert answer.status == 413
        assert source.taken <= limit + CHUNK

    async def test_the_limits_are_settings(self, tmp_path: Path, engine: AsyncEngine) -> None:
        settings = make_settings(tmp_path, server={"max_body_bytes": 4096})
        async with running_app(settings, engine) as own:
            source = BodySource(5000)
            answer = await call(own, "POST", "/v1/tiktok/publish", source, headers=JSON)
        assert answer.status == 413
        assert b"4,096 bytes" in answer.body

    def test_media_uploads_keep_their_own_streaming_limit(self, tmp_path: Path) -> None:
        limit_for = limits_from(make_settings(tmp_path))
        assert limit_for("POST", "/v1/media") is None
        assert limit_for("PUT", "/v1/media/uploads/m_123") is None
        assert limit_for("POST", "/dashboard/media") is None
        assert limit_for("PUT", "/sandbox/upload/") is None
        assert limit_for("POST", "/v1/media/uploads") == 1024 * 1024
        assert limit_for("POST", "/v1/media/presign") == 1024 * 1024
        assert limit_for("POST", "/dashboard/compose") == 256 * 1024
