"""The API reference pages work offline (their assets come from this server) and the
OpenAPI schema declares both kinds of credential on every /v1 operation."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from zakipost.docs import API_SECURITY, ASSETS_PATH, SECURITY_SCHEMES


def sources(page: str) -> list[str]:
    return re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", page)


class TestReferencePages:
    async def test_swagger_ui_loads_only_local_assets(self, client: httpx.AsyncClient) -> None:
        page = await client.get("/docs")
        assert page.status_code == 200
        found = sources(page.text)
        assert f"{ASSETS_PATH}/swagger-ui-bundle.js" in found
        assert f"{ASSETS_PATH}/swagger-ui.css" in found
        assert [s for s in found if "//" in s] == []
        # No call to the public validator.
        assert '"validatorUrl": null' in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]

    async def test_redoc_loads_only_local_assets(self, client: httpx.AsyncClient) -> None:
        page = await client.get("/redoc")
        assert page.status_code == 200
        found = sources(page.text)
        assert f"{ASSETS_PATH}/redoc.standalone.js" in found
        assert [s for s in found if "//" in s] == []
        assert "fonts.googleapis" not in page.text
        assert "img-src 'self' data:" in page.headers["content-security-policy"]

    async def test_the_assets_are_served(self, client: httpx.AsyncClient) -> None:
        for name, kind in (
            ("swagger-ui-bundle.js", "javascript"),
            ("swagger-ui.css", "text/css"),
            ("redoc.standalone.js", "javascript"),
            ("favicon.png", "image/png"),
        ):
            asset = await client.get(f"{ASSETS_PATH}/{name}")
            assert asset.status_code == 200, name
            assert kind in asset.headers["content-type"], name
            assert len(asset.content) > 1000, name


class TestSecuritySchemes:
    def test_both_credential_kinds_are_declared(self, app: FastAPI) -> None:
        schemes = app.openapi()["components"]["securitySchemes"]
        assert schemes == SECURITY_SCHEMES
        assert schemes["ClientKey"]["name"] == "X-ZakiPost-Client-Key"
        assert schemes["ClientSecret"]["name"] == "X-ZakiPost-Client-Secret"
        assert schemes["NamedKey"] == {**schemes["NamedKey"], "type": "http", "scheme": "bearer"}

    def test_every_api_operation_requires_them_and_nothing_else_does(self, app: FastAPI) -> None:
        paths = app.openapi()["paths"]
        api_operations = 0
        for path, operations in paths.items():
            for method, operation in operations.items():
                if path.startswith("/v1/"):
                    api_operations += 1
                    assert operation["security"] == API_SECURITY, (method, path)
                else:
                    assert "security" not in operation, (method, path)
        assert api_operations > 10

    async def test_every_api_operation_refuses_a_call_without_them(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        # What the schema says is what the server does: no /v1 operation answers anonymously.
        for path, operations in app.openapi()["paths"].items():
            if not path.startswith("/v1/"):
                continue
            concrete = re.sub(r"\{[^}]+\}", "x", path)
            for method in operations:
                answer = await client.request(method.upper(), concrete)
                assert answer.status_code == 401, (method, path, answer.status_code)

    def test_the_publish_example_is_valid_as_sent(self, app: FastAPI) -> None:
        from zakipost.post.schemas import PhotoPublishRequest, VideoPublishRequest

        schemas = app.openapi()["components"]["schemas"]
        for model in (VideoPublishRequest, PhotoPublishRequest):
            for example in schemas[model.__name__]["examples"]:
                model.model_validate(example)
