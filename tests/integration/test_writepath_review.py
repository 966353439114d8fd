"""Defects a review of the write path found, each pinned by a test that failed
before its fix: the displaced item's re-plan never waits while holding rows, a
committed decision never answers 5xx, and a transaction never reports a commit
that PostgreSQL turned into a rollback, nor nests."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from eadrcc import db
from eadrcc.events import log as events
from eadrcc.matching import service
from tests.conftest import TokenFactory
from tests.integration.ops_helpers import T0, Api, api, emergency_body, item, never_blocked_by

Client = TestClient  # type: ignore[type-arg]
WAIT_S = 30.0
TENTS = "shelter.tent.family"
PLACE = {"lat": 37.17, "lon": 37.03}


def _offer(emergency_id: str, country: str, *items: dict[str, Any], **over: Any) -> dict[str, Any]:
    return {
        "emergency_id": emergency_id,
        "offering_country": country,
        "channel": "direct",
        "items": list(items),
        **over,
    }


async def _need(officer: Api, emergency_id: str, quantity: int) -> dict[str, Any]:
    rfa = await officer.post(
        f"/api/v1/emergencies/{emergency_id}/requests",
        {
            "requesting_country": "TUR",
            "needs": [
                {
                    "resource_type": TENTS,
                    "quantity": quantity,
                    "priority": "high",
                    "needed_by": "2026-02-07T06:00:00+03:00",  # T0 + 24 h
                    "delivery": PLACE,
                }
            ],
        },
        expect=201,
    )
    need: dict[str, Any] = rfa["needs"][0]
    return need


async def test_a_displaced_item_is_replanned_without_waiting_for_a_held_need(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    first = await _need(officer, emergency["id"], 100)
    # D: no origin (a slow, far estimate), all proposed to the first need.
    slow = await officer.post(
        "/api/v1/offers", _offer(emergency["id"], "DEU", item(TENTS, 100)), expect=201
    )
    assert [m["need_id"] for m in slow["matches"]] == [first["id"]]
    other = await _need(officer, emergency["id"], 100)  # lacking; D could fill it

    async with pool.acquire() as holder, holder.transaction():
        await holder.execute("SELECT 1 FROM needs WHERE id = $1 FOR UPDATE", other["id"])
        # A clearly better offer for the first need's request displaces D.
        better = asyncio.create_task(
            officer.post(
                "/api/v1/offers",
                _offer(
                    emergency["id"],
                    "FRA",
                    item(TENTS, 100, origin=PLACE, available_from=T0),
                    request_id=first["request_id"],
                ),
                expect=201,
            )
        )
        # The offer holds D once it displaces it: it must never then wait for the held
        # need (an accept holding that need and wanting D would deadlock with it).
        await never_blocked_by(
            pool, holder, better, "the offer waits for the held need while holding D"
        )
    made = await better
    assert [m["need_id"] for m in made["matches"]] == [first["id"]]


async def test_a_committed_decline_answers_200_when_the_replan_after_it_fails(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    await _need(officer, emergency["id"], 100)
    germany = await officer.post(
        "/api/v1/offers", _offer(emergency["id"], "DEU", item(TENTS, 100)), expect=201
    )
    france = await officer.post(
        "/api/v1/offers", _offer(emergency["id"], "FRA", item(TENTS, 100)), expect=201
    )

    async def broken(**_: Any) -> None:
        raise RuntimeError("the replan after commit failed")

    monkeypatch.setattr(service, "rematch", broken)
    match_id = germany["matches"][0]["id"]
    async with pool.acquire() as holder, holder.transaction():
        # France's item held elsewhere: the decline passes it over, to plan after commit.
        await holder.execute(
            "SELECT 1 FROM offer_items WHERE id = $1 FOR UPDATE", france["items"][0]["id"]
        )
        declined = await officer.post(
            f"/api/v1/matches/{match_id}/decline", {"reason": "x"}, expect=200
        )
    assert declined["status"] == "declined"


async def test_a_commit_that_postgresql_rolled_back_is_an_error_and_runs_no_hook(
    pool: asyncpg.Pool,
) -> None:
    ran: list[str] = []

    async def hook(_conn: asyncpg.Connection) -> None:
        ran.append("after")

    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="did not commit"):
            async with db.transaction_on(conn):
                await conn.execute("CREATE TEMP TABLE aborted_work (x int)")
                db.after_commit(conn, hook)
                with pytest.raises(asyncpg.DivisionByZeroError):
                    await conn.execute("SELECT 1 / 0")  # the transaction is aborted now
        assert ran == []
        assert await conn.fetchval("SELECT to_regclass('pg_temp.aborted_work')") is None


async def test_a_transaction_cannot_be_opened_inside_another_on_one_connection(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="already open"):
            async with db.transaction_on(conn):
                await conn.execute("CREATE TEMP TABLE nested_outer (x int)")
                async with db.transaction_on(conn):
                    pass
        assert not conn.is_in_transaction()
        # The outer work was rolled back, not committed by an inner COMMIT.
        assert await conn.fetchval("SELECT to_regclass('pg_temp.nested_outer')") is None

        with pytest.raises(RuntimeError, match="already open"):
            async with conn.transaction(), db.transaction_on(conn):
                pass


async def test_a_closing_statement_registered_in_both_queues_is_sent_once(
    pool: asyncpg.Pool,
) -> None:
    async with db.transaction(pool) as conn:
        db.with_commit(conn, events._append_sql)  # not last: as the bench once did
        events.record(conn, kind="test.once", actor="t", data={})
    assert await pool.fetchval("SELECT count(*) FROM events WHERE kind = 'test.once'") == 1


async def test_a_hook_that_is_cancelled_stops_neither_the_others_nor_the_commit(
    pool: asyncpg.Pool,
) -> None:
    ran: list[str] = []

    async def cancelled(_conn: asyncpg.Connection) -> None:
        raise asyncio.CancelledError  # its own, not its caller's

    async def after(_conn: asyncpg.Connection) -> None:
        ran.append("after")

    async with db.transaction(pool) as conn:
        events.record(conn, kind="test.cancelled_hook", actor="t", data={})
        db.after_commit(conn, cancelled)
        db.after_commit(conn, after)
    assert ran == ["after"]
    kind = "test.cancelled_hook"
    assert await pool.fetchval("SELECT count(*) FROM events WHERE kind = $1", kind) == 1


async def test_planning_does_not_queue_behind_a_foreign_keys_share_lock(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    offer = await officer.post(
        "/api/v1/offers", _offer(emergency["id"], "DEU", item(TENTS, 100)), expect=201
    )
    async with pool.acquire() as holder, holder.transaction():
        # What a row referencing the item (a duplicate flag) takes on it.
        await holder.execute(
            "SELECT 1 FROM offer_items WHERE id = $1 FOR KEY SHARE", offer["items"][0]["id"]
        )
        need = asyncio.create_task(_need(officer, emergency["id"], 100))  # plans the item
        await never_blocked_by(pool, holder, need, "planning waits behind a KEY SHARE lock")
    planned = await need
    assert await pool.fetchval("SELECT proposed FROM needs WHERE id = $1", planned["id"]) == 100


async def test_a_plan_that_may_displace_locks_no_item_of_a_lacking_needs_proposals(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    """Once one need of a type is full, a new offer of that type is planned under
    locks, where it may displace from that need. The items of the full need's
    proposals are locked (a displaced proposal moves its item's counter); those of a
    need that still lacks are not: a large need has one for every offer so far, and
    locking them all made every such offer wait on, and pay for, all of them."""
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    full = await _need(officer, emergency["id"], 10)
    large = await _need(officer, emergency["id"], 1_000)
    filling = await officer.post(
        "/api/v1/offers", _offer(emergency["id"], "DEU", item(TENTS, 10)), expect=201
    )
    assert [m["need_id"] for m in filling["matches"]] == [full["id"]]
    earlier = await officer.post(
        "/api/v1/offers", _offer(emergency["id"], "FRA", item(TENTS, 20)), expect=201
    )
    assert [m["need_id"] for m in earlier["matches"]] == [large["id"]]

    async with pool.acquire() as holder, holder.transaction():
        # The large need's proposed item, held by another transaction
        await holder.execute(
            "SELECT 1 FROM offer_items WHERE id = $1 FOR UPDATE", earlier["items"][0]["id"]
        )
        later = asyncio.create_task(
            officer.post(
                "/api/v1/offers", _offer(emergency["id"], "POL", item(TENTS, 30)), expect=201
            )
        )
        await never_blocked_by(
            pool, holder, later, "the plan waits for an item proposed to the lacking need"
        )
    made = await later
    assert [(m["need_id"], m["quantity"]) for m in made["matches"]] == [(large["id"], 30)]
