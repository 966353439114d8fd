"""How good a proposal is: a pure function of the need, the offered item and the gap.

score = Σ weight * part (weights sum to 100), each part in [0, 1]:
- priority (30): critical 1.0, high 0.7, normal 0.4.
- timeliness (30): estimated arrival = available_from + transit; 1.0 when it
  arrives by needed_by, then halving for every 24 h late; 0.7 with no deadline.
- quantity fit (20): the share of the still-uncovered gap this item fills.
- credentials (10): 1.0 with a relevant credential (INSARAG, WHO EMT, OCC…),
  0.5 if only self-sufficient, else 0.
- distance (10): 1 / (1 + km / 2000); 0.5 when the origin or place is unknown.
Transit is a rough airlift estimate: 12 h to load and clear + km / 700 km/h,
or 48 h when the origin is unknown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

WEIGHTS = {"priority": 30, "timeliness": 30, "quantity": 20, "credentials": 10, "distance": 10}
PRIORITY = {"critical": 1.0, "high": 0.7, "normal": 0.4}
HANDLING = timedelta(hours=12)
UNKNOWN_TRANSIT = timedelta(hours=48)
AIR_SPEED_KMH = 700.0
EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class NeedView:
    priority: str
    needed_by: datetime | None
    lat: float | None
    lon: float | None
    uncovered: int


@dataclass(frozen=True)
class ItemView:
    available_from: datetime
    lat: float | None
    lon: float | None
    unallocated: int
    credentials: tuple[str, ...] = ()
    self_sufficient: bool = False


@dataclass(frozen=True)
class Score:
    total: float
    parts: dict[str, float]
    quantity: int
    eta: datetime


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def transit(km: float | None) -> timedelta:
    """The travel estimate: handling plus the flight, or a flat 48 h when either end
    is unknown. Likely providers (capacities) use it too, so their `ready_in_hours`
    and a proposal's ETA never disagree."""
    return UNKNOWN_TRANSIT if km is None else HANDLING + timedelta(hours=km / AIR_SPEED_KMH)


def km_between(
    lat1: float | None, lon1: float | None, lat2: float | None, lon2: float | None
) -> float | None:
    if lat1 is None or lon1 is None or lat2 is None or lon2 is None:
        return None
    return distance_km(lat1, lon1, lat2, lon2)


def score(need: NeedView, item: ItemView) -> Score:
    km = _km(need, item)
    eta = item.available_from + transit(km)
    quantity = min(need.uncovered, item.unallocated)
    parts = {
        "priority": PRIORITY[need.priority],
        "timeliness": _timeliness(eta, need.needed_by),
        "quantity": quantity / need.uncovered if need.uncovered > 0 else 0.0,
        "credentials": 1.0 if item.credentials else 0.5 if item.self_sufficient else 0.0,
        "distance": 0.5 if km is None else 1 / (1 + km / 2000),
    }
    total = sum(WEIGHTS[k] * v for k, v in parts.items())
    return Score(round(total, 2), {k: round(v, 3) for k, v in parts.items()}, quantity, eta)


def _km(need: NeedView, item: ItemView) -> float | None:
    return km_between(need.lat, need.lon, item.lat, item.lon)


def _timeliness(eta: datetime, needed_by: datetime | None) -> float:
    if needed_by is None:
        return 0.7
    late_hours = (eta - needed_by).total_seconds() / 3600
    return 1.0 if late_hours <= 0 else 0.5 ** (late_hours / 24)
