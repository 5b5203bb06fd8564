"""The scaled-out layout's rules (zakipost.layout): what a worker serves, and the settings a
web or worker process running apart from the other role must have."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.fixtures.app import make_settings
from zakipost import layout
from zakipost.cli import app as cli
from zakipost.config import Settings, SettingsError

S3 = {"backend": "s3", "s3_bucket": "media", "s3_endpoint_url": "http://127.0.0.1:9999"}


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    return make_settings(tmp_path, **overrides)


class TestWhatItServes:
    def test_the_database_without_its_password(self, tmp_path: Path) -> None:
        s = settings(
            tmp_path,
            database={"url": "postgresql://zp:s3cret@db.internal:5433/zakipost?sslmode=require"},
        )
        assert layout.database_location(s) == "PostgreSQL postgresql://zp@db.internal:5433/zakipost"
        assert "s3cret" not in str(layout.serving(s, concurrency=2))

    def test_sandbox_tiktok_store_and_concurrency(self, tmp_path: Path) -> None:
        s = settings(tmp_path, tiktok={"sandbox_url": "http://sandbox:9000/"}, storage=S3)
        assert layout.serving(s, concurrency=8) == {
            "database": f"SQLite {(tmp_path / 'data' / 'zakipost.db').resolve()}",
            "tiktok": "the TikTok sandbox at http://sandbox:9000",
            "sandbox": True,
            "store": "S3 bucket media at http://127.0.0.1:9999",
            "concurrency": 8,
        }

    def test_a_real_tiktok_app_and_a_local_store(self, tmp_path: Path) -> None:
        s = settings(tmp_path, tiktok={"client_key": "key"}, storage={"local_dir": "/srv/media"})
        served = layout.serving(s, concurrency=1)
        assert served["tiktok"] == "TikTok at https://open.tiktokapis.com"
        assert served["sandbox"] is False
        assert served["store"] == "local directory /srv/media"


class TestApart:
    def test_a_local_store_in_the_data_directory_is_refused_for_both_roles(
        self, tmp_path: Path
    ) -> None:
        s = settings(tmp_path, tiktok={"sandbox_url": "http://sandbox:9000"})
        roles: tuple[layout.Role, ...] = ("web", "worker")
        for role in roles:
            [problem] = layout.problems(s, role)
            assert problem.startswith("ZAKIPOST_STORAGE_BACKEND: ")
            assert str((tmp_path / "data" / "store").resolve()) in problem
            assert "see docs/operations.md#media" in problem

    @pytest.mark.parametrize("storage", [S3, {"local_dir": "/mnt/shared/media"}])
    def test_s3_or_a_named_shared_directory_is_accepted(
        self, tmp_path: Path, storage: dict[str, str]
    ) -> None:
        s = settings(tmp_path, tiktok={"sandbox_url": "http://sandbox:9000"}, storage=storage)
        assert layout.problems(s, "worker") == layout.problems(s, "web") == []

    def test_a_worker_must_be_told_which_sandbox(self, tmp_path: Path) -> None:
        s = settings(tmp_path, storage=S3)
        [problem] = layout.problems(s, "worker")
        assert problem.startswith("ZAKIPOST_TIKTOK_SANDBOX_URL: no TikTok app is configured")
        assert "http://127.0.0.1:8000/sandbox" in problem
        assert layout.problems(s, "web") == []  # the web mounts its own sandbox
        with pytest.raises(SettingsError, match="Cannot run zakipost worker apart from the web"):
            layout.check(s, "worker")

    @pytest.mark.parametrize(
        ("tiktok", "server"),
        [
            ({"sandbox_url": "http://sandbox:9000"}, {}),
            ({}, {"public_url": "https://zakipost.example.com"}),
            ({"client_key": "key"}, {}),
        ],
        ids=["standalone-sandbox", "the-webs-sandbox", "tiktok-app"],
    )
    def test_a_worker_that_knows_its_tiktok(
        self, tmp_path: Path, tiktok: dict[str, str], server: dict[str, str]
    ) -> None:
        s = settings(tmp_path, tiktok=tiktok, server=server, storage=S3)
        assert layout.problems(s, "worker") == []


def test_zakipost_worker_refuses_to_start_saying_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "ZAKIPOST_STORAGE_BACKEND",
        "ZAKIPOST_STORAGE_LOCAL_DIR",
        "ZAKIPOST_TIKTOK_SANDBOX_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    env = {"ZAKIPOST_DATA_DIR": str(tmp_path / "worker"), "COLUMNS": "500"}
    result = CliRunner().invoke(cli, ["worker"], env=env)
    assert result.exit_code == 2
    assert "Cannot run zakipost worker apart from the web" in result.output
    assert "ZAKIPOST_STORAGE_BACKEND:" in result.output
    assert "ZAKIPOST_TIKTOK_SANDBOX_URL:" in result.output
    web = CliRunner().invoke(cli, ["web"], env=env)
    assert web.exit_code == 2
    assert "Cannot run zakipost web apart from the worker" in web.output
