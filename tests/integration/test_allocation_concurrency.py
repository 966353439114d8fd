"""Invariant 1 under fire: hundreds of concurrent accepts through two hub instances
never allocate more than a need asked for or an item offered. The plan already
promises each unit once, so every proposal is accepted twice at the same moment
(once through each instance, with different quantities): exactly one may win."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from eadrcc.app import create_app
from eadrcc.config import Settings
from tests.conftest import TokenFactory, bearer
from tests.integration.ops_helpers import T0, emergency_body

HOT_NEEDS = 3
NEED_QUANTITY = 350
OFFERS = 240
ITEM_QUANTITY = 5


async def test_concurrent_accepts_never_over_allocate(
    db_url: str, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    settings = Settings(database_url=db_url, pool_min_size=1, pool_max_size=12)
    servers = [TestServer(create_app(settings)) for _ in range(2)]
    for server in servers:
        await server.start_server()
    officer = bearer(await make_token("duty_officer"))
    tur = bearer(await make_token("poc", country="TUR"))
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as http:
            base = [str(s.make_url("")) for s in servers]
            proposals = await _arrange(http, base[0], officer, tur)
            assert len(proposals) >= 200

            async def accept(i: int, match: dict) -> tuple[int, dict]:  # type: ignore[type-arg]
                quantity = random.choice([None, 1, 2, 3, match["quantity"]])
                body = {} if quantity is None else {"quantity": quantity}
                url = f"{base[i % 2]}/api/v1/matches/{match['id']}/accept"
                async with http.post(url, json=body, headers=tur) as resp:
                    return resp.status, await resp.json(content_type=None)

            twice = [(i, m) for m in proposals for i in (0, 1)]
            random.shuffle(twice)
            results = await asyncio.gather(*(accept(i, m) for i, m in twice))
    finally:
        for server in servers:
            await server.close()

    statuses = Counter(status for status, _ in results)
    assert set(statuses) <= {200, 409}, statuses
    assert statuses[200] > 0 and statuses[409] > 0
    async with pool.acquire() as conn:
        await _assert_no_over_allocation(conn)
        accepted = {
            r["id"]: r["quantity"]
            for r in await conn.fetch("SELECT id, quantity FROM matches WHERE status = 'accepted'")
        }
    answered = {body["id"]: body["quantity"] for status, body in results if status == 200}
    assert answered == accepted, "every 2xx is reflected, and nothing else was accepted"
    assert statuses[200] == len(proposals), "exactly one of each pair of accepts wins"


async def _arrange(
    http: aiohttp.ClientSession,
    base: str,
    officer: dict,
    tur: dict,  # type: ignore[type-arg]
) -> list[dict]:  # type: ignore[type-arg]
    async with http.post(
        f"{base}/api/v1/emergencies", json=emergency_body(), headers=officer
    ) as resp:
        emergency = await resp.json()
    needs = [
        {"resource_type": "shelter.tent.family", "quantity": NEED_QUANTITY, "priority": "critical"}
        for _ in range(HOT_NEEDS)
    ]
    async with http.post(
        f"{base}/api/v1/emergencies/{emergency['id']}/requests",
        json={"requesting_country": "TUR", "needs": needs},
        headers=tur,
    ) as resp:
        assert resp.status == 201
    proposals = []
    nations = ["NOR", "DEU", "FRA", "ITA", "ESP", "POL", "NLD", "SWE"]
    for n in range(OFFERS):
        body = {
            "emergency_id": emergency["id"],
            "offering_country": nations[n % len(nations)],
            "channel": "direct",
            "items": [
                {
                    "resource_type": "shelter.tent.family",
                    "quantity": ITEM_QUANTITY,
                    "available_from": T0,
                }
            ],
        }
        async with http.post(f"{base}/api/v1/offers", json=body, headers=officer) as resp:
            assert resp.status == 201
            proposals += (await resp.json())["matches"]
    return proposals


async def _assert_no_over_allocation(conn: asyncpg.Connection) -> None:
    bad_needs = await conn.fetch("""
        SELECT n.id, n.quantity, n.allocated, coalesce(sum(m.quantity), 0) AS summed
        FROM needs n LEFT JOIN matches m
          ON m.need_id = n.id AND m.status IN ('accepted', 'in_transit', 'delivered')
        GROUP BY n.id HAVING n.allocated > n.quantity OR n.allocated <> coalesce(sum(m.quantity), 0)
    """)
    assert bad_needs == []
    bad_items = await conn.fetch("""
        SELECT i.id, i.quantity, i.allocated, coalesce(sum(m.quantity), 0) AS summed
        FROM offer_items i LEFT JOIN matches m
          ON m.offer_item_id = i.id AND m.status IN ('accepted', 'in_transit', 'delivered')
        GROUP BY i.id HAVING i.allocated > i.quantity OR i.allocated <> coalesce(sum(m.quantity), 0)
    """)
    assert bad_items == []


async def test_the_database_itself_refuses_over_allocation(
    pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    """Even a bug that skipped the Python checks could not over-allocate."""
    async with pool.acquire() as conn:
        for table, constraint in [
            ("needs", "need_not_over_allocated"),
            ("offer_items", "offer_item_not_over_allocated"),
        ]:
            found = await conn.fetchval(
                "SELECT count(*) FROM pg_constraint WHERE conname = $1 AND contype = 'c'",
                constraint,
            )
            assert found == 1, f"{table} lacks its CHECK constraint"
        await conn.execute("""
            INSERT INTO emergencies (id, title, hazard, countries, lat, lon, severity, status,
                                     created_by)
            VALUES ('emg_x', 'x', 'flood', '{NOR}', 60, 10, 'minor', 'active', 't');
            INSERT INTO requests (id, emergency_id, requesting_country, created_by)
            VALUES ('rfa_x', 'emg_x', 'NOR', 't');
            INSERT INTO needs (id, request_id, position, emergency_id, resource_type, quantity,
                               priority)
            VALUES ('ned_x', 'rfa_x', 1, 'emg_x', 'shelter.blanket', 10, 'normal');
        """)
        with pytest.raises(asyncpg.CheckViolationError, match="need_not_over_allocated"):
            await conn.execute("UPDATE needs SET allocated = 11 WHERE id = 'ned_x'")
