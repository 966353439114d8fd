"""An offer's transaction holds shared rows as briefly as it can: what it needs of
them is read without a lock, and a row is locked only where the offer changes it."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from tests.conftest import TokenFactory
from tests.integration.ops_helpers import Api, api, emergency_body, item, never_blocked_by

Client = TestClient  # type: ignore[type-arg]
TENTS = "shelter.tent.family"


async def _rfa(officer: Api, emergency_id: str, quantity: int = 1_000) -> dict[str, Any]:
    rfa: dict[str, Any] = await officer.post(
        f"/api/v1/emergencies/{emergency_id}/requests",
        {
            "requesting_country": "TUR",
            "needs": [{"resource_type": TENTS, "quantity": quantity, "priority": "high"}],
        },
        expect=201,
    )
    return rfa


def _offer(emergency_id: str, country: str, quantity: int = 10) -> dict[str, Any]:
    return {
        "emergency_id": emergency_id,
        "offering_country": country,
        "channel": "direct",
        "items": [item(TENTS, quantity)],
    }


async def _state(pool: asyncpg.Pool, emergency_id: str, country: str) -> str | None:
    state: str | None = await pool.fetchval(
        "SELECT state FROM responses WHERE emergency_id = $1 AND country = $2",
        emergency_id,
        country,
    )
    return state


async def test_a_nations_next_offer_does_not_queue_behind_its_circulation_row(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    await _rfa(officer, emergency["id"])
    assert await _state(pool, emergency["id"], "NOR") == "notified"
    await officer.post("/api/v1/offers", _offer(emergency["id"], "NOR"), expect=201)
    assert await _state(pool, emergency["id"], "NOR") == "offered"  # the first one moves it

    async with pool.acquire() as holder, holder.transaction():
        await holder.execute(
            "SELECT 1 FROM responses WHERE emergency_id = $1 AND country = 'NOR' FOR UPDATE",
            emergency["id"],
        )
        second = asyncio.create_task(
            officer.post("/api/v1/offers", _offer(emergency["id"], "NOR"), expect=201)
        )
        await never_blocked_by(
            pool, holder, second, "Norway's second offer waits for its circulation row"
        )
    assert len((await second)["matches"]) == 1
    assert await _state(pool, emergency["id"], "NOR") == "offered"
