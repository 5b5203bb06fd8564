"""The API reference at ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served with their
scripts from this package's dependencies (``fastapi-offline`` ships the assets), so they
work on a machine with no internet; and the OpenAPI security schemes for both kinds of
credential, so "Authorize" in Swagger UI sends them with "Try it out"."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from zakipost.auth.dependencies import KEY_HEADER, SECRET_HEADER

ASSETS_PATH = "/docs/assets"
API_PREFIX = "/v1/"

# The fixed pair is two headers sent together; a named key is one bearer token.
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "ClientKey": {
        "type": "apiKey",
        "in": "header",
        "name": KEY_HEADER,
        "description": "The account's client_key (zp_key_…), sent with its client_secret. "
        "Both are on the dashboard's API keys page.",
    },
    "ClientSecret": {
        "type": "apiKey",
        "in": "header",
        "name": SECRET_HEADER,
        "description": "The 40-character client_secret that goes with the client_key.",
    },
    "NamedKey": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "zp_sk_…",
        "description": "A named key (Authorization: Bearer zp_sk_…), created on the "
        "dashboard or with POST /v1/api-keys; revocable on its own.",
    },
}
# Either the whole pair or a named key.
API_SECURITY: list[dict[str, list[str]]] = [{"ClientKey": [], "ClientSecret": []}, {"NamedKey": []}]

SWAGGER_PARAMETERS = {
    # No call to the public validator (it would leave this machine), and the key typed in
    # "Authorize" survives a reload of the page.
    "validatorUrl": None,
    "persistAuthorization": True,
    "displayRequestDuration": True,
    "tryItOutEnabled": False,
}


# Everything from this server: the pages keep working with no internet, and nothing in the
# bundles can reach out (ReDoc's footer logo points at its CDN; blocked, it hides itself).
# The inline styles and the inline start-up script are FastAPI's page templates; ReDoc's
# search runs in a worker made from a blob.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def _local_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page


def assets_dir() -> Path:
    """Swagger UI's and ReDoc's files, as the ``fastapi-offline`` package ships them."""
    return Path(str(files("fastapi_offline") / "static"))


def with_security(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with the security schemes declared and required on every /v1 operation
    (every one of them authenticates: see :mod:`zakipost.auth.dependencies`)."""
    schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith(API_PREFIX):
            continue
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["security"] = API_SECURITY
    return schema


def install_docs(app: FastAPI) -> None:
    """Serve the reference pages and their assets; make ``app.openapi()`` carry the
    security schemes. The app must be created with ``docs_url=None, redoc_url=None``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_security(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    summary=app.summary,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.mount(ASSETS_PATH, StaticFiles(directory=assets_dir()), name="docs-assets")
    title = f"{app.title} API reference"

    async def swagger_ui() -> HTMLResponse:
        return _local_only(
            get_swagger_ui_html(
                openapi_url=app.openapi_url or "/openapi.json",
                title=title,
                swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
                swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
                swagger_ui_parameters=SWAGGER_PARAMETERS,
            )
        )

    async def redoc() -> HTMLResponse:
        return _local_only(
            get_redoc_html(
                openapi_url=app.openapi_url or "/openapi.json",
                title=title,
                redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
                redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
                with_google_fonts=False,
            )
        )

    app.add_api_route("/docs", swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route("/redoc", redoc, methods=["GET"], include_in_schema=False)
