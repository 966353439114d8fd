"""The real-time proof: two hub instances on one database, eight writers for a
while, and clients on both instances that drop at random moments and resume.
Each client must end up with exactly the committed events it may see: none
missing, none repeated, all in order (docs/architecture.md, promises 2, 3 and 5)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import asyncpg
from aiohttp.test_utils import TestServer
from websockets.exceptions import ConnectionClosed

from eadrcc.app import create_app
from eadrcc.config import Settings
from eadrcc.events import log as events
from tests.conftest import TokenFactory, bearer
from tests.integration.ops_helpers import T0, emergency_body
from tests.integration.ws_helpers import stream

SECONDS = float(os.environ.get("EADRCC_PROOF_SECONDS", "10"))
WRITERS = 8
RECONNECTS = 3  # each reader resumes at least this often while the writers write


async def test_every_client_gets_exactly_its_events_across_instances_and_reconnects(
    db_url: str, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    settings = Settings(database_url=db_url, pool_min_size=1, pool_max_size=10)
    servers = [TestServer(create_app(settings)) for _ in range(2)]
    for server in servers:
        await server.start_server()
    urls = [str(s.make_url("")) for s in servers]
    officer = await make_token("duty_officer")
    clients = {
        "staff": (officer, None),
        "tur": (await make_token("poc", country="TUR"), ["*", "TUR"]),
        "deu": (await make_token("poc", country="DEU"), ["*", "DEU"]),
        "nor": (await make_token("poc", country="NOR"), ["*", "NOR"]),
    }
    async with pool.acquire() as conn:
        start = await events.head(conn)
    try:
        async with aiohttp.ClientSession() as http:
            emergency_id = await _arrange(http, urls[0], officer)
            done = asyncio.Event()
            resumed = dict.fromkeys(clients, 0)
            readers = {
                name: asyncio.ensure_future(_follow(urls, token, start, done, resumed, name))
                for name, (token, _) in clients.items()
            }

            def enough() -> bool:
                """Writers go on for SECONDS and until every reader has resumed
                RECONNECTS times: on a loaded machine a reconnect takes longer."""
                return min(resumed.values()) >= RECONNECTS

            deadline = time.monotonic() + SECONDS
            written = await asyncio.gather(
                *(
                    _write(http, urls[n % 2], officer, emergency_id, deadline, enough)
                    for n in range(WRITERS)
                )
            )
            async with pool.acquire() as conn:
                final = await events.head(conn)
                expected = {
                    name: [
                        r["seq"]
                        for r in await events.read_between(
                            conn, since=start, until=final, audience=audience, limit=1_000_000
                        )
                    ]
                    for name, (_, audience) in clients.items()
                }
            for name, reader in readers.items():  # the last event each reader waits for
                reader.final = expected[name][-1]  # type: ignore[attr-defined]
            done.set()
            received = {name: await asyncio.wait_for(r, 60) for name, r in readers.items()}
    finally:
        for server in servers:
            await server.close()

    assert sum(written) > WRITERS * 5, "the writers barely wrote anything"
    for name, want in expected.items():
        got, reconnects = received[name]
        # The hub may write events of its own after the writers stop (its background
        # tasks: console receipts, the response scheduler), and a reader may see some
        # before it learns where to stop: beyond `final`, only order is checked.
        after = [seq for seq in got if seq > want[-1]]
        assert after == sorted(set(after)), f"{name}: after the end, out of order {after[:5]}"
        got = got[: len(got) - len(after)]
        assert got == want, (
            f"{name}: missing {sorted(set(want) - set(got))[:5]}, "
            f"extra {sorted(set(got) - set(want))[:5]}, repeats {len(got) - len(set(got))}"
        )
        assert reconnects >= RECONNECTS, f"{name} hardly reconnected ({reconnects})"
    assert received["deu"][0] != received["staff"][0]  # filtering really filtered


async def _arrange(http: aiohttp.ClientSession, url: str, token: str) -> str:
    async with http.post(
        f"{url}/api/v1/emergencies", json=emergency_body(), headers=bearer(token)
    ) as resp:
        emergency = await resp.json()
    needs = [
        {"resource_type": t, "quantity": 1_000_000}
        for t in ("shelter.tent.family", "shelter.blanket", "power.generator.medium")
    ]
    async with http.post(
        f"{url}/api/v1/emergencies/{emergency['id']}/requests",
        json={"requesting_country": "TUR", "needs": needs},
        headers=bearer(token),
    ) as resp:
        assert resp.status == 201
    return str(emergency["id"])


async def _write(
    http: aiohttp.ClientSession,
    url: str,
    token: str,
    emergency_id: str,
    deadline: float,
    enough: Callable[[], bool],
) -> int:
    """Offers from various nations (restricted events) and new emergencies (public),
    until the deadline has passed and the readers have resumed enough (capped at
    two minutes more, after which the reconnect assertion says what happened)."""
    count = 0
    cap = deadline + 120
    while time.monotonic() < cap and (time.monotonic() < deadline or not enough()):
        if random.random() < 0.2:
            path, body = "/api/v1/emergencies", emergency_body(title=f"Event {count}")
        else:
            path, body = (
                "/api/v1/offers",
                {
                    "emergency_id": emergency_id,
                    "channel": "direct",
                    "offering_country": random.choice(["NOR", "DEU", "FRA", "POL"]),
                    "items": [
                        {
                            "resource_type": random.choice(
                                ["shelter.tent.family", "shelter.blanket", "power.generator.medium"]
                            ),
                            "quantity": random.randint(1, 50),
                            "available_from": T0,
                        }
                    ],
                },
            )
        async with http.post(f"{url}{path}", json=body, headers=bearer(token)) as resp:
            assert resp.status == 201, await resp.text()
        count += 1
    return count


async def _follow(
    urls: list[str],
    token: str,
    start: int,
    done: asyncio.Event,
    resumed: dict[str, int],
    name: str,
) -> tuple[list[int], int]:
    """Follow the stream, dropping the connection at random and resuming from the
    last seq seen, on either instance; after the writers stop, catch up to the end."""
    got: list[int] = []
    position, reconnects = start, 0
    me = asyncio.current_task()
    while True:
        final: int | None = getattr(me, "final", None)
        finishing = done.is_set() and final is not None
        if finishing and position >= final:  # type: ignore[operator]
            return got, reconnects
        try:
            async with stream(random.choice(urls), token, since=position) as (ws, _):
                stop_at = time.monotonic() + random.uniform(0.05, 0.8)
                while finishing or time.monotonic() < stop_at:
                    try:
                        raw = await asyncio.wait_for(ws.recv(), 15 if finishing else 0.5)
                    except TimeoutError:
                        if finishing:
                            stuck = f"stuck at {position}; waiting for {final}"
                            raise AssertionError(stuck) from None
                        continue
                    message: dict[str, Any] = json.loads(raw)
                    if message["type"] == "heartbeat":
                        continue  # the hub's application heartbeat, not an event
                    assert message["type"] == "event", message
                    got.append(message["seq"])
                    position = message["seq"]
                    if finishing and position >= final:  # type: ignore[operator]
                        return got, reconnects
                if random.random() < 0.5:
                    ws.transport.abort()  # drop without a closing handshake
        except ConnectionClosed:
            pass
        reconnects += 1
        resumed[name] = reconnects
