"""One small emergency whose per-need figures are written down once, in
tests/data/expected/picture_scenario.json, and checked against the API, the
situation report and the console (each computes them its own way).

Every kind of figure appears: a need past its deadline with only a proposal (late,
at risk), one whose accepted help is dispatched with an ETA after its deadline (at
risk), one offered twice through two channels (duplicated), one delivered in full,
and one due within 6 hours with nothing offered (at risk). Times are relative to
when the scenario runs. Everything is done by a duty officer.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

EXPECTED = Path(__file__).parent / "data" / "expected" / "picture_scenario.json"
FIELDS = (
    "requested",
    "proposed",
    "accepted",
    "in_transit",
    "delivered",
    "uncovered_quantity",
    "uncovered",
    "duplicated",
    "late",
    "at_risk",
)
# (method, path, body) → the JSON answer of a 2xx
Call = Callable[[str, str, Any], Awaitable[Any]]


def expected() -> dict[str, dict[str, Any]]:
    needs: dict[str, dict[str, Any]] = json.loads(EXPECTED.read_text(encoding="utf-8"))["needs"]
    return needs


def figures(need: dict[str, Any]) -> dict[str, Any]:
    return {f: need[f] for f in FIELDS}


def _at(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def _offer(emergency_id: str, country: str, channel: str, code: str, quantity: int) -> Any:
    return {
        "emergency_id": emergency_id,
        "offering_country": country,
        "channel": channel,
        "items": [
            {
                "resource_type": code,
                "quantity": quantity,
                "available_from": _at(-1),
                "origin": {"lat": 52.5, "lon": 13.4},
            }
        ],
    }


async def build(call: Call) -> dict[str, Any]:
    """Play the scenario; returns the emergency, the RFA and each need's id by type."""
    emergency = await call(
        "POST",
        "/api/v1/emergencies",
        {
            "title": "Picture scenario",
            "hazard": "earthquake",
            "countries": ["TUR"],
            "location": {"lat": 37.2, "lon": 37.0},
            "severity": "extreme",
        },
    )
    eid = emergency["id"]
    needs = [
        ("usar.heavy", 2, "critical", _at(-2)),
        ("shelter.tent.family", 100, "high", _at(3)),
        ("shelter.blanket", 500, "normal", _at(48)),
        ("power.generator.medium", 10, "normal", None),
        ("medical.emt.type2", 1, "high", _at(4)),
    ]
    rfa = await call(
        "POST",
        f"/api/v1/emergencies/{eid}/requests",
        {
            "requesting_country": "TUR",
            "needs": [
                {"resource_type": t, "quantity": q, "priority": p, "needed_by": by}
                for t, q, p, by in needs
            ],
        },
    )
    ids = {n["resource_type"]: n["id"] for n in rfa["needs"]}
    await call("POST", "/api/v1/offers", _offer(eid, "NOR", "direct", "usar.heavy", 1))
    # Tents: 60 accepted, 20 of them dispatched with an ETA after the deadline.
    tents = await call(
        "POST", "/api/v1/offers", _offer(eid, "DEU", "direct", "shelter.tent.family", 60)
    )
    [tent_match] = tents["matches"]
    await call("POST", f"/api/v1/matches/{tent_match['id']}/accept", {})
    await call(
        "POST", f"/api/v1/matches/{tent_match['id']}/dispatch", {"quantity": 20, "eta": _at(5)}
    )
    # Blankets: Poland announces the same 300 through the EU and bilaterally.
    await call("POST", "/api/v1/offers", _offer(eid, "POL", "eu_ucpm", "shelter.blanket", 300))
    await call("POST", "/api/v1/offers", _offer(eid, "POL", "bilateral", "shelter.blanket", 300))
    # Generators: all ten accepted and delivered.
    power = await call(
        "POST", "/api/v1/offers", _offer(eid, "ITA", "eu_ucpm", "power.generator.medium", 10)
    )
    [power_match] = power["matches"]
    await call("POST", f"/api/v1/matches/{power_match['id']}/accept", {})
    await call("POST", f"/api/v1/matches/{power_match['id']}/deliver", {"quantity": 10})
    return {"emergency_id": eid, "request_id": rfa["id"], "needs": ids}
