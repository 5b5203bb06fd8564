"""One rule for text that comes in at the edge: no NUL characters, no lone surrogates.

PostgreSQL refuses NUL in text columns and no database can store a lone surrogate (it is
not Unicode), so such text fails deep inside a transaction. It is refused here instead,
with a 422 naming the field: :data:`Text` for the strings of JSON bodies, and
:func:`refuse_unsafe_parameters` (an app-wide dependency) for path ids, query strings and
form fields.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Request, params
from fastapi.routing import APIRoute
from pydantic import AfterValidator

from zakipost.errors import ValidationFailed

NUL = "contains a NUL character; remove it"
SURROGATE = "contains a lone surrogate, which is not Unicode; send UTF-8 text"


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be taken as text, or None when it can."""
    if "\x00" in value:
        return NUL
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE
    return None


def _plain(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


Text = Annotated[str, AfterValidator(_plain)]
"""A string field of a request body: refused with a 422 naming it when not plain text."""


def _refuse(field: str, problem: str) -> ValidationFailed:
    return ValidationFailed(
        f"Invalid request: {field}: {problem}",
        details={"fields": [{"field": field, "message": problem}]},
    )


def _takes_form(request: Request) -> bool:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None:
        return False
    return isinstance(route.body_field.field_info, params.Form)


async def refuse_unsafe_parameters(request: Request) -> None:
    """Path ids, query parameters and (already parsed) form fields are plain text."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and (problem := text_problem(value)):
            raise _refuse(name, problem)
    for name, value in request.query_params.multi_items():
        if problem := text_problem(name) or text_problem(value):
            raise _refuse(name, problem)
    if _takes_form(request):
        # FastAPI parsed the form before the dependencies ran; this reads its cache.
        form = await request.form()
        for name, item in form.multi_items():
            if isinstance(item, str) and (problem := text_problem(name) or text_problem(item)):
                raise _refuse(name, problem)
