from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from eadrcc.alerts import countries, geography, grouping, rules, signature
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


def test_quakes_with_origin_times_over_an_hour_apart_are_two_events() -> None:
    group = {
        "external_ids": {},
        "hazard": "earthquake",
        "status": "Actual",
        "lat": 37.17,
        "lon": 37.03,
        "first_sent": T,
        "last_sent": T,
        "origin_at": T,
    }
    assert grouping.same_event(alert(onset=T + timedelta(minutes=40)), group)
    assert not grouping.same_event(alert(onset=T + timedelta(hours=6, minutes=30)), group)
    assert grouping.same_event(alert(sent=T + timedelta(hours=6)), group)  # no origin given
    assert not grouping.same_event(alert(status="Exercise"), group)
    flood = {**group, "hazard": "flood"}
    assert grouping.same_event(alert(hazard="flood", onset=T + timedelta(hours=6)), flood)


def test_known_events_are_open_near_and_of_the_same_kind() -> None:
    open_quake = {
        "id": "emg_1",
        "hazard": "earthquake",
        "exercise": False,
        "status": "active",
        "lat": 37.5,
        "lon": 37.2,
        "created_at": T + timedelta(hours=3),
    }
    assert grouping.known_event(alert(), [open_quake]) == "emg_1"
    assert grouping.known_event(alert(status="Exercise"), [open_quake]) is None
    assert grouping.known_event(alert(status="Test"), [open_quake]) is None
    assert grouping.known_event(alert(), [{**open_quake, "status": "closed"}]) is None
    assert grouping.known_event(alert(), [{**open_quake, "lat": 41.0}]) is None  # ~390 km
    late = {**open_quake, "created_at": T - timedelta(days=40)}
    assert grouping.known_event(alert(), [late]) is None


def test_stale_alerts() -> None:
    now, age = T + timedelta(hours=1), rules.DEFAULT_MAX_AGE
    assert rules.stale_reason(alert(), now=now, max_age=age) is None
    assert rules.stale_reason(alert(current=False), now=now, max_age=age)
    assert rules.stale_reason(alert(expires=T + timedelta(minutes=30)), now=now, max_age=age)
    assert rules.stale_reason(alert(), now=T + timedelta(hours=73), max_age=age)


@pytest.mark.parametrize(
    ("code", "iso3"),
    [("AU-NSW", "AUS"), ("au-nsw", "AUS"), ("NO", "NOR"), ("TUR", "TUR"), ("GB-ENG", "GBR"),
     ("XX-YY", None), ("ZZZ", None), ("", None)],
)  # fmt: skip
def test_country_codes(code: str, iso3: str | None) -> None:
    assert countries.iso3_of_code(code) == iso3


def test_country_names_as_gdacs_writes_them() -> None:
    assert countries.iso3_of_names("Bulgaria, Iraq, Iran, Turkey") == ["BGR", "IRQ", "IRN", "TUR"]
    assert countries.iso3_of_names("Atlantis, , Norway") == ["NOR"]


def test_countries_from_points_circles_and_polygons() -> None:
    assert geography.countries_of_point(64.13, -21.9) == ["ISL"]  # Reykjavík
    assert geography.countries_of_point(0.0, -30.0) == []  # mid-Atlantic
    assert geography.countries_of_point(35.9, 14.51) == ["MLT"]  # too small for 1:110m
    assert geography.countries_of_point(65.0, 179.5) == ["RUS"]  # unwrapped past 180
    # A circle over the Swiss-French-Italian border touches all three.
    assert geography.countries_of_circle(geography.Circle(46.0, 7.5, 60)) == ["CHE", "FRA", "ITA"]
    reykjanes = [(63.75, -22.75), (64.05, -22.75), (64.05, -21.9), (63.75, -21.9), (63.75, -22.75)]
    assert geography.countries_of_polygon(reykjanes) == ["ISL"]
    # A point on a real coast the coarse shape cuts off still counts (the margin).
    assert geography.countries_of_point(41.02, 28.98) == ["TUR"]  # Istanbul


def _ring(south: float, north: float, west: float, east: float) -> list[tuple[float, float]]:
    """A CAP ring (lat, lon) from `west` eastwards to `east`, which may lie past 180."""
    return [(south, west), (north, west), (north, east), (south, east), (south, west)]


def test_polygons_across_the_antimeridian_name_only_the_countries_they_cover() -> None:
    # Read as written, each ring spans the other ~355° of longitude at its latitudes
    # (Australia, Africa and South America for the first; Canada, Europe for the next).
    fiji = _ring(-19.5, -15.5, 176.5, -178.5)
    assert geography.countries_of_polygon(fiji) == ["FJI"]
    chukotka = _ring(64.0, 69.0, 172.0, -174.0)
    assert geography.countries_of_polygon(chukotka) == ["RUS"]
    # Across the Bering Strait: the part past 180 finds Alaska too.
    bering = _ring(63.0, 66.0, 178.0, -164.0)
    assert geography.countries_of_polygon(bering) == ["RUS", "USA"]
    # Wound westwards, or a circle straddling the line: the same countries.
    assert geography.countries_of_polygon(fiji[::-1]) == ["FJI"]
    assert geography.countries_of_circle(geography.Circle(65.5, -179.9, 40)) == ["RUS"]
    # A ring that does not cross the line is left as it is (the mid-Pacific is empty).
    assert geography.countries_of_polygon(_ring(-10.0, -5.0, -179.5, -170.0)) == []
