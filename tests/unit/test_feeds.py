"""GDACS RSS and USGS GeoJSON parsers, on recorded samples (tests/data/feeds/SOURCES.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import defusedxml.ElementTree as SafeET
import pytest
from structlog.testing import capture_logs

from eadrcc.alerts.feeds import (
    FeedError,
    parse_gdacs_rss,
    parse_usgs_geojson,
    read_gdacs_rss,
    read_usgs_geojson,
)
from eadrcc.alerts.models import AlertIn
from eadrcc.models import Point
from tests.conftest import TESTDATA

FEEDS = TESTDATA / "feeds"
GDACS = (FEEDS / "aio-georss-gdacs_fixture_gdacs-1.rss.xml").read_bytes()
GDACS_BBOX_ONLY = (FEEDS / "aio-georss-gdacs_fixture_gdacs-2_bbox-only.rss.xml").read_bytes()
USGS = (FEEDS / "usgs_significant_month_20231011.geojson").read_bytes()
USGS_SYNTHETIC = (FEEDS / "aio-geojson-usgs_fixture_earthquakes-1_synthetic.json").read_bytes()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# ---- GDACS ------------------------------------------------------------------------

TC_DESCRIPTION = (
    "From 29/12/2019 to 29/12/2019, a Tropical Storm (maximum wind speed of 93 km/h) "
    "CALVINIA-19 was active in SWIndian. The cyclone affects these countries: Mauritius "
    "(vulnerability Medium). Estimated population affected by category 1 (120 km/h) wind "
    "speeds or higher is 0."
)
EQ_DESCRIPTION = (
    "On 12/28/2019 3:36:35 PM, an earthquake occurred in South Africa potentially affecting "
    "No people within 100km. The earthquake had Magnitude 5.5M, Depth:10km."
)


def gdacs_alert(**fields: Any) -> AlertIn:
    base: dict[str, Any] = {
        "source": "gdacs",
        "sender": "gdacs.org",
        "status": "Actual",
        "severity": "Minor",
        "level": "green",
        "certainty": "Likely",
    }
    return AlertIn(**(base | fields))


def test_gdacs_sample_gives_its_four_items_exactly() -> None:
    assert parse_gdacs_rss(GDACS) == [
        gdacs_alert(
            identifier="TC1000643-1",
            sent=at("2019-12-29T12:00:00+00:00"),
            event="Tropical cyclone",
            hazard="storm",
            category=["Met"],
            headline="Green alert for tropical cyclone CALVINIA-19. Population affected by "
            "Category 1 (120 km/h) wind speeds or higher is 0.",
            description=TC_DESCRIPTION,
            location=Point(lat=-19.4, lon=59.8),
            countries=["MUS"],
            external_ids={"gdacs": "TC1000643"},
        ),
        gdacs_alert(
            identifier="EQ1199929-1287798",
            sent=at("2019-12-28T15:36:35+00:00"),
            event="Earthquake",
            hazard="earthquake",
            category=["Geo"],
            certainty="Observed",
            headline="Green earthquake alert (Magnitude 5.5M, Depth:10km) in South Africa "
            "28/12/2019 15:36 UTC, No people within 100km.",
            description=EQ_DESCRIPTION,
            location=Point(lat=-44.5653, lon=37.087),
            countries=["ZAF"],
            external_ids={"gdacs": "EQ1199929"},
            magnitude=5.5,
            onset=at("2019-12-28T15:36:35+00:00"),  # fromdate: the quake's origin time
        ),
        gdacs_alert(
            identifier="DR1013682-1",
            sent=at("2019-12-30T01:27:00+00:00"),
            event="Drought",
            hazard="drought",
            category=["Env"],
            headline="Drought is on going in Bulgaria, Iraq, Iran, Turkey",
            description="The  Drought alert level is Green.",
            location=Point(lat=39.544, lon=31.926),
            countries=["BGR", "IRQ", "IRN", "TUR"],  # <gdacs:country> names them all
            external_ids={"gdacs": "DR1013682"},
        ),
        gdacs_alert(
            identifier="DR1013588-1",
            sent=at("2019-12-30T01:27:00+00:00"),
            event="Drought",
            hazard="drought",
            category=["Env"],
            headline="Drought is on going in Australia",
            description="The  Drought alert level is Green.",
            location=Point(lat=-31.67, lon=117.197),
            countries=["AUS"],
            external_ids={"gdacs": "DR1013588"},
        ),
    ]


def test_each_gdacs_item_keeps_its_own_xml() -> None:
    items = read_gdacs_rss(GDACS)
    raws = [SafeET.fromstring(item.raw) for item in items]
    ns = {"gdacs": "http://www.gdacs.org"}
    assert [r.findtext("gdacs:eventid", namespaces=ns) for r in raws] == [
        "1000643",
        "1199929",
        "1013682",
        "1013588",
    ]
    assert all(r.tag == "item" for r in raws)


def test_an_item_with_only_a_bounding_box_is_discarded_and_logged() -> None:
    with capture_logs() as logs:
        assert parse_gdacs_rss(GDACS_BBOX_ONLY) == []
    assert logs == [
        {
            "event": "feed_item_discarded",
            "log_level": "warning",
            "feed": "gdacs",
            "item": 1,
            "reason": "only a bounding box, no point",
        }
    ]


def rss(*items: str) -> bytes:
    body = "".join(f"<item>{item}</item>" for item in items)
    return (
        '<rss version="2.0" xmlns:gdacs="http://www.gdacs.org" '
        'xmlns:geo="http://www.w3.org/2003/01/geo/wgs84_pos#" '
        'xmlns:georss="http://www.georss.org/georss" xmlns:glide="http://glidenumber.net">'
        f"<channel><title>t</title>{body}</channel></rss>"
    ).encode()


def gdacs_item(*extra: str, **tags: str | None) -> str:
    values: dict[str, str | None] = {
        "gdacs:eventtype": "EQ",
        "gdacs:eventid": "1395000",
        "gdacs:episodeid": "1500000",
        "pubDate": "Mon, 06 Feb 2023 01:17:34 GMT",
        "gdacs:alertlevel": "Red",
        "georss:point": "37.1 37.0",
    }
    values.update(tags)
    return "".join([*(f"<{k}>{v}</{k}>" for k, v in values.items() if v is not None), *extra])


def test_a_minimal_red_earthquake_item() -> None:
    [alert] = parse_gdacs_rss(rss(gdacs_item()))
    assert alert == AlertIn(
        source="gdacs",
        identifier="EQ1395000-1500000",
        sender="gdacs.org",
        sent=at("2023-02-06T01:17:34+00:00"),
        event="Earthquake",
        hazard="earthquake",
        category=["Geo"],
        severity="Extreme",
        certainty="Observed",
        location=Point(lat=37.1, lon=37.0),
        level="red",
        external_ids={"gdacs": "EQ1395000"},
    )


@pytest.mark.parametrize(
    ("tags", "field", "expected"),
    [
        ({"gdacs:alertlevel": "Orange"}, "severity", "Severe"),
        ({"gdacs:alertlevel": "Green"}, "level", "green"),
        ({"gdacs:alertlevel": "Purple"}, "level", None),
        ({"gdacs:alertlevel": None}, "severity", "Unknown"),
        ({"gdacs:eventtype": "FL"}, "hazard", "flood"),
        ({"gdacs:eventtype": "VO"}, "event", "Volcano"),
        ({"gdacs:eventtype": "WF"}, "hazard", "wildfire"),
        ({"gdacs:eventtype": "TS"}, "hazard", "tsunami"),
        ({"gdacs:eventtype": "tc"}, "identifier", "TC1395000-1500000"),
        ({"gdacs:eventtype": "XX"}, "hazard", "other"),
        ({"gdacs:eventtype": "FL"}, "certainty", "Likely"),
        ({"gdacs:iso3": "TUR, SYR,,tur,TURKEY,TUR"}, "countries", ["TUR", "SYR"]),
        ({"gdacs:iso3": ""}, "countries", []),
        ({"gdacs:glide": "EQ-2023-000015-TUR"}, "external_ids", {
            "gdacs": "EQ1395000", "glide": "EQ-2023-000015-TUR"}),
        ({"gdacs:istest": "true"}, "status", "Test"),
        ({"gdacs:temporary": "true"}, "status", "Actual"),
        ({"pubDate": None, "gdacs:fromdate": "Mon, 06 Feb 2023 01:17:00 +0300"}, "sent",
         at("2023-02-05T22:17:00+00:00")),
        ({"pubDate": "yesterday", "gdacs:fromdate": "Mon, 06 Feb 2023 01:17:00 -0000"}, "sent",
         at("2023-02-06T01:17:00+00:00")),
        ({"georss:point": None, "geo:Point": "<geo:lat>1.5</geo:lat><geo:long>-2</geo:long>"},
         "location", Point(lat=1.5, lon=-2)),
        ({"georss:point": None, "geo:lat": "1.5", "geo:long": "-2"}, "location",
         Point(lat=1.5, lon=-2)),
    ],
)  # fmt: skip
def test_gdacs_item_variants(tags: dict[str, str | None], field: str, expected: object) -> None:
    [alert] = parse_gdacs_rss(rss(gdacs_item(**tags)))
    assert getattr(alert, field) == expected


@pytest.mark.parametrize(
    ("kind", "value", "magnitude"),
    [("EQ", "7.8", 7.8), ("EQ", "strong", None), ("EQ", "nan", None), ("TC", "92.5", None)],
)
def test_magnitude_comes_from_the_severity_value_of_earthquakes(
    kind: str, value: str, magnitude: float | None
) -> None:
    severity = f"<gdacs:severity unit='M' value='{value}'>text</gdacs:severity>"
    [alert] = parse_gdacs_rss(rss(gdacs_item(severity, **{"gdacs:eventtype": kind})))
    assert alert.magnitude == magnitude


@pytest.mark.parametrize(
    ("tags", "reason"),
    [
        ({"georss:point": None}, "no position"),
        ({"georss:point": "north south"}, "the position is not a pair of numbers"),
        ({"georss:point": "37.1"}, "the position is not a pair of numbers"),
        ({"georss:point": "95 10"}, "the position (95.0, 10.0) is outside -90..90 / -180..180"),
        ({"gdacs:eventid": None}, "no <gdacs:eventid>"),
        ({"gdacs:episodeid": " "}, "no <gdacs:episodeid>"),
        ({"pubDate": "soon"}, "neither <pubDate> nor <gdacs:fromdate> holds a date"),
    ],
)
def test_items_that_cannot_be_alerts_are_discarded_and_the_rest_kept(
    tags: dict[str, str | None], reason: str
) -> None:
    with capture_logs() as logs:
        alerts = parse_gdacs_rss(rss(gdacs_item(**tags), gdacs_item()))
    assert [a.identifier for a in alerts] == ["EQ1395000-1500000"]
    assert [entry["reason"] for entry in logs] == [reason]


def test_an_item_the_alert_model_refuses_is_discarded_naming_the_field() -> None:
    with capture_logs() as logs:
        assert parse_gdacs_rss(rss(gdacs_item(**{"gdacs:eventid": "9" * 600}))) == []
    assert logs[0]["invalid"] == ["external_ids.gdacs", "identifier"]


def test_an_empty_channel_is_an_empty_feed() -> None:
    assert parse_gdacs_rss(rss()) == []


# ---- USGS -------------------------------------------------------------------------

# (id, origin time, magnitude, PAGER alert, tsunami flag, lat, lon), read off the sample.
USGS_SAMPLE = [
    ("us6000len8", "2023-10-11T00:41:56.160Z", 6.3, "red", False, 34.5565, 62.0449),
    ("us6000lec2", "2023-10-09T18:23:09.360Z", 5, None, False, 49.0862, 21.7825),
    ("uw61965081", "2023-10-09T02:21:08.750Z", 4.32, "green", True, 48.02433333333333,
     -122.70166666666667),
    ("us6000ldqf", "2023-10-07T08:40:13.628Z", 6.9, "green", False, -5.5066, 146.1982),
    ("us6000ldqd", "2023-10-07T08:34:26.734Z", 6.7, "green", True, -5.5997, 146.1315),
    ("us6000ldpv", "2023-10-07T07:40:29.417Z", 5.9, "yellow", False, 34.6391, 62.0327),
    ("us6000ldpm", "2023-10-07T07:12:50.042Z", 6.3, "orange", False, 34.5743, 61.9037),
    ("us6000ldph", "2023-10-07T06:49:41.577Z", 5.5, "yellow", False, 34.5414, 61.9547),
    ("us6000ldpg", "2023-10-07T06:41:03.428Z", 6.3, "orange", False, 34.6102, 61.9242),
    ("us6000ldny", "2023-10-07T05:06:55.719Z", 5.9, "green", False, 17.0943, -94.9609),
    ("ak023ctna5d5", "2023-10-06T14:01:18.912Z", 4.2, "green", False, 61.2601, -149.9258),
    ("us6000lcri", "2023-10-04T11:21:48.436Z", 6.4, "green", False, 5.3416, 126.0595),
    ("us6000lcgj", "2023-10-03T09:21:04.291Z", 5.7, "yellow", False, 29.4987, 81.253),
    ("us6000lc8t", "2023-10-02T12:45:16.096Z", 5.4, "yellow", False, 25.9591, 90.6152),
    ("nc73943821", "2023-09-30T15:26:26.760Z", 4.65, "green", True, 40.5588333, -124.2886667),
    ("nc73938736", "2023-09-19T04:13:10.380Z", 4.53, "green", True, 37.4381667, -121.2958333),
    ("us7000kwg2", "2023-09-18T13:21:23.535Z", 6.3, "green", False, 26.5312, 125.2312),
    ("us7000kv90", "2023-09-12T11:03:18.873Z", 6.3, "green", False, 19.2687, 121.2178),
]  # fmt: skip
PAGER = {
    "red": "Extreme",
    "orange": "Severe",
    "yellow": "Moderate",
    "green": "Minor",
    None: "Unknown",
}


def test_usgs_sample_gives_all_eighteen_quakes() -> None:
    alerts = parse_usgs_geojson(USGS)
    got = [
        (
            a.identifier,
            a.onset.isoformat(timespec="milliseconds").replace("+00:00", "Z") if a.onset else None,
            a.magnitude,
            a.level,
            "Tsunami flag: set" in (a.description or ""),
            a.location.lat if a.location else None,
            a.location.lon if a.location else None,
        )
        for a in alerts
    ]
    assert got == USGS_SAMPLE
    assert [a.severity for a in alerts] == [PAGER[row[3]] for row in USGS_SAMPLE]
    assert {(a.source, a.sender, a.event, a.hazard, a.certainty, a.status) for a in alerts} == {
        ("usgs", "earthquake.usgs.gov", "Earthquake", "earthquake", "Observed", "Actual")
    }
    assert all(a.external_ids == {"usgs": a.identifier} and a.countries == [] for a in alerts)


def test_the_red_afghanistan_quake_in_full() -> None:
    assert parse_usgs_geojson(USGS)[0] == AlertIn(
        source="usgs",
        identifier="us6000len8",
        sender="earthquake.usgs.gov",
        sent=at("2023-10-11T19:57:32.893+00:00"),  # `updated`: each revision is a message
        onset=at("2023-10-11T00:41:56.160+00:00"),  # `time`: when the ground shook
        event="Earthquake",
        hazard="earthquake",
        category=["Geo"],
        severity="Extreme",
        certainty="Observed",
        headline="M 6.3 - western Afghanistan",
        description="Depth: 9 km.\nPAGER alert: red.\nTsunami flag: not set.\n"
        "Details: https://earthquake.usgs.gov/earthquakes/eventpage/us6000len8",
        location=Point(lat=34.5565, lon=62.0449),
        level="red",
        external_ids={"usgs": "us6000len8"},
        magnitude=6.3,
    )


def test_headlines_and_the_tsunami_flag() -> None:
    alerts = {a.identifier: a for a in parse_usgs_geojson(USGS)}
    assert alerts["us6000lec2"].headline == "M 5.0 - Poland-Slovakia border region"
    assert alerts["uw61965081"].headline == "M 4.32 - Port Townsend, WA"
    assert alerts["uw61965081"].description == (
        "Depth: 57.17 km.\nPAGER alert: green.\n"
        "Tsunami flag: set; check the tsunami warning centres.\n"
        "Details: https://earthquake.usgs.gov/earthquakes/eventpage/uw61965081"
    )


def test_each_usgs_item_keeps_its_own_feature_as_json() -> None:
    items = read_usgs_geojson(USGS)
    features = json.loads(USGS)["features"]
    assert [json.loads(item.raw) for item in items] == features


def test_the_synthetic_sample_with_a_null_magnitude() -> None:
    alerts = parse_usgs_geojson(USGS_SYNTHETIC)
    assert [(a.identifier, a.magnitude, a.headline) for a in alerts] == [
        ("1234", 3.0, "M 3.0 - Place 1"),
        ("2345", 1.25, "M 1.25 - Place 2"),
        ("3456", None, "Earthquake of unknown magnitude - Place 3"),
    ]
    # "Alert 1" is not a PAGER level: no level, severity unknown.
    assert {(a.level, a.severity) for a in alerts} == {(None, "Unknown")}
    assert {a.onset for a in alerts} == {datetime(2018, 9, 22, 8, 0, tzinfo=UTC)}
    assert {a.sent for a in alerts} == {datetime(2018, 9, 22, 8, 30, tzinfo=UTC)}
    assert [a.location for a in alerts] == [Point(lat=-32.2345, lon=149.1234)] * 3
    assert alerts[0].description == "Depth: 0.1 km.\nPAGER alert: none.\nTsunami flag: not set."


def feature(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "Feature",
        "id": "us1",
        "properties": {"mag": 5.1, "place": "P", "time": 1_700_000_000_000, "alert": None},
        "geometry": {"type": "Point", "coordinates": [10.0, 20.0, 5.0]},
    }
    return {k: v for k, v in (base | changes).items() if v is not ...}


def collection(*features: object) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("a string", "a feature that is not an object"),
        (feature(id=...), "a feature without an id or properties"),
        (feature(id=""), "a feature without an id or properties"),
        (feature(id=7), "a feature without an id or properties"),
        (feature(properties=None), "a feature without an id or properties"),
        (feature(geometry=None), "no point geometry"),
        (feature(geometry={"type": "Point", "coordinates": [1]}), "no point geometry"),
        (feature(geometry={"coordinates": ["1", 2]}), "the coordinates are not numbers"),
        (feature(geometry={"coordinates": [True, 2]}), "the coordinates are not numbers"),
        (
            feature(geometry={"coordinates": [200, 2]}),
            "the position (2.0, 200.0) is outside -90..90 / -180..180",
        ),
        (feature(properties={"time": None}), "no origin time"),
        (feature(properties={"time": "2023-10-11"}), "no origin time"),
        (feature(properties={"time": 10**20}), "the origin time is out of range"),
        (feature(properties={"time": 10**400}), "no origin time"),
    ],
)
def test_usgs_features_that_cannot_be_alerts_are_discarded(bad: object, reason: str) -> None:
    with capture_logs() as logs:
        alerts = parse_usgs_geojson(collection(bad, feature(id="us2")))
    assert [a.identifier for a in alerts] == ["us2"]
    assert [entry["reason"] for entry in logs] == [reason]


def test_usgs_odd_values_are_tolerated() -> None:
    props = {"time": 1_700_000_000_000, "mag": "5", "place": 7, "alert": "RED", "tsunami": "1"}
    [alert] = parse_usgs_geojson(collection(feature(properties=props)))
    assert (alert.magnitude, alert.headline, alert.level) == (
        None,
        "Earthquake of unknown magnitude",
        "red",
    )
    assert "Tsunami flag: not set." in (alert.description or "")


def test_an_empty_usgs_feed() -> None:
    assert parse_usgs_geojson(collection()) == []


# ---- malformed documents ----------------------------------------------------------

XXE = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<rss><channel><item><title>&x;</title></item></channel></rss>"
)
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
    b"<rss><channel><title>&b;</title></channel></rss>"
)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not well-formed XML"),
        (b"not xml at all", "not well-formed XML"),
        (USGS, "JSON received, GDACS RSS expected"),
        (GDACS[: len(GDACS) // 2], "not well-formed XML"),
        (b'<?xml version="1.0" encoding="klingon"?><rss/>', "not well-formed XML"),
        (XXE, "not well-formed XML: DTDForbidden"),
        (BILLION_LAUGHS, "not well-formed XML: DTDForbidden"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'/>", "root element is <{http://www.w3.org"),
        (b"<html><body>502 Bad Gateway</body></html>", "root element is <html>"),
        (b"<rss version='2.0'/>", "without a <channel>"),
    ],
)
def test_gdacs_refuses_what_is_not_rss(data: bytes, message: str) -> None:
    with pytest.raises(FeedError, match=message.replace("{", r"\{")):
        parse_gdacs_rss(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not JSON"),
        (GDACS, "not JSON"),
        (USGS[: len(USGS) // 2], "not JSON"),
        (b"\xff\xfe\xfa", "not JSON"),
        (b'{"type": "FeatureCollection", "features": [NaN]}', "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (b"[]", "not a GeoJSON FeatureCollection"),
        (b'{"type": "Feature"}', "not a GeoJSON FeatureCollection"),
        (b'{"type": "FeatureCollection"}', "without a 'features' list"),
        (b'{"type": "FeatureCollection", "features": {}}', "without a 'features' list"),
    ],
)
def test_usgs_refuses_what_is_not_a_feature_collection(data: bytes, message: str) -> None:
    with pytest.raises(FeedError, match=message):
        parse_usgs_geojson(data)
