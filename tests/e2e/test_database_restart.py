"""PostgreSQL restarts under steady offer load: the hub recovers by itself, nothing
it acknowledged is lost, and a console's stream resumes without gap or repeat.
Uses an embedded server of its own, so restarting it disturbs no other test."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer
from pgserver._commands import pg_ctl

from eadrcc import auth, db
from eadrcc.app import create_app
from eadrcc.config import Settings
from eadrcc.events import log as events
from eadrcc.migrate import migrate
from eadrcc.seed import seed_reference
from tests.conftest import bearer, wait_ready
from tests.integration.ops_helpers import T0, emergency_body
from tests.integration.ws_helpers import stream


def _restart(data: Path) -> None:
    user = "pgserver" if os.geteuid() == 0 else None  # as pgserver runs it when root
    pg_ctl(["-w", "-m", "fast", "restart"], pgdata=data, user=user, timeout=60)


def _stop(data: Path) -> None:
    user = "pgserver" if os.geteuid() == 0 else None
    with contextlib.suppress(Exception):
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data, user=user, timeout=60)


async def test_the_hub_rides_out_a_database_restart(tmp_path: Path) -> None:
    data = tmp_path / "pg"
    url = await asyncio.to_thread(db.start_embedded, data)
    try:
        conn = await db.connect(url)
        await migrate(conn)
        await conn.close()
        pool = await db.create_pool(url, min_size=1, max_size=4)
        await seed_reference(pool)
        async with db.transaction(pool) as conn:
            officer = (
                await auth.create(conn=conn, role=auth.Role.DUTY_OFFICER, name="night")
            ).token
        server = TestServer(
            create_app(Settings(database_url=url, pool_min_size=1, event_poll_seconds=0.5))
        )
        await server.start_server()
        base = str(server.make_url("")).rstrip("/")
        try:
            async with pool.acquire() as conn:
                start = await events.head(conn)
            seen: list[int] = []
            follower = asyncio.ensure_future(_follow(base, officer, start, seen))
            acknowledged, statuses = await _load(base, officer, data)
            await wait_ready(base, timeout=60)
            await pool.expire_connections()
            async with pool.acquire() as conn:
                head = await events.head(conn)
                stored = {r["id"] for r in await conn.fetch("SELECT id FROM offers")}
                expected = [
                    r["seq"]
                    for r in await events.read_between(
                        conn, since=start, until=head, audience=None, limit=1_000_000
                    )
                ]
            async with asyncio.timeout(30):
                while not seen or seen[-1] < head:
                    await asyncio.sleep(0.05)
            follower.cancel()
        finally:
            await server.close()
            await pool.close()
    finally:
        await asyncio.to_thread(_stop, data)
    assert statuses <= {201, 503}, f"only 201 or a clear 503 while restarting: {statuses}"
    assert len(acknowledged) >= 2 * ENOUGH
    assert acknowledged <= stored, "an acknowledged offer is missing"
    assert seen == expected, "the stream missed, repeated or reordered events"


ENOUGH = 10  # offers acknowledged before the restart, and again after it


async def _load(base: str, token: str, data: Path) -> tuple[set[str], set[int]]:
    """Four writers; the database restarts once offers are being acknowledged, and the
    writers go on until ENOUGH more are acknowledged after it: the hub recovered by
    itself. Counted, not timed, so a slow machine only makes it take longer."""
    acknowledged: set[str] = set()
    after: set[str] = set()  # acknowledged once the restart was over
    statuses: set[int] = set()
    flowing, restarted = asyncio.Event(), asyncio.Event()
    async with aiohttp.ClientSession() as http, asyncio.timeout(180):
        async with http.post(
            f"{base}/api/v1/emergencies", json=emergency_body(), headers=bearer(token)
        ) as resp:
            emergency = await resp.json()

        async def writer() -> None:
            while not (restarted.is_set() and len(after) >= ENOUGH):
                body = {
                    "emergency_id": emergency["id"],
                    "offering_country": "NOR",
                    "channel": "direct",
                    "items": [
                        {"resource_type": "shelter.blanket", "quantity": 5, "available_from": T0}
                    ],
                }
                sent_after = restarted.is_set()
                async with http.post(
                    f"{base}/api/v1/offers", json=body, headers=bearer(token)
                ) as resp:
                    statuses.add(resp.status)
                    if resp.status == 201:
                        made = (await resp.json())["id"]
                        acknowledged.add(made)
                        if sent_after:
                            after.add(made)
                        elif len(acknowledged) >= ENOUGH:
                            flowing.set()
                    else:
                        await asyncio.sleep(0.05)  # a client backs off on 503

        async def restart() -> None:
            await flowing.wait()  # into the load: the fault is the point
            await asyncio.to_thread(_restart, data)
            restarted.set()

        await asyncio.gather(*(writer() for _ in range(4)), restart())
    return acknowledged, statuses


async def _follow(base: str, token: str, start: int, seen: list[int]) -> None:
    """A console that resumes from its last seq whenever its socket drops."""
    while True:
        with contextlib.suppress(Exception):
            async with stream(base, token, since=seen[-1] if seen else start) as (ws, _):
                async for raw in ws:
                    message = json.loads(raw)
                    if message["type"] == "event":
                        seen.append(message["seq"])
        await asyncio.sleep(0.1)
