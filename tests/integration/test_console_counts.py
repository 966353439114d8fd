"""GET /api/v1/emergency-counts: what the board's cards show, for every emergency in
two statements, with late, at-risk, critical and duplicated needs counted as the
need pictures define them, and a POC's offer count limited to its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import TokenFactory
from tests.integration.ops_helpers import api, emergency_body, item

Client = TestClient  # type: ignore[type-arg]


def at(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


async def test_counts_per_emergency(client: Client, make_token: TokenFactory) -> None:
    officer = await api(client, make_token, "duty_officer")
    quake = (await officer.post("/api/v1/emergencies", emergency_body(), expect=201))["id"]
    quiet = (await officer.post("/api/v1/emergencies", emergency_body(title="Quiet"), expect=201))[
        "id"
    ]
    rfa = await officer.post(
        f"/api/v1/emergencies/{quake}/requests",
        {
            "requesting_country": "TUR",
            "needs": [
                # late: needed an hour ago, nothing delivered
                {
                    "resource_type": "usar.heavy",
                    "quantity": 2,
                    "priority": "critical",
                    "needed_by": at(-1),
                },
                # at risk: nothing accepted, needed in 3 h
                {"resource_type": "shelter.tent", "quantity": 10, "needed_by": at(3)},
                # neither: needed in two days
                {"resource_type": "shelter.blanket", "quantity": 5, "needed_by": at(48)},
            ],
        },
        expect=201,
    )
    assert len(rfa["needs"]) == 3
    for country in ("NOR", "DEU"):  # proposals never promise more than is lacking
        await officer.post(
            "/api/v1/offers",
            {
                "emergency_id": quake,
                "offering_country": country,
                "channel": "direct",
                "items": [item("shelter.blanket", 4)],
            },
            expect=201,
        )
    rows: dict[str, Any] = {
        c["emergency_id"]: c for c in await officer.get("/api/v1/emergency-counts")
    }
    q = rows[quake]
    assert {k: q[k] for k in ("requests", "needs", "late", "at_risk", "offers", "nations")} == {
        "requests": 1,
        "needs": 3,
        "late": 1,
        "at_risk": 1,
        "offers": 2,
        "nations": 2,
    }
    assert q["critical"] == 1
    # The same rule as each need's picture (GET /requests/{id}).
    pictures = (await officer.get(f"/api/v1/requests/{rfa['id']}"))["needs"]
    assert q["duplicated"] == sum(n["duplicated"] for n in pictures)
    assert q["uncovered"] == sum(n["uncovered"] for n in pictures)
    assert q["last_activity_at"] is not None
    assert rows[quiet]["needs"] == 0 and rows[quiet]["offers"] == 0
    norway = await api(client, make_token, "poc", "NOR")
    mine = {c["emergency_id"]: c for c in await norway.get("/api/v1/emergency-counts")}
    assert mine[quake]["offers"] == 1 and mine[quake]["nations"] == 1
    assert (await client.get("/api/v1/emergency-counts")).status == 401
