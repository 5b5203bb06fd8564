"""The OpenAPI schema documents the contract and every extension field."""

from __future__ import annotations

from fastapi import FastAPI


def _schema(app: FastAPI) -> dict:
    return app.openapi()


def _resolve(schema: dict, ref: dict) -> dict:
    name = ref["$ref"].rsplit("/", 1)[-1]
    return schema["components"]["schemas"][name]


class TestOpenApi:
    def test_contract_endpoint_and_fields(self, app: FastAPI) -> None:
        schema = _schema(app)
        publish = schema["paths"]["/v1/tiktok/publish"]["post"]
        body = _resolve(schema, publish["requestBody"]["content"]["application/json"]["schema"])
        for field in (
            "video_url",
            "tiktok_account_id",
            "title",
            "privacy_level",
            "disable_comment",
            "disable_duet",
            "disable_stitch",
            "ai_generated_content",
        ):
            assert field in body["properties"], field
        assert set(body["required"]) == {"tiktok_account_id"}
        assert {"200", "401", "402", "403", "404", "409", "422"} <= set(publish["responses"])

    def test_extensions_are_documented(self, app: FastAPI) -> None:
        schema = _schema(app)
        paths = schema["paths"]
        for path, method in [
            ("/v1/tiktok/photos", "post"),
            ("/v1/tiktok/publish/{publish_id}", "get"),
            ("/v1/tiktok/publish/{publish_id}", "delete"),
            ("/v1/tiktok/publish/{publish_id}", "patch"),
            ("/v1/tiktok/connect", "post"),
            ("/v1/tiktok/accounts", "get"),
        ]:
            assert method in paths[path], (path, method)
        for name in ("VideoPublishRequest", "PhotoPublishRequest"):
            model = schema["components"]["schemas"][name]
            assert model.get("examples"), name
            undocumented = [
                field
                for field, spec in model["properties"].items()
                if not (spec.get("description") or spec.get("examples"))
            ]
            assert undocumented == [], (name, undocumented)

    def test_account_token_fields_are_described(self, app: FastAPI) -> None:
        model = _schema(app)["components"]["schemas"]["TikTokAccountOut"]
        for field in (
            "scopes",
            "access_expires_at",
            "next_refresh_at",
            "reconnect_by",
            "reconnect_warning",
        ):
            assert model["properties"][field].get("description"), field
        assert not any("token" == name or name.endswith("_token") for name in model["properties"])
