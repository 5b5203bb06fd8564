from __future__ import annotations

import pytest

from zakipost.config import SettingsError, load_settings


class TestLoadSettings:
    def test_defaults_use_embedded_sqlite_and_sandbox(self, tmp_path, monkeypatch) -> None:
        monkeypatch.setenv("ZAKIPOST_DATA_DIR", str(tmp_path))
        settings = load_settings()
        assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/zakipost.db"
        assert settings.uses_sandbox
        assert settings.tiktok_api_base_url == "http://127.0.0.1:8000/sandbox"

    def test_nested_variables(self, monkeypatch) -> None:
        monkeypatch.setenv("ZAKIPOST_DATABASE_URL", "postgres://u@db/zp")
        monkeypatch.setenv("ZAKIPOST_WORKER_CONCURRENCY", "12")
        monkeypatch.setenv("ZAKIPOST_MEDIA_ALLOW_PRIVATE_NETWORKS", "false")
        settings = load_settings()
        assert settings.database_url == "postgresql+asyncpg://u@db/zp"
        assert settings.worker.concurrency == 12
        assert settings.media.allow_private_networks is False

    def test_configured_tiktok_app_leaves_the_sandbox(self, monkeypatch) -> None:
        monkeypatch.setenv("ZAKIPOST_TIKTOK_CLIENT_KEY", "awabc")
        monkeypatch.setenv("ZAKIPOST_TIKTOK_CLIENT_SECRET", "s3cret-value")
        settings = load_settings()
        assert not settings.uses_sandbox
        assert settings.tiktok_api_base_url == "https://open.tiktokapis.com"
        assert "s3cret-value" not in repr(settings)

    @pytest.mark.parametrize(
        ("variable", "value"),
        [
            ("ZAKIPOST_WORKER_CONCURRENCY", "many"),
            ("ZAKIPOST_SERVER_PORT", "70000"),
            ("ZAKIPOST_DATABASE_URL", "mysql://x"),
            ("ZAKIPOST_LOG_LEVEL", "LOUD"),
            ("ZAKIPOST_BILLING_PUBLISH_COST", "-1"),
        ],
    )
    def test_bad_value_names_the_variable(self, monkeypatch, variable: str, value: str) -> None:
        monkeypatch.setenv(variable, value)
        with pytest.raises(SettingsError) as excinfo:
            load_settings()
        assert variable in str(excinfo.value)

    def test_production_refuses_unsafe_defaults(self, monkeypatch) -> None:
        monkeypatch.setenv("ZAKIPOST_ENV", "production")
        monkeypatch.setenv("ZAKIPOST_MEDIA_ALLOW_PRIVATE_NETWORKS", "true")
        with pytest.raises(SettingsError) as excinfo:
            load_settings()
        message = str(excinfo.value)
        assert "ZAKIPOST_SECURITY_SESSION_SECRET" in message
        assert "ZAKIPOST_MEDIA_ALLOW_PRIVATE_NETWORKS" in message
