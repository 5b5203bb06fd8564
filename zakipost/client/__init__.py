"""ZakiPost's Python client: :class:`Client` (blocking) and :class:`AsyncClient` (asyncio).

Light on purpose: it imports httpx, pydantic and the API's schemas, never the server's
database or web stack. See docs/sdk.md.
"""

from zakipost.client._async import AsyncClient
from zakipost.client._base import DEFAULT_API_URL, ClientConfig
from zakipost.client._ops import ProgressCallback
from zakipost.client._sync import Client
from zakipost.client.errors import (
    AuthenticationError,
    ConfigurationError,
    Conflict,
    InsufficientPoints,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    TransportError,
    ValidationError,
    WaitTimeout,
    ZakiPostError,
)
from zakipost.client.models import FINAL_STATUSES, SUCCESS_STATUSES

__all__ = [
    "DEFAULT_API_URL",
    "FINAL_STATUSES",
    "SUCCESS_STATUSES",
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "ClientConfig",
    "ConfigurationError",
    "Conflict",
    "InsufficientPoints",
    "NotFound",
    "PermissionDenied",
    "ProgressCallback",
    "RateLimited",
    "ServerError",
    "TransportError",
    "ValidationError",
    "WaitTimeout",
    "ZakiPostError",
]
