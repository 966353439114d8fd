"""Which alerts are one real-world event, and which open emergency an alert is about.
Pure functions over an alert and stored rows (dicts), so they test without a database.

The rule, as the README states it:
- Messages of different CAP status (Actual, Exercise, Test, System, Draft) are never
  one event: a drill and a real flood in the same valley stay apart.
- A shared source id (GDACS event, USGS quake id) makes alerts one event.
- Otherwise: the same hazard, within `GROUP_RADIUS_KM` and `GROUP_WINDOW` of the group.
  Earthquakes whose origin times are both known and more than `QUAKE_ORIGIN_GAP`
  apart are distinct quakes, however close: aftershocks hours apart stay apart.
- An alert about a hazard near an open emergency (watch or active) of the same kind
  (real or exercise) is about that emergency: within `KNOWN_RADIUS_KM`, from
  `KNOWN_BEFORE` before it was opened to `KNOWN_AFTER` after.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from eadrcc.alerts.models import AlertIn
from eadrcc.matching.scoring import distance_km

GROUP_RADIUS_KM = 150.0
GROUP_WINDOW = timedelta(hours=12)
QUAKE_ORIGIN_GAP = timedelta(hours=1)
KNOWN_RADIUS_KM = 300.0
KNOWN_BEFORE = timedelta(days=7)
KNOWN_AFTER = timedelta(days=30)
# Only these may touch an emergency: Test, Draft and System messages never do.
OPERATIONAL = ("Actual", "Exercise")


def when(alert: AlertIn) -> datetime:
    """The moment an alert is about: its onset (a quake's origin time) or when it was sent."""
    return alert.onset or alert.sent


def origin(alert: AlertIn) -> datetime | None:
    """An earthquake's origin time, when the source gave one (CAP onset, USGS time,
    GDACS fromdate)."""
    return alert.onset if alert.hazard == "earthquake" else None


def same_event(alert: AlertIn, group: Mapping[str, Any]) -> bool:
    """One real-world event seen through several sources (see the module's rule)."""
    if group.get("status", "Actual") != alert.status:
        return False
    ids = group["external_ids"] or {}
    if any(ids.get(k) == v for k, v in alert.external_ids.items()):
        return True
    if group["hazard"] != alert.hazard or alert.location is None or group["lat"] is None:
        return False
    moment = when(alert)
    if not (group["first_sent"] - GROUP_WINDOW <= moment <= group["last_sent"] + GROUP_WINDOW):
        return False
    if _distinct_quakes(origin(alert), group.get("origin_at")):
        return False
    return (
        distance_km(alert.location.lat, alert.location.lon, group["lat"], group["lon"])
        <= GROUP_RADIUS_KM
    )


def _distinct_quakes(mine: datetime | None, theirs: datetime | None) -> bool:
    return mine is not None and theirs is not None and abs(mine - theirs) > QUAKE_ORIGIN_GAP


def known_event(alert: AlertIn, emergencies: list[Mapping[str, Any]]) -> str | None:
    """The id of the nearest open emergency this alert is about, if any."""
    if alert.status not in OPERATIONAL or alert.location is None:
        return None
    exercise = alert.status == "Exercise"
    moment = when(alert)
    best: tuple[float, str] | None = None
    for e in emergencies:
        if e["status"] == "closed" or e["hazard"] != alert.hazard or e["exercise"] != exercise:
            continue
        if not (e["created_at"] - KNOWN_BEFORE <= moment <= e["created_at"] + KNOWN_AFTER):
            continue
        km = distance_km(alert.location.lat, alert.location.lon, e["lat"], e["lon"])
        if km <= KNOWN_RADIUS_KM and (best is None or km < best[0]):
            best = (km, e["id"])
    return best[1] if best else None
