"""Every string a JSON request body takes goes through the one input rule (``Text``)."""

from __future__ import annotations

import typing
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Request
from fastapi.params import Form
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel

from zakipost.errors import ValidationFailed
from zakipost.plain_text import Text, refuse_unsafe_parameters, text_problem


def _bare_strings(annotation: Any, checked: bool = False) -> list[str]:
    """Where ``annotation`` reaches ``str`` without the plain-text validator."""
    if typing.get_origin(annotation) is Annotated:
        base, *metadata = typing.get_args(annotation)
        ruled = any(isinstance(m, AfterValidator) and m in _TEXT_RULE for m in metadata)
        return _bare_strings(base, checked or ruled)
    if annotation is str:
        return [] if checked else ["str"]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _bare_model_fields(annotation)
    return [found for arg in typing.get_args(annotation) for found in _bare_strings(arg, checked)]


_TEXT_RULE = typing.get_args(Text)[1:]


def _bare_model_fields(model: type[BaseModel]) -> list[str]:
    found = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if info.metadata:
            annotation = Annotated[(annotation, *info.metadata)]
        found += [f"{model.__name__}.{name}" for _ in _bare_strings(annotation)]
    return found


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every API route, inside included routers too."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif (included := getattr(route, "original_router", None)) is not None:
            found += _api_routes(included.routes)
    return found


def test_every_request_body_string_is_plain_text(app: FastAPI) -> None:
    # JSON bodies; forms are checked by refuse_unsafe_parameters (tests/dashboard).
    bodies = {
        route.body_field.field_info.annotation
        for route in _api_routes(app.routes)
        if route.body_field is not None and not isinstance(route.body_field.field_info, Form)
    }
    models = [b for b in bodies if isinstance(b, type) and issubclass(b, BaseModel)]
    assert any(m.__name__ == "VideoPublishRequest" for m in models), models
    bare = [field for model in models for field in _bare_model_fields(model)]
    assert bare == []


@pytest.mark.parametrize(
    ("value", "refused"),
    [("plain", False), ("emoji \U0001f600 and é", False), ("\x00", True), ("\udfff", True)],
)
def test_text_problem(value: str, refused: bool) -> None:
    assert (text_problem(value) is not None) is refused


def _request(query_string: bytes) -> Request:
    return Request({"type": "http", "query_string": query_string, "path_params": {}})


class TestRefuseUnsafeParameters:
    @pytest.mark.parametrize(
        "query_string",
        [b"", b"a=b&c=d", b"a=+&b", b"next=%2Fhome", b"q=%C3%A9", b"q=\xe9", b"q=%ED%A0%80"],
    )
    async def test_plain_query_strings_pass(self, query_string: bytes) -> None:
        await refuse_unsafe_parameters(_request(query_string))

    @pytest.mark.parametrize(
        ("query_string", "field"),
        [(b"cursor=%00", "cursor"), (b"a=b&x%00=1", "x\x00"), (b"n=\x00", "n")],
    )
    async def test_nul_in_a_query_string_is_refused(self, query_string: bytes, field: str) -> None:
        with pytest.raises(ValidationFailed) as caught:
            await refuse_unsafe_parameters(_request(query_string))
        assert caught.value.details["fields"][0]["field"] == field

    @pytest.mark.parametrize(
        "query_string", [b"", b"a=b", b"a=b+c&d=\xe9\xff", b"&&==", bytes(range(1, 256))]
    )
    def test_no_escape_and_no_nul_byte_means_nothing_to_refuse(self, query_string: bytes) -> None:
        # The shortcut's premise: such a query string parses to plain text only.
        for name, value in _request(query_string).query_params.multi_items():
            assert text_problem(name) is None
            assert text_problem(value) is None
