from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from eadrcc.alerts import grouping, rules, signature
from eadrcc.alerts.models import AlertIn
from eadrcc.alerts.ratelimit import RateLimiter
from eadrcc.errors import RateLimited, Unauthorized

T = datetime(2023, 2, 6, 1, 17, tzinfo=UTC)
KNOWN = {"TUR", "NOR", "GEO"}


def alert(**over: object) -> AlertIn:
    base: dict[str, object] = {
        "identifier": "a1",
        "sender": "s",
        "sent": T,
        "event": "Earthquake",
        "hazard": "earthquake",
        "severity": "Extreme",
        "certainty": "Observed",
        "location": {"lat": 37.2, "lon": 37.0},
        "countries": ["TUR"],
    }
    return AlertIn.model_validate({**base, **over})


@pytest.mark.parametrize(
    ("over", "opens", "exercise"),
    [
        ({}, True, False),
        ({"status": "Exercise"}, True, True),
        ({"status": "Test"}, False, False),
        ({"status": "Draft"}, False, False),
        ({"msg_type": "Cancel"}, False, False),
        ({"severity": "Moderate"}, False, False),
        ({"certainty": "Possible"}, False, False),
        ({"severity": "Minor", "level": "red"}, True, False),
        ({"severity": "Unknown", "level": "orange"}, True, False),
        ({"severity": "Unknown", "level": "green"}, False, False),
        ({"countries": ["BRA"]}, False, False),  # not an Ally or partner
        ({"countries": []}, False, False),
        ({"location": None}, False, False),
    ],
)
def test_watch_rules(over: dict[str, object], opens: bool, exercise: bool) -> None:
    watch = rules.watch_for(alert(**over), KNOWN)
    assert (watch is not None) is opens
    if watch:
        assert watch.exercise is exercise and watch.countries == ["TUR"]


def test_one_event_through_two_sources() -> None:
    group = {
        "external_ids": {"gdacs": "EQ1"},
        "hazard": "earthquake",
        "lat": 37.5,
        "lon": 37.3,
        "first_sent": T,
        "last_sent": T,
    }
    assert grouping.same_event(alert(external_ids={"gdacs": "EQ1"}, hazard="flood"), group)
    assert grouping.same_event(alert(sent=T + timedelta(hours=2)), group)  # ~40 km, 2 h later
    assert not grouping.same_event(alert(sent=T + timedelta(hours=30)), group)
    assert not grouping.same_event(alert(location={"lat": 40.0, "lon": 37.0}), group)  # ~280 km
    assert not grouping.same_event(alert(hazard="flood"), group)


def test_hazards_and_countries_from_text() -> None:
    assert rules.hazard_of("Tsunami Warning", ["Geo"]) == "tsunami"
    assert rules.hazard_of("Something odd", ["Fire"]) == "wildfire"
    assert rules.hazard_of("Something odd", []) == "other"
    names = {"norway": "NOR", "georgia": "GEO"}
    assert rules.countries_in_text("M 7.8 - 26 km ENE of Nurdağı, Turkey", names) == ["TUR"]
    assert rules.countries_in_text("Flooding in Georgia and Norway", names) == ["NOR", "GEO"]


def test_polygons_and_circles() -> None:
    assert rules.polygon_problem("1,1 1,2 2,2 1,1") is None
    assert "closed" in (rules.polygon_problem("1,1 1,2 2,2 2,1") or "")
    assert "at least 4" in (rules.polygon_problem("1,1 1,2 1,1") or "")
    assert "outside" in (rules.polygon_problem("1,1 100,2 2,2 1,1") or "")
    assert rules.parse_circle("37.2,37.0 50") == (37.2, 37.0, 50.0)
    assert rules.parse_circle("37.2,37.0") is None
    assert rules.parse_reference("a@b,ID-1,2023-02-06T04:17:00+03:00") == {
        "sender": "a@b",
        "identifier": "ID-1",
        "sent": "2023-02-06T04:17:00+03:00",
    }
    assert rules.parse_reference("a@b,ID-1") is None


def test_signatures() -> None:
    body = b'{"x": 1}'
    good = signature.sign("s3cret", 1_700_000_000, body)
    kwargs = {
        "timestamp": "1700000000",
        "body": body,
        "window_seconds": 300,
        "now": 1_700_000_100.0,
    }
    signature.verify(secrets=("s3cret",), signature=good, **kwargs)  # type: ignore[arg-type]
    signature.verify(secrets=("new", "s3cret"), signature=good, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(Unauthorized, match="bad signature"):
        signature.verify(secrets=("other",), signature=good, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(Unauthorized, match="bad signature"):
        signature.verify(secrets=("s3cret",), signature=good, **{**kwargs, "body": b"{}"})  # type: ignore[arg-type]
    with pytest.raises(Unauthorized, match="window"):
        signature.verify(secrets=("s3cret",), signature=good, **{**kwargs, "now": 1_700_000_301.0})  # type: ignore[arg-type]
    with pytest.raises(Unauthorized, match="required"):
        signature.verify(secrets=("s3cret",), signature=None, **kwargs)  # type: ignore[arg-type]


def test_rate_limit_refills() -> None:
    limiter = RateLimiter(per_minute=60, burst=2)
    limiter.take("a", now=0)
    limiter.take("a", now=0)
    with pytest.raises(RateLimited) as limited:
        limiter.take("a", now=0.1)
    assert limited.value.headers["Retry-After"] == "1"
    limiter.take("b", now=0.1)  # others are not affected
    limiter.take("a", now=1.2)
