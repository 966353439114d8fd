"""Room a decision (or a withdrawal, or an amendment) frees is planned in the same
transaction: the change and the proposals it makes possible commit together (their
events share one transaction), so no crash between two transactions can leave the
room unplanned. A candidate
another transaction holds is passed over, not waited for, and planned right after
the commit instead."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from tests.conftest import TokenFactory
from tests.integration.ops_helpers import Api, api, emergency_body, item

Client = TestClient  # type: ignore[type-arg]
WAIT_S = 30.0


async def _tents(officer: Api, emergency_id: str, quantity: int) -> dict[str, Any]:
    rfa = await officer.post(
        f"/api/v1/emergencies/{emergency_id}/requests",
        {
            "requesting_country": "TUR",
            "needs": [
                {"resource_type": "shelter.tent.family", "quantity": quantity, "priority": "high"}
            ],
        },
        expect=201,
    )
    need: dict[str, Any] = rfa["needs"][0]
    return need


async def _offer(officer: Api, emergency_id: str, country: str, quantity: int) -> Any:
    return await officer.post(
        "/api/v1/offers",
        {
            "emergency_id": emergency_id,
            "offering_country": country,
            "channel": "direct",
            "items": [item("shelter.tent.family", quantity)],
        },
        expect=201,
    )


async def _events_since(pool: asyncpg.Pool, seq: int) -> list[asyncpg.Record]:
    """Events after `seq` with the transaction that wrote each (xmin)."""
    return list(
        await pool.fetch(
            "SELECT seq, kind, data, xmin::text AS tx FROM events WHERE seq > $1 ORDER BY seq",
            seq,
        )
    )


async def _head(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT coalesce(max(seq), 0) FROM events"))


async def test_a_decline_and_the_proposal_it_frees_room_for_commit_together(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    need = await _tents(officer, emergency["id"], 100)
    [germany] = (await _offer(officer, emergency["id"], "DEU", 100))["matches"]
    assert (await _offer(officer, emergency["id"], "FRA", 100))["matches"] == []  # all proposed
    before = await _head(pool)

    await officer.post(
        f"/api/v1/matches/{germany['id']}/decline", {"reason": "wrong size"}, expect=200
    )

    events = await _events_since(pool, before)
    [declined] = [e for e in events if e["kind"] == "match.declined"]
    proposed = [e for e in events if e["kind"] == "match.proposed"]
    assert [(p["data"]["need_id"], p["data"]["offering_country"]) for p in proposed] == [
        (need["id"], "FRA")
    ]
    assert {e["tx"] for e in events} == {declined["tx"]}  # one transaction, one commit


async def test_an_accept_and_the_proposals_of_what_it_left_commit_together(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    await _tents(officer, emergency["id"], 100)
    [germany] = (await _offer(officer, emergency["id"], "DEU", 100))["matches"]
    await _tents(officer, emergency["id"], 50)  # Germany's tents are all proposed already
    before = await _head(pool)

    # Half accepted: the other 50 German tents are free for either need again.
    await officer.post(f"/api/v1/matches/{germany['id']}/accept", {"quantity": 50}, expect=200)

    events = await _events_since(pool, before)
    [accepted] = [e for e in events if e["kind"] == "match.accepted"]
    proposed = [e for e in events if e["kind"] == "match.proposed"]
    assert sum(p["data"]["quantity"] for p in proposed) == 50
    assert {e["tx"] for e in events} == {accepted["tx"]}


async def test_a_withdrawal_and_the_proposal_that_replaces_it_commit_together(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    need = await _tents(officer, emergency["id"], 100)
    germany = await _offer(officer, emergency["id"], "DEU", 100)
    await officer.post(f"/api/v1/matches/{germany['matches'][0]['id']}/accept", expect=200)
    assert (await _offer(officer, emergency["id"], "FRA", 100))["matches"] == []
    before = await _head(pool)

    await officer.post(f"/api/v1/offers/{germany['id']}/withdraw", {"reason": "x"}, expect=200)

    events = await _events_since(pool, before)
    [withdrawn] = [e for e in events if e["kind"] == "offer.withdrawn"]
    proposed = [e for e in events if e["kind"] == "match.proposed"]
    assert [(p["data"]["need_id"], p["data"]["offering_country"]) for p in proposed] == [
        (need["id"], "FRA")
    ]
    assert {e["tx"] for e in events} == {withdrawn["tx"]}


async def test_an_amendment_and_the_proposal_it_makes_room_for_commit_together(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    need = await _tents(officer, emergency["id"], 100)
    await _offer(officer, emergency["id"], "DEU", 100)
    assert (await _offer(officer, emergency["id"], "FRA", 50))["matches"] == []
    before = await _head(pool)

    await officer.call(
        "PATCH",
        f"/api/v1/requests/{need['request_id']}/needs/{need['id']}",
        {"quantity": 150},
        expect=200,
    )

    events = await _events_since(pool, before)
    [amended] = [e for e in events if e["kind"] == "need.updated"]
    proposed = [e for e in events if e["kind"] == "match.proposed"]
    assert [(p["data"]["offering_country"], p["data"]["quantity"]) for p in proposed] == [
        ("FRA", 50)
    ]
    assert {e["tx"] for e in events} == {amended["tx"]}


async def test_a_candidate_held_elsewhere_is_passed_over_then_planned_after_commit(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    need = await _tents(officer, emergency["id"], 100)
    [germany] = (await _offer(officer, emergency["id"], "DEU", 100))["matches"]
    france = await _offer(officer, emergency["id"], "FRA", 100)
    before = await _head(pool)

    async with pool.acquire() as holder, holder.transaction():
        # Another transaction holds France's item (as an accept elsewhere would).
        await holder.execute(
            "SELECT 1 FROM offer_items WHERE id = $1 FOR UPDATE", france["items"][0]["id"]
        )
        decline = asyncio.create_task(
            officer.post(f"/api/v1/matches/{germany['id']}/decline", {"reason": "x"}, expect=200)
        )
        # The decline commits without waiting for the held item...
        async with asyncio.timeout(WAIT_S):
            while not any(e["kind"] == "match.declined" for e in await _events_since(pool, before)):
                await asyncio.sleep(0.05)
        assert [e["kind"] for e in await _events_since(pool, before)] == ["match.declined"]
        assert not decline.done()  # ...and then waits, in order, to plan what it passed over
    await asyncio.wait_for(decline, WAIT_S)

    proposed = [e for e in await _events_since(pool, before) if e["kind"] == "match.proposed"]
    assert [(p["data"]["need_id"], p["data"]["offering_country"]) for p in proposed] == [
        (need["id"], "FRA")
    ]
