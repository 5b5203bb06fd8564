"""Test configuration: the testing environment is set before anything imports settings."""

from __future__ import annotations

import os

os.environ["ZAKIPOST_ENV"] = "testing"
os.environ.setdefault("ZAKIPOST_MEDIA_ALLOW_PRIVATE_NETWORKS", "true")
# The embedded sandbox finishes processing at once, and its injected timeouts are short.
os.environ.setdefault("ZAKIPOST_SANDBOX_PROGRESSION", "immediate")
os.environ.setdefault("ZAKIPOST_SANDBOX_FAULT_TIMEOUT_SECONDS", "0.2")
os.environ.setdefault("ZAKIPOST_SANDBOX_SEED", "7")
# The embedded sandbox's webhooks would race the pipeline's polls; the tests of TikTok's
# webhooks switch them on (tests/tiktok_webhook).
os.environ.setdefault("ZAKIPOST_SANDBOX_WEBHOOK_URL", "")

# Fast argon2 parameters for every hash the suite makes (the login's dummy hash included,
# which follows the hasher in use). Nothing has hashed a password before this runs.
from zakipost.kit.passwords import use_fast_hashing

use_fast_hashing()

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.app",
    "tests.fixtures.media_server",
    "tests.fixtures.pipeline",
]
