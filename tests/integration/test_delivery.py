"""Outbound webhook delivery against real receivers on loopback: in order, at
least once, signed, never stalled by another receiver, and exactly the events a
POC of the subscription's country sees on /ws."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from eadrcc.app import create_app
from eadrcc.auth import Principal, Role
from eadrcc.config import Settings
from eadrcc.events import log as events
from eadrcc.policy import event_audience
from tests.conftest import TokenFactory
from tests.integration.delivery_helpers import Receiver, always, wait_until
from tests.integration.ops_helpers import Api, api, emergency_body, item
from tests.integration.ws_helpers import stream

Client = TestClient  # type: ignore[type-arg]
FAST = {
    "webhook_allow_hosts": "127.0.0.1",
    "delivery_min_backoff_seconds": 0.05,
    "delivery_max_backoff_seconds": 0.3,
    "delivery_timeout_seconds": 1.0,
    "delivery_connect_timeout_seconds": 1.0,
    "delivery_lease_seconds": 3.0,
    "event_poll_seconds": 0.5,
}


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, pool_min_size=1, pool_max_size=10, **FAST)


@pytest.fixture
async def receivers() -> Any:
    made: list[Receiver] = []

    async def make(**kw: Any) -> Receiver:
        made.append(await Receiver(**kw).start())
        return made[-1]

    yield make
    for r in made:
        await r.stop()


async def subscribe(who: Api, receiver: Receiver, country: str | None = "NOR", **kw: Any) -> Any:
    body = {"kind": "webhook", "url": receiver.url, "country": country, **kw}
    made = await who.post("/api/v1/subscriptions", body, expect=201)
    receiver.secret = made["secret"]
    return made


async def story(client: Client, make_token: TokenFactory, amendments: int = 3) -> None:
    """An emergency, an RFA, offers from NOR and DEU, a decision, amendments."""
    officer = await api(client, make_token, "duty_officer")
    tur = await api(client, make_token, "poc", "TUR")
    nor = await api(client, make_token, "poc", "NOR")
    deu = await api(client, make_token, "poc", "DEU")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    rfa = await tur.post(
        f"/api/v1/emergencies/{emergency['id']}/requests",
        {
            "requesting_country": "TUR",
            "needs": [
                {"resource_type": "shelter.blanket", "quantity": 500},
                {"resource_type": "shelter.tent.family", "quantity": 50},
            ],
        },
        expect=201,
    )
    for who, country in ((nor, "NOR"), (deu, "DEU")):
        offer = await who.post(
            "/api/v1/offers",
            {
                "emergency_id": emergency["id"],
                "offering_country": country,
                "channel": "direct",
                "items": [item("shelter.blanket", 100)],
            },
            expect=201,
        )
        if offer["matches"]:
            await tur.post(f"/api/v1/matches/{offer['matches'][0]['id']}/accept", {}, expect=200)
    for n in range(amendments):
        await tur.call(
            "PATCH",
            f"/api/v1/requests/{rfa['id']}/needs/{rfa['needs'][1]['id']}",
            {"quantity": 60 + n},
            expect=200,
        )


async def expected_for(pool: asyncpg.Pool, country: str | None, since: int) -> list[int]:
    who = Principal("t", "t", Role.POC, country) if country else Principal("t", "t", Role.ADMIN)
    async with pool.acquire() as conn:
        head = await events.head(conn)
        rows = await events.read_between(
            conn, since=since, until=head, audience=event_audience(who), limit=100_000
        )
    return [r["seq"] for r in rows]


async def test_refusing_receiver_gets_every_event_once_in_order_after_recovering(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool, receivers: Any
) -> None:
    # Refuses the first eight requests (503, 404, a redirect, resets), then accepts.
    script: list[int | str] = [503, 404, 302, "reset", 500, 429, "reset", 503]
    receiver = await receivers(behaviour=lambda n: script[n] if n < len(script) else 204)
    nor = await api(client, make_token, "poc", "NOR")
    sub = await subscribe(nor, receiver)
    await story(client, make_token)
    expected = await expected_for(pool, "NOR", sub["cursor"])
    assert len(expected) >= 8
    await receiver.wait_for(lambda: {r.seq for r in receiver.acknowledged} >= set(expected))
    firsts = receiver.first_receipts()
    assert [r.seq for r in firsts] == expected  # in order, nothing missing, nothing extra
    assert all(r.delivery == f"{sub['id']}:{r.seq}" for r in firsts)
    # Every refusal was the same delivery again, never a later one overtaking it.
    assert {r.delivery for r in receiver.requests[: len(script) + 1]} == {firsts[0].delivery}
    await wait_until(lambda: _cursor_at(pool, sub["id"], expected[-1]))  # logged after sending
    log = await nor.get(f"/api/v1/subscriptions/{sub['id']}/deliveries?limit=1000")
    assert sorted(d["seq"] for d in log) == expected
    first = next(d for d in log if d["seq"] == expected[0])
    assert first["status"] == "delivered" and first["attempts"] == len(script) + 1
    assert all(d["status"] == "delivered" and d["attempts"] == 1 for d in log[:-1])


async def _cursor_at(pool: asyncpg.Pool, sub_id: str, seq: int) -> bool:
    async with pool.acquire() as conn:
        return bool(
            await conn.fetchval("SELECT cursor >= $2 FROM subscriptions WHERE id = $1", sub_id, seq)
        )


async def test_webhook_gets_exactly_what_the_countrys_poc_gets_on_ws(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool, receivers: Any
) -> None:
    url = str(client.make_url("")).rstrip("/")
    officer = await api(client, make_token, "duty_officer")
    views = {"NOR": await receivers(), "DEU": await receivers(), None: await receivers()}
    subs = {c: await subscribe(officer, r, country=c) for c, r in views.items()}
    since = max(s["cursor"] for s in subs.values())
    assert all(s["cursor"] == since for s in subs.values())  # nothing happened in between
    tokens = {
        "NOR": await make_token("poc", country="NOR"),
        "DEU": await make_token("poc", country="DEU"),
        None: await make_token("duty_officer"),
    }
    async with (
        stream(url, tokens["NOR"], since=since) as (ws_nor, _),
        stream(url, tokens["DEU"], since=since) as (ws_deu, _),
        stream(url, tokens[None], since=since) as (ws_staff, _),
    ):
        await story(client, make_token, amendments=2)
        async with pool.acquire() as conn:
            head = await events.head(conn)
        sockets = {"NOR": ws_nor, "DEU": ws_deu, None: ws_staff}
        for country, ws in sockets.items():
            last = (await expected_for(pool, country, since))[-1]
            on_ws = await _texts_until(ws, last)
            receiver = views[country]
            await receiver.wait_for(
                lambda r=receiver, s=last: any(x.seq == s for x in r.acknowledged)
            )
            by_webhook = [r.body for r in receiver.first_receipts()]
            assert by_webhook == on_ws, country  # the same events, byte for byte
    assert head > since


async def _texts_until(ws: Any, seq: int) -> list[str]:
    texts: list[str] = []
    async with asyncio.timeout(20):
        while not texts or json.loads(texts[-1])["seq"] < seq:
            text = await ws.recv()
            if json.loads(text)["type"] == "event":
                texts.append(text)
    return texts


async def test_hanging_and_resetting_receivers_never_delay_a_good_one(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool, receivers: Any
) -> None:
    officer = await api(client, make_token, "duty_officer")
    hanging = await receivers(behaviour=always_hang())
    resetting = await receivers(behaviour=lambda _n: "reset")
    redirecting = await receivers(behaviour=always(302))
    good = await receivers()
    subs = [await subscribe(officer, r, country=None) for r in (hanging, resetting, redirecting)]
    ok = await subscribe(officer, good, country=None)
    await story(client, make_token)
    expected = await expected_for(pool, None, ok["cursor"])
    await good.wait_for(lambda: [r.seq for r in good.first_receipts()] == expected)
    # Meanwhile the others are retried, each stuck on its first event, and say why.
    for sub, error in zip(subs, ("timed out", "", "HTTP 302"), strict=True):
        log = await wait_until(lambda s=sub: _failing(officer, s["id"]))
        assert log[0]["seq"] == expected[0] and error in log[0]["last_error"]
    assert len(hanging.requests) >= 1 and len(resetting.requests) >= 1
    assert all(r.seq == expected[0] for r in redirecting.requests)


def always_hang() -> Any:
    return lambda _n: "hang"


async def _failing(who: Api, sub_id: str) -> Any:
    log = await who.get(f"/api/v1/subscriptions/{sub_id}/deliveries")
    return log if log and log[0]["status"] == "failing" and log[0]["attempts"] >= 2 else None


async def test_a_receiver_failing_past_the_give_up_time_is_suspended_and_staff_told(
    db_url: str, make_token: TokenFactory, pool: asyncpg.Pool, receivers: Any
) -> None:
    settings = Settings(database_url=db_url, **{**FAST, "delivery_give_up_hours": 0.0003})
    async with TestClient(TestServer(create_app(settings))) as client:
        officer = await api(client, make_token, "duty_officer")
        nor = await api(client, make_token, "poc", "NOR")
        dead = await receivers(behaviour=always(500))
        sub = await subscribe(nor, dead)
        await story(client, make_token, amendments=0)
        suspended = await wait_until(lambda: _suspended_event(officer, sub["id"]))
        assert (
            suspended["data"]["country"] == "NOR" and "HTTP 500" in suspended["data"]["last_error"]
        )
        [listed] = await nor.get("/api/v1/subscriptions")
        assert listed["status"] == "suspended" and listed["suspended_at"]
        log = await nor.get(f"/api/v1/subscriptions/{sub['id']}/deliveries")
        assert log[0]["status"] == "suspended"
        # Staff only: the nation's own event stream does not carry it.
        page = await nor.get(f"/api/v1/events?since={sub['cursor']}&limit=5000")
        assert "subscription.suspended" not in {e["kind"] for e in page["events"]}
        channel = (await nor.get("/api/v1/channels"))[0]
        assert channel["suspended"] == 1 and channel["working"] is False


async def _suspended_event(who: Api, sub_id: str) -> Any:
    page = await who.get("/api/v1/events?since=0&limit=5000")
    found = [e for e in page["events"] if e["kind"] == "subscription.suspended"]
    return next((e for e in found if e["data"]["id"] == sub_id), None)


async def test_working_channel_and_metrics(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool, receivers: Any
) -> None:
    # Poland: on the distribution list, and it offers nothing in the story.
    nor = await api(client, make_token, "poc", "POL")
    receiver = await receivers()
    sub = await subscribe(nor, receiver, country="POL", events=["request."])
    await story(client, make_token, amendments=0)
    await receiver.wait_for(lambda: len(receiver.acknowledged) >= 1)
    assert {json.loads(r.body)["kind"].split(".")[0] for r in receiver.acknowledged} == {"request"}
    channel = await wait_until(lambda: _working(nor))
    assert channel["last_success_at"] and channel["failing_since"] is None
    # The nation's channel delivered the RFA's circulation: its response row says so.
    officer = await api(client, make_token, "duty_officer")
    [emergency] = await officer.get("/api/v1/emergencies")
    row = await wait_until(lambda: _response(officer, emergency["id"], "POL"))
    assert row["state"] == "delivered"
    metrics = await (await client.get("/metrics")).text()
    assert f'eadrcc_delivery_delivered{{subscription="{sub["id"]}"}}' in metrics


async def _working(who: Api) -> Any:
    [channel] = await who.get("/api/v1/channels")
    return channel if channel["working"] else None


async def _response(who: Api, emergency_id: str, country: str) -> Any:
    rows = await who.get(f"/api/v1/emergencies/{emergency_id}/responses")
    row = next((r for r in rows if r["country"] == country), None)
    return row if row and row["state"] != "notified" else None
