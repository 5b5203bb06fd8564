"""The public response envelope, shared by every endpoint."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

INT32_MAX = 2**31 - 1
"""The largest value of an Integer column on PostgreSQL (SQLite would take more)."""
INT64_MAX = 2**63 - 1
"""The largest value of a BigInteger column, and of an SQL OFFSET."""


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Envelope(BaseModel, Generic[T]):
    """``{"success": true, "message": ..., "data": ...}``."""

    success: bool = True
    message: str = "OK"
    data: T


class ErrorEnvelope(BaseModel):
    """``{"success": false, "message": ..., "code": ..., "details": ...}``."""

    success: bool = Field(False, examples=[False])
    message: str = Field(examples=["Invalid API credentials: ..."])
    code: str = Field(examples=["invalid_credentials"])
    details: dict[str, Any] | None = None


def ok(data: T, message: str = "OK") -> Envelope[T]:
    return Envelope[T](data=data, message=message)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the error envelope."""
    descriptions = {
        400: "Malformed request",
        401: "Invalid API credentials",
        402: "Insufficient points",
        403: "Plan without API access, or subscription expired",
        404: "Not found (or owned by another account)",
        409: "Conflict with the current state",
        413: "Body too large",
        422: "Invalid fields; the message says what to change",
        429: "Rate limited",
    }
    return {
        s: {"model": ErrorEnvelope, "description": descriptions.get(s, "Error")} for s in statuses
    }


AUTH_ERRORS = (401, 403)
