from __future__ import annotations

import pytest

from eadrcc.config import ConfigError, load_settings


def test_defaults_need_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = load_settings()
    assert settings.database_url is None
    assert settings.max_body_bytes == 1024 * 1024


def test_reads_database_url_and_prefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("EADRCC_PORT", "9000")
    settings = load_settings()
    assert (settings.database_url, settings.port) == ("postgresql://u@h/db", 9000)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("EADRCC_PORT", "eighty", "EADRCC_PORT"),
        ("EADRCC_PORT", "70000", "EADRCC_PORT"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL: Value error, must be a postgresql:// URL"),
        ("EADRCC_LOG_LEVEL", "loud", "EADRCC_LOG_LEVEL"),
        ("EADRCC_MAX_BODY_BYTES", "10", "EADRCC_MAX_BODY_BYTES"),
    ],
)
def test_a_bad_value_is_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()
