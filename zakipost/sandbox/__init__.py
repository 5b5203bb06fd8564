"""The TikTok sandbox: an offline emulator of TikTok's OAuth, Content Posting and Display APIs.

Moto-shaped: per API family a thin HTTP layer (`oauth`, `display`, `content_posting`,
`upload`) over a plain state layer (`accounts`, `publishing`, `progression`), with TikTok's
error codes and shapes (`errors`), a configurable progression, fault hooks (`faults`) and
`Sandbox.reset()`. It imports nothing from the rest of ZakiPost. See README.md.
"""

from .app import create_sandbox_app
from .clock import Clock, ManualClock, SystemClock
from .config import SandboxConfig
from .describe import describe
from .errors import OAuthError
from .state import Sandbox
from .tokenlog import ExpiredTokenUse, RefreshAttempt

__all__ = [
    "Clock",
    "ExpiredTokenUse",
    "ManualClock",
    "OAuthError",
    "RefreshAttempt",
    "Sandbox",
    "SandboxConfig",
    "SystemClock",
    "create_sandbox_app",
    "describe",
]
