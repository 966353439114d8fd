"""Fuzz the feed parsers: whatever comes in, a list of alerts or FeedError comes out."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eadrcc.alerts.feeds import FeedError, parse_gdacs_rss, parse_usgs_geojson
from eadrcc.alerts.models import AlertIn
from tests.unit.test_feeds import GDACS, GDACS_BBOX_ONLY, USGS, USGS_SYNTHETIC, collection, rss

Parser = Callable[[bytes], list[AlertIn]]

FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])  # fmt: skip


def only_feed_errors(parse: Parser, data: bytes) -> None:
    try:
        alerts = parse(data)
    except FeedError:
        return
    assert all(isinstance(a, AlertIn) for a in alerts)


@st.composite
def mangled(draw: st.DrawFn, sample: bytes) -> bytes:
    """The sample cut short, with a few bytes overwritten."""
    data = bytearray(sample[: draw(st.integers(0, len(sample)))])
    for _ in range(draw(st.integers(0, 4))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


@pytest.mark.parametrize("parse", [parse_gdacs_rss, parse_usgs_geojson])
@FUZZ
@given(data=st.binary(max_size=512))
def test_fuzz_random_bytes(parse: Parser, data: bytes) -> None:
    only_feed_errors(parse, data)


@FUZZ
@given(data=st.one_of(mangled(GDACS), mangled(GDACS_BBOX_ONLY)))
def test_fuzz_mangled_gdacs(data: bytes) -> None:
    only_feed_errors(parse_gdacs_rss, data)


@FUZZ
@given(data=st.one_of(mangled(USGS), mangled(USGS_SYNTHETIC)))
def test_fuzz_mangled_usgs(data: bytes) -> None:
    only_feed_errors(parse_usgs_geojson, data)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
FEATURE_PARTS = st.fixed_dictionaries(
    {},
    optional={
        "id": JSON | st.text(max_size=600),
        "properties": st.fixed_dictionaries(
            {}, optional={k: JSON for k in ("mag", "place", "time", "alert", "tsunami", "url")}
        ),
        "geometry": st.fixed_dictionaries({}, optional={"coordinates": st.lists(JSON, max_size=4)}),
    },
)


@FUZZ
@given(features=st.lists(FEATURE_PARTS | JSON, max_size=5))
def test_fuzz_usgs_features(features: list[object]) -> None:
    only_feed_errors(parse_usgs_geojson, collection(*features))


GDACS_TAGS = st.sampled_from(
    ["gdacs:eventtype", "gdacs:eventid", "gdacs:episodeid", "pubDate", "gdacs:fromdate",
     "gdacs:alertlevel", "georss:point", "geo:lat", "geo:long", "gdacs:iso3", "gdacs:glide",
     "gdacs:istest", "title", "description"]
)  # fmt: skip
XML_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="<&"),
    max_size=40,
)


@FUZZ
@given(
    items=st.lists(
        st.dictionaries(GDACS_TAGS, XML_TEXT | st.sampled_from(["EQ", "Red", "1 2"])), max_size=4
    )
)
def test_fuzz_gdacs_items(items: list[dict[str, str]]) -> None:
    only_feed_errors(
        parse_gdacs_rss, rss(*("".join(f"<{k}>{v}</{k}>" for k, v in i.items()) for i in items))
    )
