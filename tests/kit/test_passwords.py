"""Password hashing: the parameters in use, and the dummy hash for unknown emails."""

from __future__ import annotations

import subprocess
import sys

from argon2 import PasswordHasher, extract_parameters

from zakipost.kit import passwords

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class TestDummyHash:
    def test_follows_the_hasher_in_use(self) -> None:
        # The suite runs with fast hashing (tests/conftest.py); the dummy hash must too, or
        # every login with an unknown email pays a production-strength check.
        passwords.use_fast_hashing()
        parameters = extract_parameters(passwords.dummy_hash())
        assert parameters.time_cost == FAST.time_cost
        assert parameters.memory_cost == FAST.memory_cost
        assert parameters.parallelism == FAST.parallelism

    def test_is_made_again_when_the_hasher_changes(self) -> None:
        passwords.use_fast_hashing()
        first = passwords.dummy_hash()
        assert passwords.dummy_hash() == first
        passwords.use_fast_hashing()
        assert passwords.dummy_hash() != first

    def test_never_matches(self) -> None:
        assert passwords.verify_against_dummy("not-a-real-password-0000") is False
        assert passwords.verify_against_dummy("anything") is False

    def test_importing_the_login_code_hashes_nothing(self) -> None:
        # Regression: the dummy hash was made at import, at production cost, in every process.
        script = (
            "import argon2\n"
            "def refuse(*args, **kwargs):\n"
            "    raise SystemExit('hashed a password at import')\n"
            "argon2.PasswordHasher.hash = refuse\n"
            "import zakipost.account.service\n"
            "print('imported')\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.strip() == "imported"


class TestHashing:
    def test_round_trip_with_the_fast_parameters(self) -> None:
        passwords.use_fast_hashing()
        hashed = passwords.hash_password("correct horse battery")
        assert extract_parameters(hashed).time_cost == FAST.time_cost
        assert passwords.verify_password(hashed, "correct horse battery")
        assert not passwords.verify_password(hashed, "wrong")
        assert not passwords.verify_password("not a hash", "correct horse battery")
