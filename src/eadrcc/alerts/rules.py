"""Alert rules as pure functions: geometry checks, hazards, watches, stale alerts.
(Grouping and known events: grouping.py.)"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from eadrcc.alerts import countries
from eadrcc.alerts.models import AlertIn

# ---- CAP details ----------------------------------------------------------------

_REFERENCE = re.compile(r"^([^,\s]+),([^,\s]+),(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d)$")


def parse_reference(text: str) -> dict[str, str] | None:
    """`sender,identifier,sent` → its parts, or None if it is not such a triple."""
    match = _REFERENCE.match(text.strip())
    if not match:
        return None
    return {"sender": match[1], "identifier": match[2], "sent": match[3]}


def reference_key(sender: str, identifier: str, sent: datetime | str) -> str:
    moment = sent if isinstance(sent, datetime) else datetime.fromisoformat(sent)
    return f"{sender},{identifier},{moment.timestamp():.0f}"


def _pairs(text: str) -> list[tuple[float, float]] | None:
    try:
        points = [tuple(float(v) for v in pair.split(",")) for pair in text.split()]
    except ValueError:
        return None
    if any(len(p) != 2 for p in points):
        return None
    return [(p[0], p[1]) for p in points]


def polygon_problem(text: str) -> str | None:
    """CAP polygons: at least four lat,lon pairs, the first equal to the last."""
    points = _pairs(text)
    if points is None:
        return "expected space-separated 'lat,lon' pairs"
    if len(points) < 4:
        return f"a polygon needs at least 4 points, got {len(points)}"
    if points[0] != points[-1]:
        return "a polygon must be closed (its first and last points equal)"
    if any(not (-90 <= lat <= 90 and -180 <= lon <= 180) for lat, lon in points):
        return "a point lies outside -90..90 / -180..180"
    return None


def polygon_points(text: str) -> list[tuple[float, float]]:
    """A polygon's (lat, lon) pairs; [] when they cannot be read."""
    return _pairs(text) or []


def polygon_centre(text: str) -> tuple[float, float] | None:
    points = _pairs(text)
    if not points:
        return None
    ring = points[:-1] if len(points) > 1 and points[0] == points[-1] else points
    return (sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring))


def parse_circle(text: str) -> tuple[float, float, float] | None:
    parts = text.split()
    if len(parts) != 2:
        return None
    centre = _pairs(parts[0])
    try:
        radius = float(parts[1])
    except ValueError:
        return None
    if not centre or radius < 0 or not (-90 <= centre[0][0] <= 90 and -180 <= centre[0][1] <= 180):
        return None
    return (centre[0][0], centre[0][1], radius)


# ---- hazards --------------------------------------------------------------------

_HAZARD_WORDS = [
    ("tsunami", "tsunami"),
    ("earthquake", "earthquake"),
    ("quake", "earthquake"),
    ("volcan", "volcano"),
    ("flood", "flood"),
    ("wildfire", "wildfire"),
    ("fire", "wildfire"),
    ("cyclone", "storm"),
    ("hurricane", "storm"),
    ("typhoon", "storm"),
    ("storm", "storm"),
    ("tornado", "storm"),
    ("blizzard", "storm"),
    ("wind", "storm"),
    ("landslide", "landslide"),
    ("drought", "drought"),
    ("heat", "extreme_temperature"),
    ("cold", "extreme_temperature"),
    ("epidemic", "epidemic"),
    ("outbreak", "epidemic"),
    ("chemical", "cbrn"),
    ("radiolog", "cbrn"),
    ("nuclear", "cbrn"),
]
_HAZARD_CATEGORIES = {
    "Geo": "other",
    "Met": "storm",
    "Fire": "wildfire",
    "Health": "epidemic",
    "CBRNE": "cbrn",
    "Env": "industrial",
    "Infra": "industrial",
}


def hazard_of(event: str, categories: list[str]) -> str:
    lowered = event.lower()
    for word, hazard in _HAZARD_WORDS:
        if word in lowered:
            return hazard
    for category in categories:
        if category in _HAZARD_CATEGORIES:
            return _HAZARD_CATEGORIES[category]
    return "other"


# ---- watches --------------------------------------------------------------------


@dataclass(frozen=True)
class Watch:
    exercise: bool
    countries: list[str]
    severity: str
    reason: str


STRONG_SEVERITY = {"Extreme", "Severe"}
LIKELY = {"Observed", "Likely"}
STRONG_LEVEL = {"orange", "red"}
MAX_WATCH_COUNTRIES = 20  # an emergency names at most 20


def watch_for(alert: AlertIn, known_countries: set[str]) -> Watch | None:
    """Should this alert open a watch? Never for tests, drafts or cancellations;
    an exercise alert may open an exercise watch, never a real one."""
    if alert.status in ("Test", "Draft", "System") or alert.msg_type in ("Cancel", "Ack", "Error"):
        return None
    if alert.location is None:
        return None
    affected = [c for c in alert.countries if c in known_countries][:MAX_WATCH_COUNTRIES]
    if not affected:
        return None
    if alert.level in STRONG_LEVEL:
        reason = f"{alert.source} alert level {alert.level}"
    elif alert.severity in STRONG_SEVERITY and alert.certainty in LIKELY:
        reason = f"severity {alert.severity}, certainty {alert.certainty}"
    else:
        return None
    severity = alert.severity.lower() if alert.severity != "Unknown" else "severe"
    return Watch(alert.status == "Exercise", affected, severity, reason)


# ---- stale alerts ---------------------------------------------------------------

DEFAULT_MAX_AGE = timedelta(hours=72)


def stale_reason(alert: AlertIn, *, now: datetime, max_age: timedelta) -> str | None:
    """Why an alert is too old to open a watch (it is stored all the same), or None."""
    if not alert.current:
        return "the source marks the event as no longer current"
    if alert.expires is not None and alert.expires <= now:
        return f"expired at {alert.expires.isoformat()}"
    if alert.sent < now - max_age:
        return f"sent more than {max_age.total_seconds() / 3600:g} h before it was received"
    return None


# ---- countries named in free text (USGS "place", GDACS titles) ------------------


def countries_in_text(text: str, names: dict[str, str]) -> list[str]:
    """ISO3 codes of Allies and partners named in `text` (names: lower-case name → ISO3)."""
    lowered = text.lower()
    found = []
    for name, code in {**names, **countries.ALIASES}.items():
        if re.search(rf"\b{re.escape(name)}\b", lowered) and code not in found:
            found.append(code)
    return found
