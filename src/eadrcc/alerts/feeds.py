"""GDACS RSS and USGS GeoJSON feeds turned into normalised alerts: pure parsers, no I/O.

A document that is not the feed it claims to be raises `FeedError`; a single item
that cannot become an alert (no position, no date, a value out of range) is
discarded with a log line saying why, so one bad item never hides the others.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, TypeVar

import defusedxml
import defusedxml.ElementTree as SafeET
import structlog
from pydantic import ValidationError

from eadrcc.alerts.countries import iso3_of_names
from eadrcc.alerts.models import AlertIn, Level, Severity
from eadrcc.models import Point

log = structlog.get_logger(__name__)

NS: Final = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "gdacs": "http://www.gdacs.org",
    "geo": "http://www.w3.org/2003/01/geo/wgs84_pos#",
    "georss": "http://www.georss.org/georss",
    "glide": "http://glidenumber.net",
}
for _prefix, _uri in NS.items():  # so an item's raw XML keeps readable prefixes
    ET.register_namespace(_prefix, _uri)

LEVELS: Final[dict[str, Level]] = {
    "green": "green",
    "yellow": "yellow",
    "orange": "orange",
    "red": "red",
}
SEVERITY_OF_LEVEL: Final[dict[str, Severity]] = {
    "red": "Extreme",
    "orange": "Severe",
    "yellow": "Moderate",
    "green": "Minor",
}
# GDACS event types: (CAP event, our hazard, CAP category).
GDACS_TYPES: Final = {
    "EQ": ("Earthquake", "earthquake", "Geo"),
    "TC": ("Tropical cyclone", "storm", "Met"),
    "FL": ("Flood", "flood", "Met"),
    "VO": ("Volcano", "volcano", "Geo"),
    "DR": ("Drought", "drought", "Env"),
    "WF": ("Wildfire", "wildfire", "Fire"),
    "TS": ("Tsunami", "tsunami", "Geo"),
}
TEXT_LIMIT: Final = 20_000  # AlertIn's bound on headline and description


GEOJSON_NOT_RSS: Final = (
    "JSON received, GDACS RSS expected: point EADRCC_GDACS_URL at the GDACS RSS feed "
    "(e.g. /xml/rss.xml), not at its GeoJSON API"
)


class FeedError(Exception):
    """The document is not a feed we can read (not XML/JSON, or the wrong shape)."""


class Discard(Exception):
    """This one item cannot become an alert; the message says why."""


@dataclass(frozen=True)
class FeedItem:
    alert: AlertIn
    raw: str  # the item as the feed sent it: its XML element or its JSON feature


def parse_gdacs_rss(data: bytes) -> list[AlertIn]:
    """Every item of a GDACS RSS document with a position, as an alert."""
    return [item.alert for item in read_gdacs_rss(data)]


def parse_usgs_geojson(data: bytes) -> list[AlertIn]:
    """Every earthquake of a USGS GeoJSON summary feed, as an alert."""
    return [item.alert for item in read_usgs_geojson(data)]


def read_gdacs_rss(data: bytes) -> list[FeedItem]:
    """As `parse_gdacs_rss`, each alert with its item's XML (what the poller stores as raw)."""
    channel = _rss_channel(data)
    return _keep("gdacs", channel.findall("item"), _gdacs_item)


def read_usgs_geojson(data: bytes) -> list[FeedItem]:
    """As `parse_usgs_geojson`, each alert with its feature's JSON."""
    doc = _json(data)
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise FeedError("not a GeoJSON FeatureCollection")
    features = doc.get("features")
    if not isinstance(features, list):
        raise FeedError("a FeatureCollection without a 'features' list")
    return _keep("usgs", features, _usgs_feature)


T = TypeVar("T")


def _keep(feed: str, items: list[T], convert: Callable[[T], FeedItem]) -> list[FeedItem]:
    kept = []
    for number, item in enumerate(items, 1):
        try:
            kept.append(convert(item))
        except Discard as why:
            log.warning("feed_item_discarded", feed=feed, item=number, reason=str(why))
        except ValidationError as exc:
            fields = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
            log.warning("feed_item_discarded", feed=feed, item=number, invalid=fields)
    return kept


# ---- GDACS ------------------------------------------------------------------------


def _rss_channel(data: bytes) -> ET.Element:
    if data.lstrip()[:1] in (b"{", b"["):
        # GDACS also publishes GeoJSON (its API); the poller reads the RSS feed.
        raise FeedError(GEOJSON_NOT_RSS)
    try:
        root: ET.Element = SafeET.fromstring(data, forbid_dtd=True)
    except (ET.ParseError, defusedxml.DefusedXmlException, LookupError, ValueError) as exc:
        raise FeedError(f"not well-formed XML: {type(exc).__name__}: {exc}") from None
    if root.tag != "rss":
        raise FeedError(f"not an RSS document: the root element is <{root.tag}>")
    channel = root.find("channel")
    if channel is None:
        raise FeedError("an RSS document without a <channel>")
    return channel


def _gdacs_item(item: ET.Element) -> FeedItem:
    location = _gdacs_point(item)  # first: without a point, nothing else matters
    kind = _required(item, "gdacs:eventtype").upper()
    event_id = _required(item, "gdacs:eventid")
    episode = _required(item, "gdacs:episodeid")
    event, hazard, category = GDACS_TYPES.get(
        kind, (_text(item, "title") or kind, "other", "Other")
    )
    level = _level(_text(item, "gdacs:alertlevel"))
    external = {"gdacs": f"{kind}{event_id}"}
    if glide := _text(item, "gdacs:glide") or _text(item, "glide:glide"):
        external["glide"] = glide
    alert = AlertIn(
        source="gdacs",
        identifier=f"{kind}{event_id}-{episode}",
        sender="gdacs.org",
        sent=_gdacs_sent(item),
        status="Test" if _flag(item, "gdacs:istest") else "Actual",
        event=event,
        hazard=hazard,
        category=[category],
        severity=SEVERITY_OF_LEVEL.get(level or "", "Unknown"),
        certainty="Observed" if kind == "EQ" else "Likely",
        headline=_clip(_text(item, "title")),
        description=_clip(_text(item, "description")),
        location=location,
        countries=_gdacs_countries(item),
        level=level,
        external_ids=external,
        magnitude=_gdacs_magnitude(item) if kind == "EQ" else None,
        # A quake's fromdate is its origin time: what tells two quakes apart.
        onset=_rfc822(_text(item, "gdacs:fromdate") or "") if kind == "EQ" else None,
        current=(_text(item, "gdacs:iscurrent") or "true").lower() != "false",
    )
    return FeedItem(alert, ET.tostring(item, encoding="unicode"))


def _text(parent: ET.Element, path: str) -> str | None:
    """The stripped text of a child, or None when it is absent or empty."""
    found = parent.find(path, NS)
    text = (found.text or "").strip() if found is not None else ""
    return text or None


def _required(item: ET.Element, path: str) -> str:
    if (value := _text(item, path)) is None:
        raise Discard(f"no <{path}>")
    return value


def _flag(item: ET.Element, path: str) -> bool:
    return (_text(item, path) or "").lower() == "true"


def _gdacs_sent(item: ET.Element) -> datetime:
    for path in ("pubDate", "gdacs:fromdate"):
        if (text := _text(item, path)) and (moment := _rfc822(text)):
            return moment
    raise Discard("neither <pubDate> nor <gdacs:fromdate> holds a date")


def _rfc822(text: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # "-0000" means UTC with an unknown local zone: still an instant in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _gdacs_point(item: ET.Element) -> Point:
    lat = _text(item, "geo:Point/geo:lat") or _text(item, "geo:lat")
    lon = _text(item, "geo:Point/geo:long") or _text(item, "geo:long")
    if (lat is None or lon is None) and (pair := _text(item, "georss:point")):
        lat, lon = [*pair.split(), "", ""][:2]
    if lat is None or lon is None:
        has_box = item.find("gdacs:bbox", NS) is not None
        raise Discard("only a bounding box, no point" if has_box else "no position")
    latitude, longitude = _float(lat), _float(lon)
    if latitude is None or longitude is None:
        raise Discard("the position is not a pair of numbers")
    return _point(latitude, longitude)


def _gdacs_magnitude(item: ET.Element) -> float | None:
    severity = item.find("gdacs:severity", NS)
    return _float(severity.get("value")) if severity is not None else None


def _gdacs_countries(item: ET.Element) -> list[str]:
    """Every country an item names: <gdacs:iso3> holds one code (or a list), while
    <gdacs:country> lists them all by name ("Bulgaria, Iraq, Iran, Turkey")."""
    codes = _iso3_list(_text(item, "gdacs:iso3"))
    named = iso3_of_names(_text(item, "gdacs:country") or "")
    return list(dict.fromkeys([*codes, *named]))[:50]


def _iso3_list(text: str | None) -> list[str]:
    codes = (code.strip() for code in (text or "").split(","))
    valid = [c for c in codes if len(c) == 3 and c.isascii() and c.isalpha() and c.isupper()]
    return list(dict.fromkeys(valid))


def geojson_problem(doc: object) -> str | None:
    """What is wrong when a feed's GeoJSON is posted where one alert is expected."""
    if not isinstance(doc, dict) or doc.get("type") not in ("FeatureCollection", "Feature"):
        return None
    features = doc.get("features") if doc["type"] == "FeatureCollection" else [doc]
    first = features[0] if isinstance(features, list) and features else {}
    props = first.get("properties") if isinstance(first, dict) else None
    if isinstance(props, dict) and "eventtype" in props and "eventid" in props:
        return f"{GEOJSON_NOT_RSS}; POST /api/v1/alerts takes one alert (CAP XML or JSON)"
    return (
        "GeoJSON received: POST /api/v1/alerts takes one alert (CAP XML or JSON); "
        "feeds are read by the feed pollers (EADRCC_GDACS_URL, EADRCC_USGS_URL)"
    )


# ---- USGS -------------------------------------------------------------------------


def _json(data: bytes) -> Any:
    try:
        return json.loads(data, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeError are both
        raise FeedError(f"not JSON: {type(exc).__name__}: {exc}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _usgs_feature(feature: object) -> FeedItem:
    if not isinstance(feature, dict):
        raise Discard("a feature that is not an object")
    quake_id = feature.get("id")
    props = feature.get("properties")
    if not isinstance(quake_id, str) or not quake_id or not isinstance(props, dict):
        raise Discard("a feature without an id or properties")
    lon, lat, depth = _usgs_coordinates(feature.get("geometry"))
    magnitude, place = _number(props.get("mag")), _string(props.get("place"))
    level = _level(_string(props.get("alert")))
    alert = AlertIn(
        source="usgs",
        identifier=quake_id,
        sender="earthquake.usgs.gov",
        # USGS revises a quake in place (magnitude, PAGER level): each revision is a
        # new message, sent when it was updated; onset stays the quake's own time.
        sent=_epoch_ms(props.get("updated") or props.get("time")),
        onset=_epoch_ms(props.get("time")),
        event="Earthquake",
        hazard="earthquake",
        category=["Geo"],
        severity=SEVERITY_OF_LEVEL.get(level or "", "Unknown"),
        certainty="Observed",
        headline=_clip(_usgs_headline(magnitude, place)),
        description=_clip(_usgs_description(props, depth, level)),
        location=_point(lat, lon),
        level=level,
        external_ids={"usgs": quake_id},
        magnitude=magnitude,
    )
    raw = json.dumps(feature, ensure_ascii=False, separators=(",", ":"))
    return FeedItem(alert, raw)


def _usgs_coordinates(geometry: object) -> tuple[float, float, float | None]:
    coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if not isinstance(coords, list) or len(coords) < 2:
        raise Discard("no point geometry")
    lon, lat = _number(coords[0]), _number(coords[1])
    if lon is None or lat is None:
        raise Discard("the coordinates are not numbers")
    return lon, lat, _number(coords[2]) if len(coords) > 2 else None


def _epoch_ms(value: object) -> datetime:
    millis = _number(value)
    if millis is None:
        raise Discard("no origin time")
    try:
        return datetime.fromtimestamp(millis / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise Discard("the origin time is out of range") from None


def _usgs_headline(magnitude: float | None, place: str | None) -> str:
    if magnitude is None:
        size = "Earthquake of unknown magnitude"
    else:  # one decimal as USGS writes it, more only when the feed gives more
        size = f"M {magnitude:.1f}" if round(magnitude, 1) == magnitude else f"M {magnitude:g}"
    return f"{size} - {place}" if place else size


def _usgs_description(props: dict[str, Any], depth: float | None, level: str | None) -> str:
    lines = [f"Depth: {depth:g} km." if depth is not None else "Depth: unknown."]
    lines.append(f"PAGER alert: {level or 'none'}.")
    if props.get("tsunami") == 1:
        # USGS sets this for large events in oceanic regions; it is not a warning.
        lines.append("Tsunami flag: set; check the tsunami warning centres.")
    else:
        lines.append("Tsunami flag: not set.")
    if url := _string(props.get("url")):
        lines.append(f"Details: {url}")
    return "\n".join(lines)


# ---- shared -----------------------------------------------------------------------


def _point(lat: float, lon: float) -> Point:
    try:
        return Point(lat=lat, lon=lon)
    except ValidationError:
        raise Discard(f"the position ({lat}, {lon}) is outside -90..90 / -180..180") from None


def _level(text: str | None) -> Level | None:
    return LEVELS.get((text or "").lower())


def _float(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value) if abs(value) < 1e300 else math.inf
    return number if math.isfinite(number) else None


def _string(value: object) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _clip(text: str | None) -> str | None:
    return text[:TEXT_LIMIT] if text is not None else None
