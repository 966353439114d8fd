"""Capacities' pure parts: ranking likely providers, CSV cells, building an offer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from eadrcc.capacities.models import Capacity, CapacityOffer
from eadrcc.capacities.providers import (
    MAX_PER_NEED,
    MIN_TRANSIT_HOURS,
    cutoff,
    rank,
    ready_in_hours,
    scored,
)
from eadrcc.capacities.service import build_offer
from eadrcc.csvsafe import cell
from eadrcc.matching.scoring import HANDLING, UNKNOWN_TRANSIT


def row(**over: Any) -> dict[str, Any]:
    return {
        "need_id": "ned_1",
        "capacity_id": "cap_1",
        "country": "NOR",
        "quantity": 1,
        "readiness_hours": 10,
        "home_lat": 37.0,
        "home_lon": 37.0,
        "credentials": [],
        "source": "declared",
        "resource_type": "usar.heavy",
        "delivery_lat": 37.0,
        "delivery_lon": 37.0,
        **over,
    }


def test_ready_in_hours_is_readiness_plus_the_scores_travel_estimate() -> None:
    assert ready_in_hours(row()) == 10 + HANDLING.total_seconds() / 3600
    unknown = row(home_lat=None, home_lon=None)
    assert ready_in_hours(unknown) == 10 + UNKNOWN_TRANSIT.total_seconds() / 3600
    # 700 km of flight is one more hour than none.
    far = row(home_lat=37.0 + 700 / 111.195)
    assert abs(ready_in_hours(far) - ready_in_hours(row()) - 1.0) <= 0.1


def test_declared_come_before_public_then_the_soonest() -> None:
    found = rank(
        [
            row(capacity_id="pub_fast", country="DEU", source="public", readiness_hours=1),
            row(capacity_id="slow", country="POL", readiness_hours=40),
            row(capacity_id="fast", country="FRA", readiness_hours=2),
        ]
    )
    assert [p.capacity_id for p in found["ned_1"]] == ["fast", "slow", "pub_fast"]


def test_at_most_the_best_few_per_need() -> None:
    rows = [row(capacity_id=f"c{n:02}", readiness_hours=n) for n in range(30)]
    found = rank(rows)["ned_1"]
    assert [p.capacity_id for p in found] == [f"c{n:02}" for n in range(MAX_PER_NEED)]


def test_a_shortlist_shorter_than_asked_is_every_candidate() -> None:
    rows = [row(capacity_id=f"c{n}", readiness_hours=n, home_lat=None) for n in range(5)]
    assert cutoff([scored(r) for r in rows], 20) is None


def test_a_shortlist_proves_its_best_when_the_rest_arrive_later() -> None:
    # Ten arrive by 12 + 9 h; whoever was left out is ready at 19 h at the earliest.
    rows = [row(capacity_id=f"c{n:02}", readiness_hours=n) for n in range(20)]
    assert cutoff([scored(r) for r in rows], 20) is None


def test_ten_declared_read_leave_the_public_ones_out() -> None:
    rows = [row(capacity_id=f"d{n:02}", readiness_hours=n, home_lat=None) for n in range(10)]
    rows += [row(capacity_id=f"p{n:02}", source="public", readiness_hours=n) for n in range(10)]
    assert cutoff([scored(r) for r in rows], 20) is None


def test_an_unproven_shortlist_names_the_bound_to_read_up_to() -> None:
    # Far teams ready in 0..19 h arrive 48 h later; the tenth best arrives at 57 h,
    # so a team ready in 45 h next door could still tie it: read up to 45.
    rows = [row(capacity_id=f"c{n:02}", readiness_hours=n, home_lat=None) for n in range(20)]
    assert cutoff([scored(r) for r in rows], 20) == ("declared", 57 - int(MIN_TRANSIT_HOURS))
    public = [{**r, "source": "public"} for r in rows]
    assert cutoff([scored(r) for r in public], 20) == ("public", 57 - int(MIN_TRANSIT_HOURS))


def test_csv_cells_that_could_run_as_formulas_are_neutralised() -> None:
    for risky in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert cell(risky) == "'" + risky
    assert cell("Oslo") == "Oslo" and cell(5) == 5 and cell(None) is None


def test_an_offer_built_from_a_capacity() -> None:
    now = datetime(2026, 2, 6, 3, 0, tzinfo=UTC)
    capacity = Capacity.model_validate(
        {
            "id": "cap_x",
            "country": "NOR",
            "resource_type": "usar.heavy",
            "quantity": 3,
            "readiness_hours": 10,
            "home_base": {"lat": 59.9, "lon": 10.7, "place": "Oslo"},
            "credentials": ["insarag.classified"],
            "self_sufficient": True,
            "valid_until": now + timedelta(days=300),
            "name": None,
            "notes": None,
            "source": "declared",
            "citation": None,
            "read_on": None,
            "status": "active",
            "expired": False,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
    )
    body = CapacityOffer(emergency_id="emg_0123456789", quantity=2, channel="eu_ucpm")
    offer = build_offer(capacity, body, now=now)
    assert (offer.offering_country, offer.channel, offer.request_id) == ("NOR", "eu_ucpm", None)
    (item,) = offer.items
    assert item.resource_type == "usar.heavy" and item.quantity == 2
    assert item.available_from == now + timedelta(hours=10)
    assert item.origin is not None and (item.origin.lat, item.origin.lon) == (59.9, 10.7)
    assert item.credentials == ["insarag.classified"] and item.self_sufficient
