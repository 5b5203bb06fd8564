"""Application errors that carry their HTTP meaning; one handler renders them all."""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    """Something went wrong."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or (self.__doc__ or self.code).strip()
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(AppError):
    """The request is malformed."""

    status_code = 400
    code = "bad_request"


class ValidationFailed(AppError):
    """Some fields are invalid."""

    status_code = 422
    code = "validation_error"


class Unauthorized(AppError):
    """Authentication is required."""

    status_code = 401
    code = "unauthorized"


class PaymentRequired(AppError):
    """Payment is required."""

    status_code = 402
    code = "payment_required"


class Forbidden(AppError):
    """This is not allowed."""

    status_code = 403
    code = "forbidden"


class NotFound(AppError):
    """Not found."""

    status_code = 404
    code = "not_found"


class Conflict(AppError):
    """The request conflicts with the current state."""

    status_code = 409
    code = "conflict"


class TooManyRequests(AppError):
    """Too many requests; slow down."""

    status_code = 429
    code = "rate_limited"


class ServiceUnavailable(AppError):
    """A service ZakiPost depends on is unavailable; try again shortly."""

    status_code = 503
    code = "service_unavailable"
