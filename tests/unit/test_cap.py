"""CAP parsing and validation on every real sample, with exact expectations."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from eadrcc.alerts import cap

CAP = Path(__file__).parents[1] / "data" / "cap"

# file → (version, msg_type, status, hazard, severity, certainty, identifier, reference count)
VALID = {
    "google-caplib_australia.cap.xml": (
        "1.2",
        "Alert",
        "Actual",
        "wildfire",
        "Minor",
        "Observed",
        "tag:www.rfs.nsw.gov.au2011-10-06:40184",
        0,
    ),
    "google-caplib_canada.cap.xml": (
        "1.2",
        "Update",
        "Actual",
        "storm",
        "Minor",
        "Observed",
        "2.49.0.1.124.6bddbc91.2012",
        2,
    ),
    "google-caplib_canada_signed.cap.xml": (
        "1.2",
        "Update",
        "Actual",
        "storm",
        "Moderate",
        "Likely",
        "2.49.0.1.124.f2c83f5f.2013",
        9,
    ),
    "google-caplib_earthquake-iso8859-1.cap.xml": (
        "1.2",
        "Alert",
        "Actual",
        "earthquake",
        "Unknown",
        "Likely",
        "USGS-earthquakes-usB000D5T4.3947362.7.20121014T225304.360Z.0",
        0,
    ),
    "google-caplib_earthquake.cap.xml": (
        "1.1",
        "Alert",
        "Actual",
        "earthquake",
        "Unknown",
        "Likely",
        "USGS-earthquakes-us2010apcd.6.20100831T000925.496Z",
        0,
    ),
    "google-caplib_no_optional_fields.cap.xml": (
        "1.1",
        "Alert",
        "Actual",
        "other",
        "Unknown",
        "Unknown",
        "USGS-earthquakes-us2010apcd.6.20100831T000925.496Z",
        0,
    ),
    "google-caplib_wcatwc-warning.cap.xml": (
        "1.2",
        "Update",
        "Actual",
        "tsunami",
        "Extreme",
        "Likely",
        "PAAQ-2-lqw6d6",
        1,
    ),
    "google-caplib_weather.cap.xml": (
        "1.1",
        "Alert",
        "Actual",
        "flood",
        "Severe",
        "Possible",
        "NOAA-NWS-ALERTS-MT20100830100700TFXFlashFloodWatchTFX20100830180000MT",
        0,
    ),
    "oasis-cap12-appendixA.1.cap.xml": (
        "1.2",
        "Alert",
        "Actual",
        "other",
        "Severe",
        "Likely",
        "43b080713727",
        0,
    ),
    "oasis-cap12-appendixA.2.cap.xml": (
        "1.2",
        "Alert",
        "Actual",
        "storm",
        "Severe",
        "Observed",
        "KSTO1055887203",
        0,
    ),
    "oasis-cap12-appendixA.3.cap.xml": (
        "1.2",
        "Update",
        "Actual",
        "earthquake",
        "Minor",
        "Observed",
        "TRI13970876.2",
        1,
    ),
    "oasis-cap12-appendixA.4.cap.xml": (
        "1.2",
        "Alert",
        "Actual",
        "other",
        "Severe",
        "Likely",
        "KAR0-0306112239-SW",
        0,
    ),
    "oasiscap_google-PAAQ-4-mg5a94.cap.xml": (
        "1.2",
        "Update",
        "Actual",
        "tsunami",
        "Unknown",
        "Unlikely",
        "PAAQ-4-mg5a94",
        3,
    ),
    "oasiscap_ipaws-5e6dd9de.cap.xml": (
        "1.2",
        "Cancel",
        "Actual",
        "other",
        "Unknown",
        "Unknown",
        "AS-NV-58d33e3a-1f9a-4909-9d59-34e90b33b3e8",
        1,
    ),
    "oasiscap_ipaws-5e7e0fc5.cap.xml": (
        "1.2",
        "Alert",
        "Actual",
        "other",
        "Extreme",
        "Observed",
        "402013233923688",
        0,
    ),
    "oasiscap_nws-5c2cf27b.cap.xml": (
        "1.1",
        "Alert",
        "Actual",
        "storm",
        "Severe",
        "Likely",
        "NOAA-NWS-ALERTS-MN1261CB03F0E0.BlizzardWarning.1261CB10BF00MN.DLHWSWDLH.5c2cf27b1f56885d61654dc47fa411d5",
        0,
    ),
}

INVALID = {
    "google-caplib_canada_errors.cap.xml": {"references"},
    "google-caplib_invalid.cap.xml": {"alert"},  # <scope> missing
    "google-caplib_noaa_errors.cap.xml": {
        "urgency",
        "severity",
        "certainty",
        "info[0].area[0].polygon[0]",
    },
}


def test_every_sample_is_covered() -> None:
    assert set(VALID) | set(INVALID) | {"google-caplib_xee.cap.xml"} == {
        p.name for p in CAP.glob("*.xml")
    }


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_samples(name: str) -> None:
    version, msg_type, status, hazard, severity, certainty, identifier, refs = VALID[name]
    alert = cap.parse((CAP / name).read_bytes())
    assert (
        alert.cap_version,
        alert.msg_type,
        alert.status,
        alert.hazard,
        alert.severity,
        alert.certainty,
        alert.identifier,
        len(alert.references),
    ) == (version, msg_type, status, hazard, severity, certainty, identifier, refs)
    assert alert.sent.tzinfo is not None and alert.source == "cap"


def test_fields_of_the_oasis_earthquake_update() -> None:
    alert = cap.parse((CAP / "oasis-cap12-appendixA.3.cap.xml").read_bytes())
    assert alert.sender == "trinet@caltech.edu"
    assert alert.sent.isoformat() == "2003-06-11T20:56:00-07:00"
    assert alert.references[0].model_dump() == {
        "sender": "trinet@caltech.edu",
        "identifier": "TRI13970876.1",
        "sent": "2003-06-11T20:30:00-07:00",
    }
    assert alert.location is not None
    assert (round(alert.location.lat, 4), round(alert.location.lon, 4)) == (32.9525, -115.5527)


def test_english_is_preferred_among_languages() -> None:
    alert = cap.parse((CAP / "oasis-cap12-appendixA.4.cap.xml").read_bytes())
    assert alert.event == "Child Abduction"


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_samples_name_every_problem(name: str) -> None:
    with pytest.raises(cap.Problems) as problems:
        cap.parse((CAP / name).read_bytes())
    assert set(problems.value.problems) == INVALID[name]


def test_the_xxe_sample_is_refused_without_touching_anything() -> None:
    with pytest.raises(cap.Unsafe, match="DTDForbidden"):
        cap.parse((CAP / "google-caplib_xee.cap.xml").read_bytes())


def test_an_entity_bomb_is_refused_at_once() -> None:
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY l0 "lol">{lol}]>'
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&l9;</identifier>'
        "</alert>"
    ).encode()
    started = time.perf_counter()
    with pytest.raises(cap.Unsafe):
        cap.parse(bomb)
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not xml",
        b'<?xml version="1.0" encoding="no-such"?><a/>',
        b"<alert/>",
        b"<a:alert xmlns:a='urn:other'/>",
        b"\xff\xfe<x>",
        b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'>",
    ],
)
def test_junk_is_refused_cleanly(raw: bytes) -> None:
    with pytest.raises((cap.Unsafe, cap.Problems)):
        cap.parse(raw)


def _with(body: str) -> bytes:
    return (
        f'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>X1</identifier>'
        f"<sender>s@example.org</sender>{body}</alert>"
    ).encode()


HEAD = (
    "<sent>2026-02-06T04:17:00+03:00</sent><status>Actual</status>"
    "<msgType>{m}</msgType><scope>{s}</scope>"
)


def test_rules_the_schema_cannot_express() -> None:
    info = (
        "<info><category>Geo</category><event>Earthquake</event><urgency>Immediate</urgency>"
        "<severity>Extreme</severity><certainty>Observed</certainty>"
        "<effective>2026-02-06T04:17:00+03:00</effective>"
        "<expires>2026-02-06T04:00:00+03:00</expires>"
        "<area><areaDesc>x</areaDesc><polygon>37,37 38,37 38,38 37,38</polygon>"
        "<circle>37.2,37.0</circle></area></info>"
    )
    with pytest.raises(cap.Problems) as problems:
        cap.parse(_with(HEAD.format(m="Update", s="Private") + info))
    assert problems.value.problems == {
        "addresses": "required when scope is Private",
        "references": "a Update must reference the message(s) it is about",
        "info[0].area[0].polygon[0]": "a polygon must be closed (its first and last points equal)",
        "info[0].area[0].circle[0]": "expected 'lat,lon radius_km'",
        "info[0].expires": "must be after effective",
    }


def test_references_must_be_triples() -> None:
    body = HEAD.format(m="Cancel", s="Public") + "<references>only-an-id</references>"
    with pytest.raises(cap.Problems) as problems:
        cap.parse(_with(body))
    assert "sender,identifier,sent" in problems.value.problems["references"]
