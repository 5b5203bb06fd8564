"""ORM models, one module per table; importing this package registers them all."""

from zakipost.db.base import Base
from zakipost.models.account import Account
from zakipost.models.api_key import ApiKey
from zakipost.models.connection import Connection, ConnectionStatus
from zakipost.models.job import Job, JobStatus
from zakipost.models.oauth_state import OAuthState
from zakipost.models.point_entry import PointEntry, PointEntryKind

__all__ = [
    "Account",
    "ApiKey",
    "Base",
    "Connection",
    "ConnectionStatus",
    "Job",
    "JobStatus",
    "OAuthState",
    "PointEntry",
    "PointEntryKind",
]
