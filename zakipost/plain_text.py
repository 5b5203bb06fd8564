"""One rule for text that comes in at the edge: no NUL characters, no lone surrogates.

PostgreSQL refuses NUL in text columns and no database can store a lone surrogate (it is
not Unicode), so such text fails deep inside a transaction. It is refused here instead,
with a 422 naming the field: :data:`Text` (from :mod:`zakipost.text`, which the API
schemas import without the web stack) for the strings of JSON bodies, and
:func:`refuse_unsafe_parameters` (an app-wide dependency) for path ids, query strings and
form fields.
"""

from __future__ import annotations

from fastapi import Request, params
from fastapi.routing import APIRoute

from zakipost.errors import ValidationFailed
from zakipost.text import NUL, SURROGATE, Text, text_problem

__all__ = ["NUL", "SURROGATE", "Text", "refuse_unsafe_parameters", "text_problem"]


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


def _may_hide_unsafe_text(query_string: bytes) -> bool:
    # Starlette reads raw query bytes as latin-1 (never a surrogate, NUL only from a NUL
    # byte); anything else unsafe needs a percent escape. Most requests have neither, and
    # are spared parsing the query string on every request.
    return b"%" in query_string or b"\x00" in query_string


async def refuse_unsafe_parameters(request: Request) -> None:
    """Path ids, query parameters and (already parsed) form fields are plain text."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and (problem := text_problem(value)):
            raise _refuse(name, problem)
    if _may_hide_unsafe_text(request.scope.get("query_string", b"")):
        for name, value in request.query_params.multi_items():
            if problem := text_problem(name) or text_problem(value):
                raise _refuse(name, problem)
    if _takes_form(request):
        # FastAPI parsed the form before the dependencies ran; this reads its cache.
        form = await request.form()
        for name, item in form.multi_items():
            if isinstance(item, str) and (problem := text_problem(name) or text_problem(item)):
                raise _refuse(name, problem)
