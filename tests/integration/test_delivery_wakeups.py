"""A delivery loop is woken by news for its own subscription only: events another
nation alone may see (its offers, its request.circulated, its response row) cost
that nation's loops a read of the log, not every subscription's. Without this,
each of the 67 per-nation events of one commit woke all 70 loops."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from eadrcc.app import create_app
from eadrcc.config import Settings
from tests.conftest import TokenFactory
from tests.integration.delivery_helpers import Receiver, wait_until
from tests.integration.ops_helpers import api, emergency_body, item
from tests.integration.test_delivery import FAST, expected_for, subscribe

Client = TestClient  # type: ignore[type-arg]


@pytest.fixture
async def hub(db_url: str) -> Any:
    # Loops and hub poll once a minute: any other read is a wake-up by news.
    slow_poll = {**FAST, "event_poll_seconds": 60.0}
    settings = Settings(database_url=db_url, pool_min_size=1, pool_max_size=10, **slow_poll)
    async with TestClient(TestServer(create_app(settings))) as client:
        yield client


async def _gauge(client: Client, name: str, sub_id: str) -> float:
    metrics = await (await client.get("/metrics")).text()
    line = rf'^eadrcc_delivery_{name}{{subscription="{sub_id}"}} (\S+)$'
    found = re.search(line, metrics, re.M)
    assert found, f"no {name} gauge for {sub_id}"
    return float(found.group(1))


async def _idle(client: Client, pool: asyncpg.Pool, sub: Any, country: str, got: Receiver) -> bool:
    """Everything the country may see has reached its receiver, and the loop has
    read the log once more since (found nothing): it is waiting for news."""
    wanted = set(await expected_for(pool, country, sub["cursor"]))
    delivered = {r.seq for r in got.acknowledged}
    return wanted <= delivered and await _gauge(client, "lag_events", sub["id"]) == 0


async def test_only_the_loops_whose_subscription_may_see_an_event_read_the_log(
    hub: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    officer = await api(hub, make_token, "duty_officer")
    tur = await api(hub, make_token, "poc", "TUR")
    nor = await api(hub, make_token, "poc", "NOR")
    nor_got, deu_got = await Receiver().start(), await Receiver().start()
    try:
        nor_sub = await subscribe(officer, nor_got, country="NOR")
        deu_sub = await subscribe(officer, deu_got, country="DEU")
        emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
        await tur.post(
            f"/api/v1/emergencies/{emergency['id']}/requests",
            {
                "requesting_country": "TUR",
                "needs": [{"resource_type": "shelter.blanket", "quantity": 500}],
            },
            expect=201,
        )
        # Both loops have delivered what each may see and are waiting for news.
        await wait_until(lambda: _idle(hub, pool, nor_sub, "NOR", nor_got))
        await wait_until(lambda: _idle(hub, pool, deu_sub, "DEU", deu_got))
        deu_before = await _gauge(hub, "reads", deu_sub["id"])
        nor_before = await _gauge(hub, "reads", nor_sub["id"])

        # Norway's offers: seen by Norway, Türkiye and staff, never by Germany.
        for n in range(5):
            await nor.post(
                "/api/v1/offers",
                {
                    "emergency_id": emergency["id"],
                    "offering_country": "NOR",
                    "channel": "direct",
                    "items": [item("shelter.blanket", 10 + n)],
                },
                expect=201,
            )
        await wait_until(lambda: _idle(hub, pool, nor_sub, "NOR", nor_got))
        assert await expected_for(pool, "DEU", deu_sub["cursor"]) == [
            r.seq for r in deu_got.first_receipts()
        ]  # nothing new for Germany
        deu_after = await _gauge(hub, "reads", deu_sub["id"])
        nor_after = await _gauge(hub, "reads", nor_sub["id"])
    finally:
        await nor_got.stop()
        await deu_got.stop()
    assert nor_after > nor_before  # Norway's loop woke for its news
    assert deu_after == deu_before  # Germany's slept through Norway's
