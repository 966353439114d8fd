"""Reminders and escalation with short settings, two schedulers at once and a
restart in between: every silent nation is reminded once and reported overdue
once, an answered one never; POCs see their own reminder and no overdue report."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from eadrcc.app import create_app
from eadrcc.config import Settings
from tests.conftest import TokenFactory
from tests.integration.ops_helpers import Api, emergency_body

# Before the restart only reminders fall due; after it, escalations too. (A fixed
# 15 s escalation "well after the restart" was a guess a loaded machine could break.)
SHORT = {
    "ack_reminder_minutes": 0.02,  # 1.2 s
    "ack_escalate_minutes": 600,
    "scheduler_interval_seconds": 0.1,
}
RESTARTED = {**SHORT, "ack_escalate_minutes": 0.02}
CHASED = ("response.reminder", "response.overdue")


@asynccontextmanager
async def hub(db_url: str, **settings: Any) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    app = create_app(Settings(database_url=db_url, pool_min_size=1, pool_max_size=4, **settings))
    async with TestClient(TestServer(app)) as client:
        yield client


async def chased(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return list(
            await conn.fetch(
                "SELECT seq, kind, data->>'country' AS country, visibility FROM events"
                " WHERE kind = ANY($1::text[]) ORDER BY seq",
                list(CHASED),
            )
        )


async def until(pool: asyncpg.Pool, kind: str, countries: set[str], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while {r["country"] for r in await chased(pool) if r["kind"] == kind} != countries:
            await asyncio.sleep(0.1)


async def head(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        value: int = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM events")
        return value


async def test_reminders_then_overdue_across_a_restart_each_sent_once(
    db_url: str, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    # Set-up on a hub with the default (two-hour) settings: nothing is due yet.
    async with hub(db_url) as client:
        officer = Api(client, await make_token("duty_officer"))
        nor = Api(client, await make_token("poc", country="NOR"))
        em = await officer.post("/api/v1/emergencies", emergency_body(exercise=True), expect=201)
        await officer.post(
            f"/api/v1/emergencies/{em['id']}/requests",
            {
                "requesting_country": "TUR",
                "needs": [{"resource_type": "shelter.blanket", "quantity": 9}],
            },
            expect=201,
        )
        base = f"/api/v1/emergencies/{em['id']}"
        await officer.call("PUT", f"{base}/distribution", {"countries": ["DEU", "FRA", "NOR"]})
        await nor.post(f"{base}/responses/NOR", {"state": "acknowledged"}, expect=200)

    # Two instances with short settings: one scheduler works, reminders go once.
    async with AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(hub(db_url, **SHORT))
        await until(pool, "response.reminder", {"DEU", "FRA"}, timeout=30)
    restarted_after = await head(pool)
    assert not [r for r in await chased(pool) if r["kind"] == "response.overdue"]

    # A restarted hub reports the overdue ones, and sends no reminder again.
    async with hub(db_url, **RESTARTED) as client:
        await until(pool, "response.overdue", {"DEU", "FRA"}, timeout=60)
        deu = Api(client, await make_token("poc", country="DEU"))
        officer = Api(client, await make_token("duty_officer"))
        page = await deu.get("/api/v1/events?since=0&limit=1000")
        mine = [e for e in page["events"] if e["kind"] in CHASED]
        assert [(e["kind"], e["data"]["country"]) for e in mine] == [("response.reminder", "DEU")]
        assert mine[0]["data"]["marking"] == "EXERCISE"
        rows = {r["country"]: r for r in await officer.get(f"{base}/responses")}
        assert rows["DEU"]["overdue"] and rows["DEU"]["reminded_at"]
        assert rows["NOR"]["state"] == "acknowledged" and not rows["NOR"]["overdue"]

    events = await chased(pool)
    assert Counter((r["kind"], r["country"]) for r in events) == {
        ("response.reminder", "DEU"): 1,
        ("response.reminder", "FRA"): 1,
        ("response.overdue", "DEU"): 1,
        ("response.overdue", "FRA"): 1,
    }
    overdue = [r for r in events if r["kind"] == "response.overdue"]
    assert all(r["seq"] > restarted_after and r["visibility"] == [] for r in overdue)
