"""``X-Request-Id``: kept when sane, generated otherwise, on every response and log line."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.app import make_settings, running_app
from zakipost.logging import configure_logging, get_logger
from zakipost.request_id import sane

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    configure_logging("INFO", json=True)

    def read() -> list[dict[str, Any]]:
        lines = capsys.readouterr().err.splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    yield read
    root.handlers[:] = handlers
    root.setLevel(level)


class TestSane:
    @pytest.mark.parametrize(
        "value",
        ["abc-123", "0d5e1c9a-9f3b-4c1e-8a55-1f0e0b7c6d2a", "01HZX3YQ4K9", "req_42:retry.1"],
    )
    def test_kept(self, value: str) -> None:
        assert sane(value) == value

    @pytest.mark.parametrize(
        "value",
        ["", " leading", "two words", "a\nforged=line", '<script>"', "x" * 129, "-starts-dash"],
    )
    def test_replaced(self, value: str) -> None:
        assert sane(value) is None


class TestHeader:
    async def test_a_sane_id_is_returned_as_given(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz", headers={"X-Request-Id": "edge-7f3a"})
        assert response.headers["X-Request-Id"] == "edge-7f3a"

    async def test_one_is_generated_when_absent(self, client: httpx.AsyncClient) -> None:
        first = (await client.get("/healthz")).headers["X-Request-Id"]
        second = (await client.get("/healthz")).headers["X-Request-Id"]
        assert GENERATED.fullmatch(first) and GENERATED.fullmatch(second)
        assert first != second

    async def test_an_unsafe_value_is_replaced(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz", headers={"X-Request-Id": "evil value; x=<y>"})
        assert GENERATED.fullmatch(response.headers["X-Request-Id"])

    @pytest.mark.parametrize(
        ("method", "path", "body", "status"),
        [
            ("GET", "/no/such/page", None, 404),
            ("GET", "/v1/account", None, 401),
            ("POST", "/v1/tiktok/publish", b"{" * (2 * 1024 * 1024), 413),
        ],
    )
    async def test_errors_carry_it_too(
        self, client: httpx.AsyncClient, method: str, path: str, body: bytes | None, status: int
    ) -> None:
        response = await client.request(
            method, path, content=body, headers={"X-Request-Id": "err-1"}
        )
        assert response.status_code == status
        assert response.headers["X-Request-Id"] == "err-1"


async def test_bound_to_every_line_of_the_request_and_kept_on_a_500(
    json_logs: Any, tmp_path: Path, engine: AsyncEngine
) -> None:
    async def boom() -> None:
        get_logger("test").info("inside_the_request")
        raise RuntimeError("unexpected")

    async with running_app(make_settings(tmp_path), engine, mount_sandbox=False) as app:
        assert isinstance(app, FastAPI)
        app.add_api_route("/boom", boom)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/boom", headers={"X-Request-Id": "boom-1"})
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert response.headers["X-Request-Id"] == "boom-1"
    lines = {line["event"]: line for line in json_logs()}
    assert lines["inside_the_request"]["request_id"] == "boom-1"
    assert lines["unhandled_error"]["request_id"] == "boom-1"
