"""Test configuration: the testing environment is set before anything imports settings."""

from __future__ import annotations

import os

os.environ["ZAKIPOST_ENV"] = "testing"
os.environ.setdefault("ZAKIPOST_MEDIA_ALLOW_PRIVATE_NETWORKS", "true")

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.app",
    "tests.fixtures.media_server",
    "tests.fixtures.pipeline",
]
