"""An offer's transaction holds shared rows as briefly as it can: what it needs of
them is read without a lock, and a row is locked only where the offer changes it."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
import structlog
import structlog.testing
from aiohttp.test_utils import TestClient

from eadrcc import db
from eadrcc.appkeys import POOL, SETTINGS
from eadrcc.auth import Principal, Role
from eadrcc.circulation import service as circulation
from eadrcc.emergencies import service as emergencies
from eadrcc.emergencies.models import EmergencyCreate
from eadrcc.matching import engine
from eadrcc.matching.store import q as match_queries
from eadrcc.offers import service as offers
from eadrcc.offers.batching import OfferBatcher
from eadrcc.offers.models import OfferCreate
from eadrcc.requests import service as requests
from eadrcc.requests.models import RequestCreate
from tests.conftest import TokenFactory
from tests.integration.ops_helpers import (
    Api,
    api,
    blocked_statement,
    emergency_body,
    item,
    never_blocked_by,
    response_state,
)

Client = TestClient  # type: ignore[type-arg]
TENTS = "shelter.tent.family"
WATER = "water.bottled"  # no need in these tests takes it


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


async def test_a_nations_next_offer_does_not_queue_behind_its_circulation_row(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    await _rfa(officer, emergency["id"])
    assert await response_state(pool, emergency["id"], "NOR") == "notified"
    await officer.post("/api/v1/offers", _offer(emergency["id"], "NOR"), expect=201)
    assert await response_state(pool, emergency["id"], "NOR") == "offered"  # the first one moves it

    async with pool.acquire() as holder, holder.transaction():
        # what another offer of Norway's holds from its COMMIT's message on
        await holder.execute(
            "SELECT 1 FROM responses WHERE emergency_id = $1 AND country = 'NOR' FOR SHARE",
            emergency["id"],
        )
        second = asyncio.create_task(
            officer.post("/api/v1/offers", _offer(emergency["id"], "NOR"), expect=201)
        )
        await never_blocked_by(
            pool, holder, second, "Norway's second offer waits for its circulation row"
        )
    assert len((await second)["matches"]) == 1
    assert await response_state(pool, emergency["id"], "NOR") == "offered"


async def _one_need(
    client: Client, make_token: TokenFactory, quantity: int
) -> tuple[Api, dict[str, Any], dict[str, Any]]:
    """A duty officer, a new emergency, and its RFA's one need of tents."""
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    (need,) = (await _rfa(officer, emergency["id"], quantity))["needs"]
    return officer, emergency, need


async def _offer_against_held_need(
    officer: Api, pool: asyncpg.Pool, need: dict[str, Any], quantity: int, change: str
) -> tuple[dict[str, Any], str]:
    """Offer `quantity` while another transaction holds the need; once the offer
    waits for it, that transaction runs `change` on the need ($1: its id) and commits.
    Answers the offer and the statement it waited in.

    Germany has an offer open already (water, which no need takes): a nation's
    first offer moves its circulation row and is planned under locks."""
    await officer.post("/api/v1/offers", _offer_of(need["emergency_id"], "DEU", WATER), expect=201)
    async with pool.acquire() as holder:
        async with holder.transaction():
            await holder.execute("SELECT 1 FROM needs WHERE id = $1 FOR UPDATE", need["id"])
            offer = asyncio.create_task(
                officer.post(
                    "/api/v1/offers",
                    _offer(need["emergency_id"], "DEU", quantity),
                    expect=201,
                )
            )
            waited_in = await blocked_statement(pool, holder)
            await holder.execute(change, need["id"])
        return await offer, waited_in


async def _stored(pool: asyncpg.Pool, need_id: str) -> list[tuple[str, int]]:
    rows = await pool.fetch(
        "SELECT offering_country, quantity FROM matches"
        " WHERE need_id = $1 AND status = 'proposed' ORDER BY created_at",
        need_id,
    )
    return [(r["offering_country"], r["quantity"]) for r in rows]


async def test_an_offer_waits_for_a_busy_need_only_with_its_commit(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    officer, emergency, need = await _one_need(client, make_token, 1_000)
    offer, waited_in = await _offer_against_held_need(
        officer,
        pool,
        need,
        10,
        "SELECT $1::text",  # the holder changes nothing
    )
    # Planning read the need without a lock; only the write, sent with the COMMIT
    # (with the offer it plans, stored there), took it (before: the planner's first
    # statement locked it until the commit).
    assert waited_in.startswith("SELECT store_new_offers("), waited_in
    assert [(m["need_id"], m["quantity"]) for m in offer["matches"]] == [(need["id"], 10)]
    # The answer is what was stored.
    stored = await officer.get(f"/api/v1/emergencies/{emergency['id']}/matches")
    assert [m for m in stored if m["offer_id"] == offer["id"]] == offer["matches"]


async def test_a_plan_that_took_all_a_need_lacked_is_made_again_when_it_grew(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    officer, _, need = await _one_need(client, make_token, 100)
    # The plan read 100 lacking and took all of it; by its commit the need lacks 150.
    offer, _ = await _offer_against_held_need(
        officer, pool, need, 150, "UPDATE needs SET quantity = 150 WHERE id = $1"
    )
    assert [m["quantity"] for m in offer["matches"]] == [150]  # made again, under locks
    assert await _stored(pool, need["id"]) == [("DEU", 150)]


async def test_a_plan_for_more_than_a_need_still_lacks_is_never_written(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    officer, _, need = await _one_need(client, make_token, 100)
    retried = await _retries(client)
    offer, _ = await _offer_against_held_need(
        officer, pool, need, 10, "UPDATE needs SET quantity = 5 WHERE id = $1"
    )
    assert [m["quantity"] for m in offer["matches"]] == [5]
    assert await _stored(pool, need["id"]) == [("DEU", 5)]
    assert await _retries(client) > retried  # counted where operators look


async def _retries(client: Client) -> float:
    """eadrcc_transaction_retries{error="SerializationError"} from /metrics (0: none yet)."""
    text = await (await client.get("/metrics")).text()
    for line in text.splitlines():
        if line.startswith('eadrcc_transaction_retries{error="SerializationError"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_a_plan_on_an_amended_need_is_made_again(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    officer, emergency, need = await _one_need(client, make_token, 1_000)
    offer, _ = await _offer_against_held_need(
        officer,
        pool,
        need,
        10,
        "UPDATE needs SET priority = 'critical', version = version + 1 WHERE id = $1",
    )
    (match,) = offer["matches"]
    # Scored on the need as amended: the plan read before the amendment was dropped.
    stored = await pool.fetchrow(
        "SELECT score, score_parts FROM matches WHERE id = $1", match["id"]
    )
    assert (match["score"], match["score_parts"]) == (stored["score"], stored["score_parts"])
    before = await officer.post(
        "/api/v1/offers", _offer(emergency["id"], "DEU", 10), expect=201
    )  # the same offer, now planned on the critical need with no contention
    assert match["score"] == before["matches"][0]["score"]


async def test_offers_racing_for_a_need_fill_it_exactly_and_answer_what_was_stored(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    """Forty offers of 7 at once for a need of 100: plans made on what each read
    collide at the commit; those that no longer hold are made again under locks.
    The need ends fully proposed, never over, and every answer is what was stored."""
    officer, emergency, need = await _one_need(client, make_token, 100)
    nations = ("NOR", "DEU", "POL", "ITA", "FRA", "ESP", "NLD", "BEL")
    answers = await asyncio.gather(
        *(
            officer.post("/api/v1/offers", _offer(emergency["id"], nations[n % 8], 7), expect=201)
            for n in range(40)
        )
    )
    proposed = await pool.fetchval("SELECT proposed FROM needs WHERE id = $1", need["id"])
    assert proposed == 100
    answered = {m["id"]: m for a in answers for m in a["matches"]}
    stored = await officer.get(f"/api/v1/emergencies/{emergency['id']}/matches")
    assert {m["id"]: m for m in stored if m["status"] == "proposed"} == answered
    assert sum(m["quantity"] for m in answered.values()) == 100


def _offer_of(emergency_id: str, country: str, resource_type: str) -> dict[str, Any]:
    return {**_offer(emergency_id, country), "items": [item(resource_type, 10)]}


def _gate_offered(
    monkeypatch: pytest.MonkeyPatch, *, before: bool
) -> tuple[asyncio.Event, asyncio.Event]:
    """Pause the offer's transaction at circulation.offered (before or after it
    runs); answers (reached, release)."""
    reached, release = asyncio.Event(), asyncio.Event()
    real = circulation.offered

    async def gated(conn: asyncpg.Connection, **kw: Any) -> None:
        if not before:
            await real(conn, **kw)
        reached.set()
        await release.wait()
        if before:
            await real(conn, **kw)

    monkeypatch.setattr(circulation, "offered", gated)
    return reached, release


async def _someone_waits_on_a_lock(pool: asyncpg.Pool, like: str) -> None:
    async with asyncio.timeout(30):
        while not await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND query ILIKE $1",
            like,
        ):
            await asyncio.sleep(0.02)


async def test_a_nations_first_offer_and_an_amendment_never_deadlock(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The offer locks NOR's circulation row (its first offer) and only then, at the
    COMMIT, the need; an amendment locks the need, then every circulation row."""
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    rfa = await officer.post(
        f"/api/v1/emergencies/{emergency['id']}/requests",
        {"requesting_country": "TUR", "needs": [{"resource_type": TENTS, "quantity": 1000}]},
        expect=201,
    )
    (need,) = rfa["needs"]
    assert await response_state(pool, emergency["id"], "NOR") == "notified"
    reached, release = _gate_offered(monkeypatch, before=False)
    with structlog.testing.capture_logs() as logs:
        offer = asyncio.create_task(
            officer.post("/api/v1/offers", _offer(emergency["id"], "NOR"), expect=201)
        )
        await reached.wait()  # NOR's row is locked by the offer
        amend = asyncio.create_task(
            officer.call(
                "PATCH",
                f"/api/v1/requests/{rfa['id']}/needs/{need['id']}",
                {"quantity": 900},
                expect=200,
            )
        )
        await _someone_waits_on_a_lock(pool, "%")  # the amendment waits on the offer
        release.set()
        await asyncio.gather(offer, amend)
    retries = [e for e in logs if e["event"] == "transaction_retry"]
    assert retries == [], retries


async def test_a_nation_with_an_open_offer_stays_offered_when_another_is_withdrawn(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    await officer.post(
        f"/api/v1/emergencies/{emergency['id']}/requests",
        {"requesting_country": "TUR", "needs": [{"resource_type": TENTS, "quantity": 1000}]},
        expect=201,
    )
    # NOR's first offer (water: no need takes it, so the withdrawal touches no need)
    first = await officer.post(
        "/api/v1/offers", _offer_of(emergency["id"], "NOR", WATER), expect=201
    )
    assert await response_state(pool, emergency["id"], "NOR") == "offered"
    reached, release = _gate_offered(monkeypatch, before=True)
    second = asyncio.create_task(
        officer.post("/api/v1/offers", _offer(emergency["id"], "NOR"), expect=201)
    )
    await reached.wait()  # the second offer read NOR's row as `offered`
    await officer.post(
        f"/api/v1/offers/{first['id']}/withdraw", {"reason": "sent elsewhere"}, expect=200
    )
    release.set()
    kept = await second
    assert (await officer.get(f"/api/v1/offers/{kept['id']}"))["status"] == "open"
    assert await response_state(pool, emergency["id"], "NOR") == "offered"


async def _plans(client: Client, snippet: str) -> tuple[int, int]:
    """(generic, custom) plans PostgreSQL used for the prepared statement containing
    `snippet`, summed over every connection of the hub's pool (each has its own):
    all of them are taken, so one a background task holds is waited for."""
    app_pool = client.app[POOL]
    size = client.app[SETTINGS].pool_max_size
    conns = [await app_pool.acquire() for _ in range(size)]
    try:
        generic = custom = 0
        for conn in conns:
            row = await conn.fetchrow(
                "SELECT coalesce(sum(generic_plans), 0) AS g, coalesce(sum(custom_plans), 0) AS c"
                " FROM pg_prepared_statements WHERE strpos(statement, $1) > 0",
                snippet,
            )
            generic, custom = generic + row["g"], custom + row["c"]
        return generic, custom
    finally:
        for conn in conns:
            await app_pool.release(conn)


async def test_an_offers_lookups_run_on_kept_plans_and_its_planning_under_locks_does_not(
    client: Client, make_token: TokenFactory
) -> None:
    """Planning the offer's statements anew for each offer was most of what they cost
    PostgreSQL; lock_sides' best plan depends on its values, so it is still planned
    for them (a kept plan cost it 3x, bench/offer_profile.py with full needs)."""
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    await _rfa(officer, emergency["id"])
    for _ in range(3):  # the first is planned under locks (it moves the circulation row)
        await officer.post("/api/v1/offers", _offer(emergency["id"], "NOR"), expect=201)
    facts, candidates = "AS emergency_status", "WITH groups AS MATERIALIZED"
    # the first offer's facts twice: read by its batch, which sent it alone
    assert await _plans(client, facts) == (4, 0)
    assert await _plans(client, candidates) == (2, 0)
    # planned under locks: the RFA's need, then the first offer
    assert await _plans(client, "WITH plan_items AS MATERIALIZED") == (0, 2)


async def test_kept_plans_end_with_their_transaction(pool: asyncpg.Pool) -> None:
    """`generic_plans` is the transaction's own: the pooled connection goes back to
    planning each statement, whether the transaction commits or fails."""
    async with pool.acquire() as conn:
        async with db.transaction_on(conn, generic_plans=True):
            assert await conn.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
            await db.plan_each_statement(conn)
            assert await conn.fetchval("SHOW plan_cache_mode") == "auto"
        assert await conn.fetchval("SHOW plan_cache_mode") == "auto"
        with pytest.raises(asyncpg.DivisionByZeroError):
            async with db.transaction_on(conn, generic_plans=True):
                await conn.fetchval("SELECT 1 / 0")
        assert await conn.fetchval("SHOW plan_cache_mode") == "auto"


async def test_a_request_bound_offer_planned_unlocked_goes_to_its_requests_needs_only(
    client: Client, make_token: TokenFactory
) -> None:
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    urgent, bound = [
        await officer.post(
            f"/api/v1/emergencies/{emergency['id']}/requests",
            {
                "requesting_country": "TUR",
                "needs": [{"resource_type": TENTS, "quantity": 1000, "priority": priority}],
            },
            expect=201,
        )
        for priority in ("critical", "normal")
    ]
    # NOR's first offer moves its circulation row (planned under locks); not these
    await officer.post("/api/v1/offers", _offer_of(emergency["id"], "NOR", WATER), expect=201)
    to_bound = await officer.post(
        "/api/v1/offers", {**_offer(emergency["id"], "NOR"), "request_id": bound["id"]}, expect=201
    )
    to_any = await officer.post("/api/v1/offers", _offer(emergency["id"], "NOR"), expect=201)
    assert await _plans(client, "WITH groups AS MATERIALIZED") == (2, 0)
    assert [m["need_id"] for m in to_bound["matches"]] == [bound["needs"][0]["id"]]
    assert [m["need_id"] for m in to_any["matches"]] == [urgent["needs"][0]["id"]]


OFFICER = Principal(token_id="tok_write_path", name="write path", role=Role.DUTY_OFFICER)


async def _rows_read(one: asyncpg.Pool, tables: tuple[str, ...]) -> int:
    """Rows of `tables` PostgreSQL has read so far, by any scan (its statistics, flushed
    by the pool's one connection, which does all the work here: nothing else runs)."""
    async with one.acquire() as conn:
        await conn.execute("SELECT pg_stat_force_next_flush()")  # sent before it answers
        read: int = await conn.fetchval(
            "SELECT sum(seq_tup_read + coalesce(idx_tup_fetch, 0))::int"
            " FROM pg_stat_user_tables WHERE relname = ANY($1::text[])",
            list(tables),
        )
    return read


async def _offer_reads(one: asyncpg.Pool, emergency_id: str) -> int:
    """Rows of needs one more offer of tents from Norway reads (planned unlocked)."""
    before = await _rows_read(one, ("needs",))
    body = OfferCreate.model_validate(_offer(emergency_id, "NOR"))
    _, created = await offers.create(pool=one, who=OFFICER, body=body, idempotency_key=None)
    assert created["matches"], created
    return await _rows_read(one, ("needs",)) - before


async def _rfa_of(one: asyncpg.Pool, emergency_id: str, priority: str = "normal") -> str:
    body = RequestCreate.model_validate(
        {
            "requesting_country": "TUR",
            "needs": [{"resource_type": TENTS, "quantity": 1_000, "priority": priority}],
        }
    )
    _, created = await requests.create(
        pool=one, who=OFFICER, emergency_id=emergency_id, body=body, idempotency_key=None
    )
    return str(created["id"])


async def test_an_offer_reads_a_few_needs_however_many_the_database_holds(db_url: str) -> None:
    """An offer's statements run on plans the connection keeps, made for no value in
    particular and perhaps while needs was small; later, still, an offer reads the
    needs it plans with and no others: not every need there is (a plan that joined
    its candidates to needs hashed the whole table), not every fully proposed need
    of the emergency (whatever their type), not every need of its type (sorted)."""
    one = await db.create_pool(db_url, min_size=1, max_size=1)  # every plan kept on it
    try:
        here = await emergencies.create(
            pool=one, who=OFFICER, body=EmergencyCreate.model_validate(emergency_body())
        )
        elsewhere = await emergencies.create(
            pool=one, who=OFFICER, body=EmergencyCreate.model_validate(emergency_body())
        )
        await _rfa_of(one, here.id, "high")
        await _offer_reads(one, here.id)  # NOR's first offer: planned under locks
        await _offer_reads(one, here.id)  # planned unlocked: its plans are kept now
        many, full = await _rfa_of(one, here.id), await _rfa_of(one, here.id)
        far = await _rfa_of(one, elsewhere.id)
        async with one.acquire() as conn:
            await conn.execute(
                """INSERT INTO needs (id, request_id, position, emergency_id, resource_type,
                                      quantity, priority, proposed)
                   SELECT 'ned_bulk_' || g || '_' || r.id, r.id, 1 + g, r.emergency_id,
                          CASE WHEN r.id = $2 THEN $4 ELSE $5 END, 1000, 'normal',
                          CASE WHEN r.id = $2 THEN 1000 ELSE 0 END
                   FROM generate_series(1, 2000) g
                   CROSS JOIN requests r WHERE r.id IN ($1, $2, $3)""",
                many,  # lacking tents here, less urgent than the RFA's
                full,  # water here, fully proposed: no tent displaces a proposal there
                far,  # lacking tents in another emergency
                WATER,
                TENTS,
            )
        assert await _offer_reads(one, here.id) < 200  # the plans kept from before
        async with one.acquire() as conn:
            await conn.execute("ANALYZE needs")  # plans made again, on statistics
        assert await _offer_reads(one, here.id) < 200
    finally:
        await one.close()


async def _offer_items_read(
    one: asyncpg.Pool, emergency_id: str, channel: str
) -> tuple[int, dict[str, Any]]:
    """Rows of offer_items and offers one more offer of 100 tents from Norway through
    `channel` reads (the duplicate lookup reads both), and the stored offer."""
    tables = ("offer_items", "offers")
    before = await _rows_read(one, tables)
    body = OfferCreate.model_validate({**_offer(emergency_id, "NOR", 100), "channel": channel})
    _, created = await offers.create(pool=one, who=OFFICER, body=body, idempotency_key=None)
    return await _rows_read(one, tables) - before, created


async def test_the_duplicate_lookup_reads_the_nations_own_items_not_every_nations(
    db_url: str,
) -> None:
    """In an earthquake many nations offer "100 family tents". Whether a new item is
    the same help announced again through another channel is looked up among the
    nation's own open items of that type and quantity: not among every nation's, each
    read with its offer to find out whose it is. On plans kept from when the tables
    were small, and on plans made again on statistics."""
    one = await db.create_pool(db_url, min_size=1, max_size=1)  # every plan kept on it
    try:
        here = await emergencies.create(
            pool=one, who=OFFICER, body=EmergencyCreate.model_validate(emergency_body())
        )
        _, first = await _offer_items_read(one, here.id, "direct")
        _, second = await _offer_items_read(one, here.id, "direct")  # same channel
        assert second["items"][0]["possible_duplicate_of"] is None
        async with one.acquire() as conn:
            # 3,000 offers of the same tents from 150 other nations, open, unflagged,
            # through every channel, their ids before Norway's
            await conn.execute(
                """WITH nations AS (
                       SELECT g, 'X' || chr(65 + g / 26) || chr(65 + g % 26) AS code
                       FROM generate_series(0, 149) g
                   ), o AS (
                       INSERT INTO offers (id, emergency_id, offering_country, channel,
                                           created_by)
                       SELECT 'off_00_' || lpad((n.g * 20 + k)::text, 5, '0'), $1, n.code,
                              (ARRAY['direct', 'eu_ucpm', 'bilateral', 'un'])[1 + k % 4],
                              'bulk'
                       FROM nations n CROSS JOIN generate_series(0, 19) k
                       RETURNING id, emergency_id, offering_country, channel
                   )
                   INSERT INTO offer_items (id, offer_id, position, emergency_id,
                                            offering_country, channel, resource_type,
                                            quantity, available_from)
                   SELECT 'itm_00_' || substr(o.id, 8), o.id, 1, o.emergency_id,
                          o.offering_country, o.channel, $2, 100, now()
                   FROM o""",
                here.id,
                TENTS,
            )
        read, via_eu = await _offer_items_read(one, here.id, "eu_ucpm")
        assert via_eu["items"][0]["possible_duplicate_of"] == first["items"][0]["id"]
        assert read < 50, read  # the plans kept from before; 3,000 others read: ~6,000
        async with one.acquire() as conn:
            await conn.execute("ANALYZE offer_items, offers")  # plans made again
        read, via_un = await _offer_items_read(one, here.id, "un")
        assert via_un["items"][0]["possible_duplicate_of"] == first["items"][0]["id"]
        assert read < 50, read
    finally:
        await one.close()


async def test_the_duplicate_lookup_skips_the_nations_own_items_through_the_same_channel(
    db_url: str,
) -> None:
    """A nation that files the same help again and again through one channel (a
    national point of contact entering 100 tents per donor city, say) has none of
    those read when its next offer is looked up for a duplicate: only its items
    through the other channels are candidates, and those are what is read."""
    one = await db.create_pool(db_url, min_size=1, max_size=1)  # every plan kept on it
    try:
        here = await emergencies.create(
            pool=one, who=OFFICER, body=EmergencyCreate.model_validate(emergency_body())
        )
        _, first = await _offer_items_read(one, here.id, "un")
        async with one.acquire() as conn:
            # 3,000 more of Norway's 100 tents, open, unflagged, all through `direct`
            await conn.execute(
                """WITH o AS (
                       INSERT INTO offers (id, emergency_id, offering_country, channel,
                                           created_by)
                       SELECT 'off_00_' || lpad(k::text, 5, '0'), $1, 'NOR', 'direct',
                              'bulk'
                       FROM generate_series(0, 2999) k
                       RETURNING id, emergency_id
                   )
                   INSERT INTO offer_items (id, offer_id, position, emergency_id,
                                            offering_country, channel, resource_type,
                                            quantity, available_from)
                   SELECT 'itm_00_' || substr(o.id, 8), o.id, 1, o.emergency_id, 'NOR',
                          'direct', $2, 100, now()
                   FROM o""",
                here.id,
                TENTS,
            )
        read, again = await _offer_items_read(one, here.id, "direct")
        # its one item through another channel is found, and no `direct` one is read
        assert again["items"][0]["possible_duplicate_of"] == first["items"][0]["id"]
        assert read < 50, read  # the plans kept from before; the 3,000 read: ~6,000
        async with one.acquire() as conn:
            await conn.execute("ANALYZE offer_items, offers")  # plans made again
        read, more = await _offer_items_read(one, here.id, "direct")
        assert more["items"][0]["possible_duplicate_of"] == first["items"][0]["id"]
        assert read < 50, read
    finally:
        await one.close()


async def test_an_offers_answer_and_event_are_the_offer_as_stored(
    client: TestClient,  # type: ignore[type-arg]
    make_token: TokenFactory,
) -> None:
    """The hub answers a new offer, and writes its event, from what it sent and the
    duplicate flags create_offer returns, not from the rows read back: each must be
    the offer exactly as it is read later (times in UTC, defaults, nation, channel,
    origin, credentials, notes, flags), in a batch and alone."""
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    await _rfa(officer, emergency["id"])

    def usar(**over: Any) -> dict[str, Any]:
        return item(
            "usar.heavy",
            1,
            available_from="2026-11-27T08:30:15.123456+03:00",  # stored as 05:30:15Z
            origin={"lat": 59.9139, "lon": 10.7522},
            self_sufficient=True,
            credentials=["insarag.classified"],
            **over,
        )

    bodies = [
        {
            **_offer(emergency["id"], "NOR", 100),
            "channel": "bilateral",
            "notes": "Équipe USAR — départ d'Oslo, 避难所",
            "items": [usar(), item(TENTS, 100)],
        },
        {**_offer(emergency["id"], "NOR", 100), "channel": "un"},  # a duplicate
        {**_offer(emergency["id"], "DEU", 7), "request_id": None},
    ]
    answers = [await officer.post("/api/v1/offers", b, expect=201) for b in bodies]
    # and in one batch: these two arrive together
    answers += await asyncio.gather(
        *(officer.post("/api/v1/offers", b, expect=201) for b in bodies[1:])
    )
    assert answers[1]["items"][0]["possible_duplicate_of"] == answers[0]["items"][1]["id"]
    page = await officer.get("/api/v1/events?since=0&limit=1000")
    events = {e["data"]["id"]: e["data"] for e in page["events"] if e["kind"] == "offer.created"}
    for answer in answers:
        stored = await officer.get(f"/api/v1/offers/{answer['id']}")
        assert {k: v for k, v in answer.items() if k != "matches"} == stored
        assert events[answer["id"]] == stored
    first = answers[0]["items"][0]
    assert first["available_from"] == "2026-11-27T05:30:15.123456Z"


async def test_a_duplicate_is_flagged_on_its_nations_first_open_item_from_another_channel(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)

    async def offer(country: str, channel: str, items: int = 1) -> dict[str, Any]:
        body = {**_offer(emergency["id"], country, 100), "channel": channel}
        created: dict[str, Any] = await officer.post(
            "/api/v1/offers", {**body, "items": [item(TENTS, 100)] * items}, expect=201
        )
        return created

    def flags(offer: dict[str, Any]) -> list[str | None]:
        return [i["possible_duplicate_of"] for i in offer["items"]]

    germany = await offer("DEU", "bilateral")  # the oldest tents: another nation's
    norway = await offer("NOR", "direct")
    assert flags(norway) == [None]
    again = await offer("NOR", "direct", items=2)  # same channel; siblings
    assert flags(again) == [None, None]
    # the lowest id among the nation's open items from another channel (ids made in
    # one millisecond are ordered at random)
    lowest = min(i["id"] for i in norway["items"] + again["items"])
    assert flags(await offer("NOR", "eu_ucpm", items=2)) == [lowest, lowest]
    await officer.post(f"/api/v1/offers/{norway['id']}/withdraw", {}, expect=200)
    lowest = min(i["id"] for i in again["items"])  # withdrawn ones are no candidates
    assert flags(await offer("NOR", "un")) == [lowest]
    assert flags(await offer("DEU", "un")) == [germany["items"][0]["id"]]
    assert flags(await offer("POL", "un")) == [None]
    # each item carries its offer's nation, which the lookup goes by
    mismatched = await pool.fetchval(
        """SELECT count(*) FROM offer_items i JOIN offers o ON o.id = i.offer_id
           WHERE i.emergency_id = $1 AND i.offering_country IS DISTINCT FROM o.offering_country""",
        emergency["id"],
    )
    assert mismatched == 0


async def _one_batch(
    pool: asyncpg.Pool, bodies: list[dict[str, Any]]
) -> tuple[OfferBatcher, list[asyncio.Task[tuple[int, Any]]]]:
    """Offers (Norway's, by a duty officer) recorded by one batch of a batcher of
    their own: all are waiting when it starts."""
    batcher = OfferBatcher(pool)
    tasks = [
        asyncio.create_task(
            batcher.create(who=OFFICER, body=OfferCreate.model_validate(b), idempotency_key=None)
        )
        for b in bodies
    ]
    await asyncio.sleep(0)  # each waits for its answer
    assert len(batcher._waiting) == len(bodies)
    batcher.start()
    return batcher, tasks


async def test_a_batch_locks_the_needs_it_proposes_to_before_its_nations_circulation_row(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    """Needs before circulation rows, in a batch's COMMIT too, whatever the order its
    offers were planned in: a withdrawal holds the need, then locks the row."""
    officer, emergency, need = await _one_need(client, make_token, 1_000)
    await officer.post("/api/v1/offers", _offer_of(emergency["id"], "NOR", WATER), expect=201)
    assert await response_state(pool, emergency["id"], "NOR") == "offered"
    # the first offer proposes nothing (water), the second proposes to the need
    bodies = [_offer_of(emergency["id"], "NOR", WATER), _offer(emergency["id"], "NOR")]
    async with pool.acquire() as holder:
        async with holder.transaction():
            await holder.execute("SELECT 1 FROM needs WHERE id = $1 FOR NO KEY UPDATE", need["id"])
            retried = db.RETRIES["DeadlockDetectedError"]
            batcher, tasks = await _one_batch(pool, bodies)
            assert "store_new_offers(" in await blocked_statement(pool, holder)
            # Before: the batch held Norway's row from its COMMIT's message on while it
            # waited for the need, a deadlock (this gives up before the detector runs).
            await holder.execute("SET LOCAL lock_timeout = '200ms'")
            await holder.execute(
                "SELECT 1 FROM responses WHERE emergency_id = $1 AND country = 'NOR' FOR UPDATE",
                emergency["id"],
            )
        (_, water), (_, tents) = await asyncio.gather(*tasks)
    await batcher.stop()
    assert water["matches"] == []
    assert [m["need_id"] for m in tents["matches"]] == [need["id"]]
    assert batcher.gauges() == {"batches": 1, "batched": 2, "alone": 0}
    assert db.RETRIES["DeadlockDetectedError"] == retried


async def test_an_offer_whose_candidates_its_batch_filled_is_planned_as_alone(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    """Alone, the second offer would find the urgent needs fully proposed by the first
    and be planned under locks, which finds the need beyond them: so it is, in its
    batch's transaction after the other plans. Planned in the batch only, it found
    nothing left in its shortlist."""
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    urgent = {"resource_type": TENTS, "quantity": 1, "priority": "critical"}
    later = {"resource_type": TENTS, "quantity": 5, "priority": "normal"}
    rfa = await officer.post(
        f"/api/v1/emergencies/{emergency['id']}/requests",
        {"requesting_country": "TUR", "needs": [urgent] * engine.SHORTLIST + [later]},
        expect=201,
    )
    (normal,) = [n["id"] for n in rfa["needs"] if n["priority"] == "normal"]
    await officer.post("/api/v1/offers", _offer_of(emergency["id"], "NOR", WATER), expect=201)
    bodies = [_offer(emergency["id"], "NOR", engine.SHORTLIST), _offer(emergency["id"], "NOR", 5)]
    batcher, tasks = await _one_batch(pool, bodies)
    (_, first), (_, second) = await asyncio.gather(*tasks)
    await batcher.stop()
    assert len(first["matches"]) == engine.SHORTLIST
    assert [(m["need_id"], m["quantity"]) for m in second["matches"]] == [(normal, 5)]
    assert batcher.gauges() == {"batches": 1, "batched": 2, "alone": 0}


async def test_a_batchs_candidate_search_looks_for_a_full_need_once_per_group(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    """On the plan kept for it, the search for a fully proposed need runs once for
    each group and fill, not again for each candidate the group found."""
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    rfa = await _rfa(officer, emergency["id"])
    await officer.post(
        f"/api/v1/emergencies/{emergency['id']}/requests",
        {"requesting_country": "TUR", "needs": [{"resource_type": TENTS, "quantity": 9}] * 60},
        expect=201,
    )
    groups = [(emergency["id"], None, TENTS), (emergency["id"], rfa["id"], TENTS)]
    fills = await pool.fetchval("SELECT count(*) FROM type_fills WHERE offer_type = $1", TENTS)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE candidates AS {match_queries.sql('new_item_candidates')}")
        values = ", ".join(
            f"ARRAY[{', '.join(db.literal(g[n]) for g in groups)}]::text[]" for n in range(3)
        )
        explain = f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE candidates({values}, {engine.SHORTLIST})"
        (plan,) = await conn.fetchval(explain)  # json, decoded
        await conn.execute("DEALLOCATE candidates")

    def scans(node: dict[str, Any]) -> list[dict[str, Any]]:
        below = [s for child in node.get("Plans", ()) for s in scans(child)]
        return [node, *below] if node.get("Index Name") == "needs_full_by_rank" else below

    assert plan["Plan"]["Actual Rows"] > len(groups)  # candidates found
    assert sum(s["Actual Loops"] for s in scans(plan["Plan"])) <= len(groups) * fills
