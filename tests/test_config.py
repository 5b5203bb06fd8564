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


class TestSignUpBilling:
    def test_a_sign_up_can_publish_by_default(self) -> None:
        from zakipost.billing.plans import get_plan

        settings = load_settings()
        plan = get_plan(settings, settings.billing.signup_plan)
        assert plan.api_access
        # Several posts at the default cost.
        assert settings.billing.signup_points // settings.billing.publish_cost >= 3

    def test_the_operator_sets_both(self, monkeypatch) -> None:
        monkeypatch.setenv("ZAKIPOST_BILLING_SIGNUP_PLAN", "team")
        monkeypatch.setenv("ZAKIPOST_BILLING_SIGNUP_POINTS", "0")
        monkeypatch.setenv("ZAKIPOST_PLANS", '[{"name": "team", "api_access": true}]')
        settings = load_settings()
        assert settings.billing.signup_plan == "team"
        assert settings.billing.signup_points == 0

    def test_an_unknown_sign_up_plan_stops_the_start(self, monkeypatch) -> None:
        monkeypatch.setenv("ZAKIPOST_BILLING_SIGNUP_PLAN", "gold")
        with pytest.raises(SettingsError) as caught:
            load_settings()
        message = str(caught.value)
        assert "ZAKIPOST_BILLING_SIGNUP_PLAN" in message
        assert "free, pro, starter" in message


class TestReadme:
    def test_every_setting_is_listed(self) -> None:
        from pathlib import Path

        from pydantic import BaseModel

        from zakipost.config import Settings

        readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
        names = []
        for name, field in Settings.model_fields.items():
            group = field.annotation
            if isinstance(group, type) and issubclass(group, BaseModel):
                names += [f"ZAKIPOST_{name}_{sub}".upper() for sub in group.model_fields]
            else:
                names.append(f"ZAKIPOST_{name}".upper())
        missing = [name for name in names if f"`{name}`" not in readme]
        assert missing == [], f"README.md's settings list lacks {missing}"
