"""A demo emergency (marked as an exercise) so a new hub has something to show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from eadrcc.auth import Principal, Role
from eadrcc.emergencies import service as emergencies
from eadrcc.emergencies import store as emergency_store
from eadrcc.emergencies.models import EmergencyCreate
from eadrcc.models import Point
from eadrcc.offers import service as offers
from eadrcc.offers.models import OfferCreate
from eadrcc.requests import service as requests
from eadrcc.requests.models import RequestCreate

DEMO_TITLE = "DEMO: M7.8 earthquake, south-east Türkiye"
SYSTEM = Principal("system", "demo loader", Role.DUTY_OFFICER)

# (nation, channel, [(resource type, quantity, origin lat, lon)])
OFFERS = [
    ("NOR", "direct", [("usar.heavy", 1, 59.91, 10.75)]),
    (
        "DEU",
        "eu_ucpm",
        [("usar.heavy", 1, 50.11, 8.68), ("shelter.tent.winterised", 800, 50.11, 8.68)],
    ),
    ("ITA", "eu_ucpm", [("medical.field_hospital", 1, 41.90, 12.50)]),
    ("POL", "direct", [("usar.medium", 1, 52.23, 21.01), ("shelter.blanket", 5000, 52.23, 21.01)]),
    ("AZE", "bilateral", [("usar.medium", 1, 40.41, 49.87), ("shelter.heater", 400, 40.41, 49.87)]),
    ("USA", "direct", [("power.generator.medium", 40, 38.90, -77.04)]),
]


async def load(pool: asyncpg.Pool) -> str | None:
    """Create the demo emergency once; returns its id, or None if it already exists."""
    async with pool.acquire() as conn:
        if await emergency_store.find_by_title(conn, DEMO_TITLE):
            return None
    emergency = await emergencies.create(
        pool=pool,
        who=SYSTEM,
        body=EmergencyCreate(
            title=DEMO_TITLE,
            hazard="earthquake",
            countries=["TUR"],
            location=Point(lat=37.17, lon=37.03),
            severity="extreme",
            exercise=True,
        ),
    )
    soon = datetime.now(UTC) + timedelta(hours=24)
    await requests.create(
        pool=pool,
        who=SYSTEM,
        emergency_id=emergency.id,
        idempotency_key=None,
        body=RequestCreate.model_validate(
            {
                "requesting_country": "TUR",
                "reference": "DEMO-RFA-1",
                "needs": [
                    _need("usar.heavy", 4, "critical", soon, 37.58, 36.93, "Kahramanmaraş"),
                    _need("usar.medium", 6, "critical", soon, 36.20, 36.16, "Antakya"),
                    _need("medical.emt.type2", 3, "high", soon, 37.76, 38.28, "Adıyaman"),
                    _need(
                        "shelter.tent.winterised", 2000, "high", None, 37.58, 36.93, "Kahramanmaraş"
                    ),
                    _need("shelter.blanket", 10000, "normal", None, 36.20, 36.16, "Antakya"),
                    _need("shelter.heater", 1000, "normal", None, 37.58, 36.93, "Kahramanmaraş"),
                    _need("power.generator", 100, "high", None, 36.20, 36.16, "Antakya"),
                ],
            }
        ),
    )
    now = datetime.now(UTC).isoformat()
    for nation, channel, items in OFFERS:
        await offers.create(
            pool=pool,
            who=SYSTEM,
            idempotency_key=None,
            body=OfferCreate.model_validate(
                {
                    "emergency_id": emergency.id,
                    "offering_country": nation,
                    "channel": channel,
                    "items": [
                        {
                            "resource_type": t,
                            "quantity": q,
                            "available_from": now,
                            "origin": {"lat": lat, "lon": lon},
                        }
                        for t, q, lat, lon in items
                    ],
                }
            ),
        )
    return emergency.id


def _need(
    t: str, q: int, priority: str, by: datetime | None, lat: float, lon: float, place: str
) -> dict[str, object]:
    return {
        "resource_type": t,
        "quantity": q,
        "priority": priority,
        "needed_by": by.isoformat() if by else None,
        "delivery": {"lat": lat, "lon": lon, "place": place},
    }
