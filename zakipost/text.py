"""The plain-text rule (see :mod:`zakipost.plain_text`) without the web stack, so the API
schemas that use :data:`Text` stay importable by the client."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

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
