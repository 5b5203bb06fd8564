"""The OpenAPI, probed by schemathesis: for every operation, requests generated from the
schema (valid ones and invalid ones), sent as an account with keys. No answer is a 5xx,
and every answer matches the documented responses.

Bounded and deterministic: the cases are drawn up front with a fixed seed
(``derandomize``), a few per operation, then sent in order through the shared test app.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.fixtures.app import AccountWithKeys

EXAMPLES = {GenerationMode.POSITIVE: 8, GenerationMode.NEGATIVE: 6}
# Rotating the credentials ends the run's authentication: it goes last.
LAST = ("POST", "/v1/account/credentials/rotate")
# Answers that are the operation's meaning, not a fault: not ready (no live worker with
# ?workers=1; the test app runs none).
DOCUMENTED_5XX = {("GET", "/readyz"): 503}
# Generated only; never sent with the client's own connection handling.
_DROPPED_HEADERS = {"connection", "accept-encoding", "user-agent"}


def _cases(operation: Any, mode: GenerationMode, count: int) -> list[Any]:
    cases: list[Any] = []

    @hypothesis.given(operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def collect(case: Any) -> None:
        cases.append(case)

    try:
        collect()
    except hypothesis.errors.Unsatisfiable:
        pass  # nothing to make invalid (an operation without parameters or body)
    return cases


def _request(case: Any, auth: dict[str, str]) -> dict[str, Any]:
    kwargs = case.as_transport_kwargs(base_url="")
    headers = {
        k: v for k, v in (kwargs.get("headers") or {}).items() if k.lower() not in _DROPPED_HEADERS
    }
    request: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "params": kwargs.get("params") or None,
        "headers": {**headers, **auth},
    }
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    elif isinstance(kwargs.get("data"), bytes | str):
        request["content"] = kwargs["data"]
    elif kwargs.get("data") is not None:
        request["data"] = kwargs["data"]
    if kwargs.get("files"):
        request["files"] = [_file(name, value) for name, value in kwargs["files"]]
    return request


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return json.dumps(value).encode()


def _file(name: Any, value: Any) -> tuple[str, Any]:
    """A multipart part as httpx sends it (negative cases put any JSON value there)."""
    if isinstance(value, tuple):
        filename, content, *rest = value
        return str(name), (filename, _bytes(content), *rest)
    return str(name), _bytes(value)


def _operations(app: FastAPI) -> list[Any]:
    schema = schemathesis.openapi.from_dict(app.openapi())
    operations = [result.ok() for result in schema.get_all_operations()]
    return sorted(operations, key=lambda o: ((o.method.upper(), o.path) == LAST, o.path, o.method))


@pytest.mark.slow
async def test_no_operation_answers_a_server_error_or_off_schema(
    app: FastAPI, client: httpx.AsyncClient, owner: AccountWithKeys
) -> None:
    failures: list[str] = []
    sent = 0
    for operation in _operations(app):
        for mode, count in EXAMPLES.items():
            for case in _cases(operation, mode, count):
                request = _request(case, owner.headers)
                try:
                    response = await client.request(**request)
                except (httpx.InvalidURL, UnicodeEncodeError):
                    continue  # not sendable over HTTP (a header httpx refuses to encode)
                sent += 1
                response.request.read()  # multipart bodies stream; the checks read them
                key = (operation.method.upper(), operation.path)
                documented = DOCUMENTED_5XX.get(key) == response.status_code
                checks = [response_schema_conformance]
                if not documented:
                    checks.append(not_a_server_error)
                try:
                    case.validate_response(response, checks=checks)
                except FailureGroup as exc:
                    failures.append(
                        f"{request['method']} {request['url']} {request.get('params')} "
                        f"-> {response.status_code} {response.text[:300]}\n{exc}"
                    )
    assert sent > 100, "the run should have sent requests for every operation"
    assert failures == [], "\n\n".join(failures[:10])
