from __future__ import annotations

import pytest

from eadrcc.alerts.feeds import read_gdacs_rss, read_usgs_geojson
from eadrcc.alerts.poller import backoff, configured
from eadrcc.config import ConfigError, Settings, load_settings


def test_no_feed_is_on_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EADRCC_GDACS_URL", "EADRCC_USGS_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert configured(settings) == []
    assert settings.feed_interval_seconds == 300


def test_configured_feeds_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EADRCC_GDACS_URL", "https://www.gdacs.org/xml/rss.xml")
    monkeypatch.setenv("EADRCC_USGS_URL", "")
    [gdacs] = configured(load_settings())
    assert (gdacs.name, gdacs.url, gdacs.read) == (
        "gdacs",
        "https://www.gdacs.org/xml/rss.xml",
        read_gdacs_rss,
    )
    both = configured(Settings(gdacs_url="http://a/g", usgs_url="http://a/u"))
    assert [(f.name, f.read) for f in both] == [
        ("gdacs", read_gdacs_rss),
        ("usgs", read_usgs_geojson),
    ]
    assert len({f.lock_key for f in both}) == 2


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("EADRCC_GDACS_URL", "ftp://gdacs.org/rss.xml"),
        ("EADRCC_USGS_URL", "earthquake.usgs.gov"),
        ("EADRCC_FEED_INTERVAL_SECONDS", "0.01"),
        ("EADRCC_FEED_TIMEOUT_SECONDS", "0"),
    ],
)
def test_a_bad_feed_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_backoff_doubles_per_failure_up_to_the_cap() -> None:
    assert [backoff(300, 3600, n) for n in range(6)] == [300, 600, 1200, 2400, 3600, 3600]
    assert backoff(300, 3600, 10_000) == 3600
    assert backoff(300, 60, 3) == 300  # a cap below the interval never shortens it
