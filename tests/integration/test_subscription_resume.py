"""Resuming a suspended subscription: from its cursor (nothing it missed is lost,
nothing it acknowledged is sent again) or, when asked, from the head of the log.
Real receivers on loopback, real PostgreSQL, the hub's own delivery worker."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from eadrcc.app import create_app
from eadrcc.config import Settings
from eadrcc.events import log as events
from tests.conftest import TokenFactory
from tests.integration.delivery_helpers import Receiver, wait_until
from tests.integration.ops_helpers import Api, api, emergency_body
from tests.integration.test_delivery import FAST, expected_for, story, subscribe

Client = TestClient  # type: ignore[type-arg]
# Suspended after about a second of failing.
GIVE_UP = {**FAST, "delivery_give_up_hours": 0.0003}


class Switch:
    """A receiver's answer that the test turns from 'down' (503) to 'up' (204)."""

    def __init__(self) -> None:
        self.up = False

    def __call__(self, _n: int) -> int:
        return 204 if self.up else 503


@pytest.fixture
async def hub(db_url: str) -> Any:
    settings = Settings(database_url=db_url, pool_min_size=1, pool_max_size=10, **GIVE_UP)
    async with TestClient(TestServer(create_app(settings))) as client:
        yield client


@pytest.fixture
async def down_receiver() -> Any:
    switch = Switch()
    receiver = await Receiver(behaviour=switch).start()
    yield receiver, switch
    await receiver.stop()


async def _suspended(nor: Api, sub_id: str) -> Any:
    found = [s for s in await nor.get("/api/v1/subscriptions") if s["id"] == sub_id]
    return found[0] if found and found[0]["status"] == "suspended" else None


async def _resumed_event(officer: Api, sub_id: str) -> Any:
    page = await officer.get("/api/v1/events?since=0&limit=5000")
    found = [e for e in page["events"] if e["kind"] == "subscription.resumed"]
    return next((e for e in found if e["data"]["id"] == sub_id), None)


async def _head(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return await events.head(conn)


async def test_resumed_from_its_cursor_nothing_lost_nothing_repeated(
    hub: Client, make_token: TokenFactory, pool: asyncpg.Pool, down_receiver: Any
) -> None:
    receiver, switch = down_receiver
    officer = await api(hub, make_token, "duty_officer")
    nor = await api(hub, make_token, "poc", "NOR")
    sub = await subscribe(nor, receiver)
    await story(hub, make_token, amendments=1)
    suspended = await wait_until(lambda: _suspended(nor, sub["id"]))
    assert suspended["cursor"] == sub["cursor"]  # stuck on its first event
    # More happens while it is suspended: it must reach the receiver too.
    await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    expected = await expected_for(pool, "NOR", sub["cursor"])
    tried = len(receiver.requests)
    switch.up = True

    resumed = await nor.post(f"/api/v1/subscriptions/{sub['id']}/resume", {}, expect=200)
    assert resumed["status"] == "active" and resumed["cursor"] == sub["cursor"]
    assert resumed["suspended_at"] is None and resumed["failing_since"] is None

    await receiver.wait_for(lambda: {r.seq for r in receiver.acknowledged} >= set(expected))
    # In order, each once (its delivery then moves NOR's response row: later events).
    seqs = [r.seq for r in receiver.acknowledged]
    assert seqs[: len(expected)] == expected and len(set(seqs)) == len(seqs)
    since_resume = [r.delivery for r in receiver.requests[tried:]]
    assert len(set(since_resume)) == len(since_resume)  # no event sent twice
    event = await wait_until(lambda: _resumed_event(officer, sub["id"]))
    assert event["actor"] and event["data"] == {
        "id": sub["id"],
        "country": "NOR",
        "kind": "webhook",
        "from": "cursor",
        "previous_cursor": sub["cursor"],
        "cursor": sub["cursor"],
    }
    # Staff only, as the suspension was: the nation's own stream does not carry it.
    page = await nor.get(f"/api/v1/events?since={sub['cursor']}&limit=5000")
    assert "subscription.resumed" not in {e["kind"] for e in page["events"]}
    log = await nor.get(f"/api/v1/subscriptions/{sub['id']}/deliveries?limit=1000")
    assert {d["status"] for d in log} == {"delivered"}  # the suspended row was delivered


async def test_resumed_from_the_head_skips_what_it_missed(
    hub: Client, make_token: TokenFactory, pool: asyncpg.Pool, down_receiver: Any
) -> None:
    receiver, switch = down_receiver
    officer = await api(hub, make_token, "duty_officer")
    sub = await subscribe(officer, receiver)  # staff may resume a nation's subscription
    await story(hub, make_token, amendments=0)
    await wait_until(lambda: _suspended(officer, sub["id"]))
    switch.up = True
    head = await _head(pool)

    resumed = await officer.post(
        f"/api/v1/subscriptions/{sub['id']}/resume", {"from": "head"}, expect=200
    )
    assert resumed["status"] == "active" and resumed["cursor"] >= head
    event = await wait_until(lambda: _resumed_event(officer, sub["id"]))
    assert event["data"]["from"] == "head" and event["data"]["previous_cursor"] == sub["cursor"]

    await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    expected = await expected_for(pool, "NOR", resumed["cursor"])
    assert expected  # the new emergency is news to every nation
    await receiver.wait_for(lambda: {r.seq for r in receiver.acknowledged} >= set(expected))
    seqs = [r.seq for r in receiver.acknowledged]
    assert seqs[: len(expected)] == expected and min(seqs) > head  # nothing from before


async def test_who_may_resume_and_bad_requests_change_nothing(
    hub: Client, make_token: TokenFactory, pool: asyncpg.Pool, down_receiver: Any
) -> None:
    receiver, _switch = down_receiver
    nor = await api(hub, make_token, "poc", "NOR")
    deu = await api(hub, make_token, "poc", "DEU")
    observer = await api(hub, make_token, "observer")
    sub = await subscribe(nor, receiver)
    path = f"/api/v1/subscriptions/{sub['id']}/resume"
    # Active: nothing to resume.
    await nor.post(path, {}, expect=409)
    await story(hub, make_token, amendments=0)
    await wait_until(lambda: _suspended(nor, sub["id"]))

    await deu.post(path, {}, expect=403)  # another nation's
    await observer.post(path, {}, expect=403)
    await nor.post("/api/v1/subscriptions/sub_0000000000000000/resume", {}, expect=404)
    bad = await nor.post(path, {"from": "yesterday"}, expect=422)
    assert "from" in bad["errors"]
    await nor.post(path, {"from": "head", "extra": 1}, expect=422)
    assert await _suspended(nor, sub["id"])  # still suspended, cursor unchanged
    async with pool.acquire() as conn:
        resumed = await conn.fetchval(
            "SELECT count(*) FROM events WHERE kind = 'subscription.resumed'"
        )
    assert resumed == 0
