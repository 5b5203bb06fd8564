from __future__ import annotations

import logging

import pytest
import structlog

from zakipost.logging import (
    _SECRET_PATTERNS,
    REDACTED,
    configure_logging,
    get_logger,
    redact_text,
    register_secret,
)


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str]):
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    configure_logging("DEBUG")

    def read() -> str:
        return capsys.readouterr().err

    yield read
    root.handlers[:] = handlers
    root.setLevel(level)


class TestRedaction:
    def test_secret_fields_are_replaced(self, logs) -> None:
        get_logger("t").info(
            "token_refreshed",
            access_token="act.1!abc.DEF",
            refresh_token="rft.XYZ",
            client_secret="topsecretvalue",
            password="hunter22",
            nested={"authorization": "Bearer abc", "ok": "visible"},
        )
        out = logs()
        for secret in ("act.1!abc.DEF", "rft.XYZ", "topsecretvalue", "hunter22", "Bearer abc"):
            assert secret not in out
        assert "visible" in out
        assert REDACTED in out

    def test_tokens_inside_strings_are_masked(self, logs) -> None:
        get_logger("t").warning(
            "PUT https://up.example/upload?upload_id=1&upload_token=abc-123 with act.secret.token"
        )
        out = logs()
        assert "abc-123" not in out
        assert "act.secret.token" not in out
        assert "upload_id=1" in out

    def test_registered_values_are_masked_in_stdlib_loggers(self, logs) -> None:
        register_secret("Zk7sQ9wX2mN4pL8rT1vY")
        logging.getLogger("httpx").info("request with Zk7sQ9wX2mN4pL8rT1vY inside")
        assert "Zk7sQ9wX2mN4pL8rT1vY" not in logs()

    def test_exception_messages_are_masked(self, logs) -> None:
        try:
            raise RuntimeError("refresh failed for rft.leaky!value")
        except RuntimeError:
            get_logger("t").exception("refresh_failed")
        out = logs()
        assert "rft.leaky!value" not in out
        assert "refresh_failed" in out

    def test_oauth_code_in_query_strings(self) -> None:
        text = redact_text("GET /connect/tiktok/callback?code=abc*!123&state=s1&scopes=a")
        assert "abc*!123" not in text
        assert "scopes=a" in text

    def test_ordinary_words_survive(self) -> None:
        assert redact_text("error code: invalid_params") == "error code: invalid_params"


@pytest.fixture(autouse=True)
def _reset_structlog():
    yield
    structlog.reset_defaults()


def test_the_prefilter_passes_every_string_a_pattern_would_change() -> None:
    """redact_text skips the substitutions when one combined search finds nothing: every
    string any single pattern changes must still be changed, exactly as all of them would."""

    def every_pattern(text: str) -> str:
        for pattern, replacement in _SECRET_PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    samples = [
        "act.abc123 rft.x clt.y",
        "upload_token=abc UPLOAD_TOKEN: 'q' Client_Secret=\"s3cr3t\"",
        "refresh_token=1 access_token:2 code_verifier=3 password=4",
        "GET /cb?code=abc&state=xyz HTTP/1.1",
        "authorization: bearer abc.def, next",
        "key zp_sk_ABC zp_live_9 zp_test_z",
        '127.0.0.1:5555 - "POST /v1/tiktok/publish HTTP/1.1" 200',
        "2026-12-01T22:00:00Z",
        "",
    ]
    for text in samples:
        assert redact_text(text) == every_pattern(text)
    assert redact_text("GET /cb?code=abc") == "GET /cb?code=[REDACTED]"
