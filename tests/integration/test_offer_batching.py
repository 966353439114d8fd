"""New offers recorded in batches (offers/batching.py): each offer of a batch gets
what it would have had alone, and what a batch cannot do is done alone.

A batch is made deterministic here without HTTP timing: the offers are queued on a
batcher of the test's own before it starts, so its first batch takes them all, in
the order they were queued."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
import structlog.testing

from eadrcc import db
from eadrcc.auth import Principal, Role
from eadrcc.emergencies import service as emergencies
from eadrcc.emergencies.models import EmergencyCreate
from eadrcc.errors import Conflict, Invalid, Unavailable
from eadrcc.offers import batching
from eadrcc.offers import service as offers
from eadrcc.offers.batching import OfferBatcher
from eadrcc.offers.models import OfferCreate
from eadrcc.requests import service as requests
from eadrcc.requests.models import RequestCreate
from tests.integration.ops_helpers import blocked_statement, emergency_body, item, response_state

WAIT_S = 30.0
TENTS = "shelter.tent.family"
WATER = "water.bottled"  # no need in these tests takes it
PLACE = {"lat": 37.17, "lon": 37.03}
# Nations whose first offer (of water) went through the single path before the
# batch: their circulation rows are `offered`, so their next offers may be batched.
ON_OFFER = ("NOR", "DEU", "POL", "ITA", "FRA")
# No foreign key ties a principal's token id to `tokens` (idempotency_keys is keyed
# by it, events name it): a made-up one serves.
OFFICER = Principal(token_id="tok_batching", name="offer batching", role=Role.DUTY_OFFICER)

Result = tuple[int, Any] | BaseException


async def _emergency(pool: asyncpg.Pool) -> str:
    made = await emergencies.create(
        pool=pool, who=OFFICER, body=EmergencyCreate.model_validate(emergency_body())
    )
    return made.id


async def _need(
    pool: asyncpg.Pool, emergency_id: str, quantity: int, **over: Any
) -> dict[str, Any]:
    """An RFA of Türkiye's with one need of tents (it circulates: every other nation's
    row is `notified`)."""
    body = RequestCreate.model_validate(
        {
            "requesting_country": "TUR",
            "needs": [{"resource_type": TENTS, "quantity": quantity, "priority": "high", **over}],
        }
    )
    _, rfa = await requests.create(
        pool=pool, who=OFFICER, emergency_id=emergency_id, body=body, idempotency_key=None
    )
    need: dict[str, Any] = rfa["needs"][0]
    return need


def _body(emergency_id: str, country: str, *items: dict[str, Any], **over: Any) -> OfferCreate:
    return OfferCreate.model_validate(
        {
            "emergency_id": emergency_id,
            "offering_country": country,
            "channel": "direct",
            "items": list(items) or [item(TENTS, 10)],
            **over,
        }
    )


async def _on_offer(pool: asyncpg.Pool, emergency_id: str, nations: tuple[str, ...]) -> None:
    """Each nation's first offer (water), alone: it moves its row to `offered`."""
    for nation in nations:
        body = _body(emergency_id, nation, item(WATER, 1))
        await offers.create(pool=pool, who=OFFICER, body=body, idempotency_key=None)
        assert await response_state(pool, emergency_id, nation) == "offered"


async def _setup(pool: asyncpg.Pool, quantity: int, **over: Any) -> tuple[str, dict[str, Any]]:
    """An emergency, its one need of tents, and ON_OFFER's rows `offered`."""
    emergency_id = await _emergency(pool)
    need = await _need(pool, emergency_id, quantity, **over)
    await _on_offer(pool, emergency_id, ON_OFFER)
    return emergency_id, need


def _call(body: OfferCreate, key: str | None = None) -> dict[str, Any]:
    return {"who": OFFICER, "body": body, "idempotency_key": key}


async def _queued(batcher: OfferBatcher, count: int) -> None:
    async with asyncio.timeout(WAIT_S):
        while batcher.waiting < count:
            await asyncio.sleep(0)


async def _one_batch(
    pool: asyncpg.Pool, calls: list[dict[str, Any]], batcher: OfferBatcher | None = None
) -> tuple[OfferBatcher, list[Result]]:
    """The calls queued in this order on a new batcher (or the one given, not started
    yet), which then starts: its first batch holds them all. Answers the batcher (its
    counters) and each call's result (its answer, or what it raised)."""
    batcher = batcher or OfferBatcher(pool)
    tasks = [asyncio.create_task(batcher.create(**c)) for c in calls]
    try:
        await _queued(batcher, len(calls))
        batcher.start()
        async with asyncio.timeout(WAIT_S):
            results = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await batcher.stop()
    return batcher, results


def _created(result: Result) -> dict[str, Any]:
    assert isinstance(result, tuple), result
    status, created = result
    assert status == 201, result
    assert isinstance(created, dict)
    return created


async def _proposed(pool: asyncpg.Pool, need_id: str) -> dict[str, tuple[str, int]]:
    """The need's standing proposals: match id → (offer id, quantity)."""
    rows = await pool.fetch(
        "SELECT id, offer_id, quantity FROM matches WHERE need_id = $1 AND status = 'proposed'",
        need_id,
    )
    return {r["id"]: (r["offer_id"], r["quantity"]) for r in rows}


async def _offer_ids(pool: asyncpg.Pool, emergency_id: str) -> set[str]:
    rows = await pool.fetch("SELECT id FROM offers WHERE emergency_id = $1", emergency_id)
    return {r["id"] for r in rows}


def _answered(created: list[dict[str, Any]]) -> dict[str, tuple[str, int]]:
    return {m["id"]: (m["offer_id"], m["quantity"]) for c in created for m in c["matches"]}


async def _filled_by_slow_tents(
    pool: asyncpg.Pool, country: str
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """An emergency, ON_OFFER's rows `offered`, and its one need of 100 tents (by a
    deadline, at a place) fully proposed to `country`'s slow tents (no origin): the
    emergency id, the need and the slow offer."""
    emergency_id = await _emergency(pool)
    need = await _need(
        pool, emergency_id, 100, needed_by="2026-02-07T06:00:00+03:00", delivery=PLACE
    )
    await _on_offer(pool, emergency_id, ON_OFFER)
    _, slow = await offers.create(
        pool=pool,
        who=OFFICER,
        body=_body(emergency_id, country, item(TENTS, 100)),
        idempotency_key=None,
    )
    assert _answered([slow]) == await _proposed(pool, need["id"])
    return emergency_id, need, slow


async def test_offers_of_a_batch_are_planned_in_arrival_order_on_what_those_before_proposed(
    pool: asyncpg.Pool,
) -> None:
    """Two offers of 10 for a need lacking 15: the first takes 10, the second the 5
    left. Planned out of order, the amounts swap; planned each on the need as read,
    both would take 10 (the COMMIT refuses that, and the batch falls apart)."""
    emergency_id, need = await _setup(pool, 15)
    batcher, results = await _one_batch(
        pool,
        [
            _call(_body(emergency_id, "NOR", item(TENTS, 10))),
            _call(_body(emergency_id, "DEU", item(TENTS, 10))),
        ],
    )
    first, second = (_created(r) for r in results)
    assert [(m["need_id"], m["quantity"]) for m in first["matches"]] == [(need["id"], 10)]
    assert [(m["need_id"], m["quantity"]) for m in second["matches"]] == [(need["id"], 5)]
    stored = await _proposed(pool, need["id"])
    assert stored == _answered([first, second])  # the answers are what was stored
    assert sum(q for _, q in stored.values()) <= 15  # never over-proposed
    assert await pool.fetchval("SELECT proposed FROM needs WHERE id = $1", need["id"]) == 15
    assert (batcher.batches, batcher.batched, batcher.alone) == (1, 2, 0)


async def test_many_offers_in_one_batch_each_get_their_own_answer_and_events_in_order(
    pool: asyncpg.Pool,
) -> None:
    """Thirty offers of one tent for a need of 20, in one transaction: the first 20
    are proposed, each answer is its own offer's, and the event log tells the story
    in arrival order: each offer's `offer.created` before its `match.proposed`."""
    emergency_id, need = await _setup(pool, 20)
    head = await pool.fetchval("SELECT coalesce(max(seq), 0) FROM events")
    bodies = [_body(emergency_id, ON_OFFER[n % 5], item(TENTS, 1)) for n in range(30)]
    batcher, results = await _one_batch(pool, [_call(b) for b in bodies])
    created = [_created(r) for r in results]

    assert len({c["id"] for c in created}) == 30  # thirty offers, not one answer shared
    for body, c in zip(bodies, created, strict=True):
        assert c["offering_country"] == body.offering_country
        assert {m["offer_id"] for m in c["matches"]} <= {c["id"]}
        assert {m["offer_item_id"] for m in c["matches"]} <= {i["id"] for i in c["items"]}
    assert [len(c["matches"]) for c in created] == [1] * 20 + [0] * 10  # first come
    stored = await _proposed(pool, need["id"])
    assert stored == _answered(created)
    assert sum(q for _, q in stored.values()) == 20
    assert await pool.fetchval("SELECT proposed FROM needs WHERE id = $1", need["id"]) == 20

    rows = await pool.fetch(
        "SELECT kind, data FROM events WHERE seq > $1 AND emergency_id = $2"
        " AND kind IN ('offer.created', 'match.proposed') ORDER BY seq",
        head,
        emergency_id,
    )
    logged = [
        (r["kind"], r["data"]["id"] if r["kind"] == "offer.created" else r["data"]["offer_id"])
        for r in rows
    ]
    expected = []
    for c in created:  # arrival order
        expected.append(("offer.created", c["id"]))
        expected += [("match.proposed", m["offer_id"]) for m in c["matches"]]
    assert logged == expected
    assert (batcher.batches, batcher.batched, batcher.alone) == (1, 30, 0)


async def test_an_invalid_offer_gets_its_own_problem_and_the_rest_of_its_batch_is_created(
    pool: asyncpg.Pool,
) -> None:
    """An unknown type and an unknown emergency are answered in the batch, each with
    its own problem; with an Idempotency-Key, the problem is the single path's (the
    key is not spent on it: the corrected offer may use it)."""
    emergency_id, need = await _setup(pool, 100)
    before = await _offer_ids(pool, emergency_id)
    batcher, results = await _one_batch(
        pool,
        [
            _call(_body(emergency_id, "NOR", item(TENTS, 5))),
            _call(_body(emergency_id, "NOR", item("no.such.type", 5))),
            _call(_body("emr_00000nowhere", "NOR", item(TENTS, 5))),
            _call(_body(emergency_id, "DEU", item("no.such.type", 5)), key="k-bad"),
            _call(_body(emergency_id, "DEU", item(TENTS, 7))),
        ],
    )
    ok_first, bad_type, bad_emergency, bad_keyed, ok_last = results
    assert isinstance(bad_type, Invalid), bad_type
    assert set(bad_type.errors or {}) == {"items.0.resource_type"}
    assert isinstance(bad_emergency, Invalid), bad_emergency
    assert bad_emergency.errors == {"emergency_id": "no such emergency"}
    assert isinstance(bad_keyed, Invalid), bad_keyed
    assert set(bad_keyed.errors or {}) == {"items.0.resource_type"}
    created = [_created(ok_first), _created(ok_last)]
    assert [[m["quantity"] for m in c["matches"]] for c in created] == [[5], [7]]
    assert await _offer_ids(pool, emergency_id) - before == {c["id"] for c in created}
    assert await _proposed(pool, need["id"]) == _answered(created)
    keys = await pool.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = 'k-bad'")
    assert keys == 0
    # the keyed problem went alone; the others were answered by the batch
    assert (batcher.batches, batcher.batched, batcher.alone) == (1, 4, 1)


async def test_an_idempotency_key_in_a_batch_answers_as_it_would_alone(
    pool: asyncpg.Pool,
) -> None:
    """A key twice in one batch with one body: one offer, the same answer twice. A key
    twice with two bodies: the first is created, the second is a conflict. A key used
    before the batch: its stored answer, and no new offer."""
    emergency_id, need = await _setup(pool, 100)
    used = _body(emergency_id, "POL", item(TENTS, 2))
    stored = await offers.create(pool=pool, who=OFFICER, body=used, idempotency_key="k-before")
    before = await _offer_ids(pool, emergency_id)
    twice = _body(emergency_id, "NOR", item(TENTS, 10))
    batcher, results = await _one_batch(
        pool,
        [
            _call(twice, key="k-twice"),
            _call(twice, key="k-twice"),
            _call(_body(emergency_id, "DEU", item(TENTS, 3)), key="k-clash"),
            _call(_body(emergency_id, "DEU", item(TENTS, 4)), key="k-clash"),
            _call(used, key="k-before"),
        ],
    )
    first, again, winner, loser, replayed = results
    assert again == first
    assert isinstance(loser, Conflict), loser
    assert [m["quantity"] for m in _created(winner)["matches"]] == [3]
    assert replayed == stored
    new = await _offer_ids(pool, emergency_id) - before
    assert new == {_created(first)["id"], _created(winner)["id"]}
    proposed = await _proposed(pool, need["id"])
    assert sorted(q for _, q in proposed.values()) == [2, 3, 10]
    assert (batcher.batches, batcher.batched, batcher.alone) == (1, 2, 3)


async def test_the_same_help_through_two_channels_in_one_batch_is_flagged_a_duplicate(
    pool: asyncpg.Pool,
) -> None:
    """Norway announces the same 10 tents directly and through the EU mechanism in
    one batch: the second item is flagged a duplicate of the first, and is not
    proposed (the need would count the tents twice)."""
    emergency_id, need = await _setup(pool, 100)
    batcher, results = await _one_batch(
        pool,
        [
            _call(_body(emergency_id, "NOR", item(TENTS, 10))),
            _call(_body(emergency_id, "NOR", item(TENTS, 10), channel="eu_ucpm")),
        ],
    )
    direct, via_eu = (_created(r) for r in results)
    (original,), (again,) = direct["items"], via_eu["items"]
    assert original["possible_duplicate_of"] is None
    assert again["possible_duplicate_of"] == original["id"]
    flagged = await pool.fetchval(
        "SELECT possible_duplicate_of FROM offer_items WHERE id = $1", again["id"]
    )
    assert flagged == original["id"]
    assert [m["quantity"] for m in direct["matches"]] == [10]
    assert via_eu["matches"] == []
    assert await _proposed(pool, need["id"]) == _answered([direct])
    assert (batcher.batches, batcher.batched, batcher.alone) == (1, 2, 0)


async def test_a_batch_stored_in_one_statement_flags_help_standing_through_another_channel(
    pool: asyncpg.Pool,
) -> None:
    """Norway's 10 tents stand through the EU mechanism. A batch then holds Norway's
    10 tents directly, twice, Germany's 10 and Norway's 7, and a two-item offer of
    Norway's, all directly: nothing in it could flag anything else in it, so it is
    stored in one statement, and each of Norway's direct 10 is flagged a duplicate of
    the standing item, and nothing else is."""
    emergency_id, need = await _setup(pool, 1000)
    standing = await offers.create(
        pool=pool,
        who=OFFICER,
        body=_body(emergency_id, "NOR", item(TENTS, 10), channel="eu_ucpm"),
        idempotency_key=None,
    )
    (standing_item,) = _created(standing)["items"]
    batcher, results = await _one_batch(
        pool,
        [
            _call(_body(emergency_id, "NOR", item(TENTS, 10))),
            _call(_body(emergency_id, "NOR", item(TENTS, 10))),
            _call(_body(emergency_id, "DEU", item(TENTS, 10))),
            _call(_body(emergency_id, "NOR", item(TENTS, 7))),
            _call(_body(emergency_id, "NOR", item(TENTS, 3), item(TENTS, 10))),
        ],
    )
    created = [_created(r) for r in results]
    flags = [[i["possible_duplicate_of"] for i in offer["items"]] for offer in created]
    twice = standing_item["id"]
    assert flags == [[twice], [twice], [None], [None], [None, twice]]
    stored = dict(
        await pool.fetch(
            "SELECT id, possible_duplicate_of FROM offer_items WHERE offer_id = ANY($1)",
            [offer["id"] for offer in created],
        )
    )
    assert stored == {i["id"]: i["possible_duplicate_of"] for o in created for i in o["items"]}
    in_place = await pool.fetch(
        "SELECT id FROM offer_items WHERE offer_id = $1 ORDER BY position", created[-1]["id"]
    )
    assert [r["id"] for r in in_place] == [i["id"] for i in created[-1]["items"]]
    assert [m["quantity"] for o in created for m in o["matches"]] == [10, 7, 3]
    assert await _proposed(pool, need["id"]) == _answered([_created(standing), *created])
    assert (batcher.batches, batcher.batched, batcher.alone) == (1, 5, 0)


@pytest.fixture
async def item_updates(pool: asyncpg.Pool) -> AsyncIterator[Callable[[], Awaitable[set[str]]]]:
    """Records every UPDATE of an offer item from here on: answers a function that
    gives the ids of the items updated so far."""
    await pool.execute(
        """CREATE TABLE item_updates (id text);
           CREATE FUNCTION note_item_update() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN INSERT INTO item_updates VALUES (NEW.id); RETURN NULL; END $$;
           CREATE TRIGGER note_item_update AFTER UPDATE ON offer_items
           FOR EACH ROW EXECUTE FUNCTION note_item_update();"""
    )

    async def updated() -> set[str]:
        return {r["id"] for r in await pool.fetch("SELECT id FROM item_updates")}

    try:
        yield updated
    finally:
        await pool.execute(
            """DROP TRIGGER note_item_update ON offer_items;
               DROP FUNCTION note_item_update(); DROP TABLE item_updates;"""
        )


async def test_a_batchs_new_items_are_written_once_their_counters_holding_their_proposals(
    pool: asyncpg.Pool, item_updates: Callable[[], Awaitable[set[str]]]
) -> None:
    """A batch stores its offers with its COMMIT, once planned (migration 0026): each
    new item is inserted with its `proposed` counter holding its proposals, and never
    updated after. An offer sent alone is stored before it is planned, and its
    counter moves after (the check that this test would see a second write)."""
    emergency_id, need = await _setup(pool, 30)
    _, results = await _one_batch(
        pool,
        [
            _call(_body(emergency_id, "NOR", item(TENTS, 10))),
            _call(_body(emergency_id, "DEU", item(TENTS, 7), item(WATER, 3))),
            _call(_body(emergency_id, "POL", item(TENTS, 5))),
        ],
    )
    created = [_created(r) for r in results]
    items = [i["id"] for c in created for i in c["items"]]
    counters = dict(
        await pool.fetch("SELECT id, proposed FROM offer_items WHERE id = ANY($1)", items)
    )
    assert [counters[i] for i in items] == [10, 7, 0, 5]
    assert await item_updates() == set()
    assert await pool.fetchval("SELECT proposed FROM needs WHERE id = $1", need["id"]) == 22
    alone = await offers.create(
        pool=pool,
        who=OFFICER,
        body=_body(emergency_id, "ITA", item(TENTS, 5)),
        idempotency_key=None,
    )
    (alone_item,) = _created(alone)["items"]
    assert await item_updates() == {alone_item["id"]}
    assert await pool.fetchval("SELECT proposed FROM needs WHERE id = $1", need["id"]) == 27


async def test_storing_new_offers_refuses_a_proposal_of_an_item_it_does_not_store(
    pool: asyncpg.Pool,
) -> None:
    """store_new_offers counts the proposals it writes into the items it stores, and
    tells the trigger not to count them again: a proposal of any other item would go
    uncounted, so it is refused, and nothing is stored."""
    emergency_id, _ = await _setup(pool, 25)
    _, (standing,) = await _one_batch(pool, [_call(_body(emergency_id, "NOR", item(TENTS, 4)))])
    (standing_item,) = _created(standing)["items"]
    (match,) = _created(standing)["matches"]
    row = {
        **{k: match[k] for k in ("emergency_id", "need_id", "request_id", "resource_type")},
        **{k: match[k] for k in ("requesting_country", "score", "score_parts", "eta")},
        "id": "mat_not_counted",
        "offer_item_id": standing_item["id"],
        "offer_id": _created(standing)["id"],
        "offering_country": "NOR",
        "quantity": 1,
        "lacking": 21,
        "version": 1,
        "allocated": 0,
    }
    with pytest.raises(asyncpg.RaiseError, match="an item it does not store"):
        await pool.execute("SELECT store_new_offers('[]', '[]', $1::jsonb)", [row])
    assert await pool.fetchval("SELECT count(*) FROM matches WHERE id = 'mat_not_counted'") == 0


async def test_an_offer_for_a_fully_proposed_need_is_planned_under_locks_in_its_batch(
    pool: asyncpg.Pool,
) -> None:
    """The need is fully proposed to a slow offer; a clearly better one comes in a
    batch. Its plan may displace a standing proposal, so it is made under locks, in
    the batch's transaction after the batch's other plans: it takes the need's units
    from the slow one. The other offer of the batch (water, which no need takes) is
    recorded beside it, and nothing goes alone."""
    # Türkiye's own slow tents; Türkiye is on no list
    emergency_id, need, _ = await _filled_by_slow_tents(pool, "TUR")
    batcher, results = await _one_batch(
        pool,
        [
            _call(_body(emergency_id, "FRA", item(TENTS, 100, origin=PLACE))),
            _call(_body(emergency_id, "NOR", item(WATER, 5))),
        ],
    )
    better, water = (_created(r) for r in results)
    assert [(m["need_id"], m["quantity"]) for m in better["matches"]] == [(need["id"], 100)]
    assert water["matches"] == []
    assert await _proposed(pool, need["id"]) == _answered([better])  # the slow one gave way
    assert (batcher.batches, batcher.batched, batcher.alone) == (1, 2, 0)


async def test_offers_for_a_fully_proposed_need_share_one_plan_and_get_their_own_answers(
    pool: asyncpg.Pool,
) -> None:
    """Once any need of a type is fully proposed, every new offer of that type is
    planned under locks. Those of one batch share that plan: each is answered with
    its own proposals, on the need that still lacks, never over-proposed."""
    emergency_id = await _emergency(pool)
    small = await _need(pool, emergency_id, 1, priority="critical")
    large = await _need(pool, emergency_id, 25)
    await _on_offer(pool, emergency_id, ON_OFFER)
    _, first = await offers.create(
        pool=pool,
        who=OFFICER,
        body=_body(emergency_id, "TUR", item(TENTS, 1)),
        idempotency_key=None,
    )
    assert _answered([first]) == await _proposed(pool, small["id"])  # the small need is full
    batcher, results = await _one_batch(
        pool, [_call(_body(emergency_id, nation, item(TENTS, 10))) for nation in ON_OFFER]
    )
    created = [_created(r) for r in results]
    for offer in created:
        assert {m["offer_id"] for m in offer["matches"]} <= {offer["id"]}
    assert sum(m["quantity"] for c in created for m in c["matches"]) == 25
    assert await _proposed(pool, large["id"]) == _answered(created)
    assert (batcher.batches, batcher.batched, batcher.alone) == (1, 5, 0)


@pytest.mark.parametrize("path", ["batch", "alone"])
async def test_an_offer_is_answered_with_its_own_proposals_not_those_of_the_item_it_displaced(
    pool: asyncpg.Pool, path: str
) -> None:
    """A better offer of France's displaces Germany's slow tents from the first need,
    and Germany's tents are then proposed to a second need. France's answer (its POC
    may not see Germany's proposals) holds France's proposal only."""
    emergency_id, first, slow = await _filled_by_slow_tents(pool, "DEU")
    second = await _need(pool, emergency_id, 100)  # lacking; Germany's tents are all proposed
    france = Principal(token_id="tok_france", name="France's POC", role=Role.POC, country="FRA")
    better_tents = item(TENTS, 100, origin=PLACE)  # for the first need's request
    body = _body(emergency_id, "FRA", better_tents, request_id=first["request_id"])
    call = {**_call(body), "who": france}
    if path == "batch":
        _, (result,) = await _one_batch(pool, [call])
    else:
        result = await offers.create(pool=pool, **call)
    better = _created(result)
    assert [(m["need_id"], m["offer_id"]) for m in better["matches"]] == [
        (first["id"], better["id"])
    ]
    # Germany's tents did move to the second need: the answer left that out, not the plan
    assert {o for o, _ in (await _proposed(pool, second["id"])).values()} == {slow["id"]}


async def test_an_offer_after_one_that_filled_a_need_in_its_batch_may_still_displace_it(
    pool: asyncpg.Pool,
) -> None:
    """In one batch, slow tents fill the need, then clearly better ones come. Sent
    one after the other, the better ones would find the need full and take its units
    from the slow ones (planned under locks); so they do here, in the batch's
    transaction after its other plans. Planned on the batch's own plan alone, they
    got nothing."""
    emergency_id = await _emergency(pool)
    need = await _need(
        pool, emergency_id, 100, needed_by="2026-02-07T06:00:00+03:00", delivery=PLACE
    )
    await _on_offer(pool, emergency_id, ON_OFFER)
    batcher, results = await _one_batch(
        pool,
        [
            # Türkiye's own slow tents (no origin; Türkiye is on no list)
            _call(_body(emergency_id, "TUR", item(TENTS, 100))),
            _call(_body(emergency_id, "FRA", item(TENTS, 100, origin=PLACE))),
        ],
    )
    slow, better = (_created(r) for r in results)
    assert [(m["need_id"], m["quantity"]) for m in slow["matches"]] == [(need["id"], 100)]
    assert [(m["need_id"], m["quantity"]) for m in better["matches"]] == [(need["id"], 100)]
    assert await _proposed(pool, need["id"]) == _answered([better])  # the slow one gave way
    assert (batcher.batches, batcher.batched, batcher.alone) == (1, 2, 0)


async def _batch_of_three(pool: asyncpg.Pool) -> tuple[OfferBatcher, list[dict[str, Any]]]:
    """A started batcher whose first batch held three offers and has ended; the calls."""
    emergency_id, _ = await _setup(pool, 1000)
    calls = [_call(_body(emergency_id, nation, item(TENTS, 1))) for nation in ON_OFFER[:3]]
    batcher = OfferBatcher(pool)
    first = [asyncio.create_task(batcher.create(**c)) for c in calls]
    await _queued(batcher, 3)
    batcher.start()
    async with asyncio.timeout(WAIT_S):
        await asyncio.gather(*first)
        while batcher.in_flight:
            await asyncio.sleep(0)
    assert (batcher.batches, batcher.batched) == (1, 3)
    return batcher, calls


async def test_a_busy_batcher_waits_for_the_clients_it_has_just_answered(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a batch of three, the next waits until three are queued: on a busy hub
    the clients it answered send their next offers at once, and one batch of them
    all costs less per offer than a batch of the first and another of the rest."""
    monkeypatch.setattr(batching, "LINGER_SECONDS", WAIT_S)  # here it never runs out,
    monkeypatch.setattr(batching, "QUIET_SECONDS", WAIT_S)  # however slow the machine
    batcher, calls = await _batch_of_three(pool)
    try:
        one = asyncio.create_task(batcher.create(**calls[0]))
        async with asyncio.timeout(WAIT_S):
            while not batcher.gathering:
                await asyncio.sleep(0)
        rest = [asyncio.create_task(batcher.create(**c)) for c in calls[1:]]
        async with asyncio.timeout(WAIT_S):
            answers = await asyncio.gather(one, *rest)
        assert [status for status, _ in answers] == [201, 201, 201]
        assert (batcher.batches, batcher.batched) == (2, 6)
    finally:
        await batcher.stop()


async def test_a_wait_for_company_ends_once_offers_stop_coming(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offers that do not come on their answers (nations filing on their own time)
    do not hold a batch for the whole linger: after a batch of three, one offer comes
    and no other; it goes once QUIET_SECONDS pass without an arrival, though the
    linger would wait far longer."""
    monkeypatch.setattr(batching, "LINGER_SECONDS", WAIT_S)  # a wait to the end would show
    monkeypatch.setattr(batching, "QUIET_SECONDS", 0.05)
    batcher, calls = await _batch_of_three(pool)
    try:
        async with asyncio.timeout(WAIT_S / 2):
            status, _ = await batcher.create(**calls[0])
            while batcher.in_flight:
                await asyncio.sleep(0)
        assert status == 201
        assert (batcher.batches, batcher.batched) == (2, 4)
    finally:
        await batcher.stop()


async def test_an_offer_waits_for_company_that_does_not_come_no_longer_than_the_linger(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clients answered may not send again (people, not a load generator): the
    offer that came goes alone once the wait runs out, and the batch after it, which
    expects no more than it held, does not wait at all."""
    monkeypatch.setattr(batching, "LINGER_SECONDS", 0.2)
    monkeypatch.setattr(batching, "QUIET_SECONDS", WAIT_S)  # only the linger ends it
    batcher, calls = await _batch_of_three(pool)
    try:
        async with asyncio.timeout(WAIT_S):
            status, _ = await batcher.create(**calls[0])
            while batcher.in_flight:
                await asyncio.sleep(0)
        assert status == 201
        assert (batcher.batches, batcher.batched) == (2, 4)
        monkeypatch.setattr(batching, "LINGER_SECONDS", WAIT_S)  # a wait now would show
        async with asyncio.timeout(WAIT_S / 2):
            status, _ = await batcher.create(**calls[1])
        assert status == 201
        assert (batcher.batches, batcher.batched) == (3, 5)
    finally:
        await batcher.stop()


async def test_a_nations_first_offer_goes_alone_and_moves_its_circulation_row(
    pool: asyncpg.Pool,
) -> None:
    """Spain is on the RFA's distribution and has offered nothing yet: its row
    moves to `offered` under locks, on the single path. Germany's next offer, in the
    same batch, is recorded in it."""
    emergency_id, need = await _setup(pool, 100)
    assert await response_state(pool, emergency_id, "ESP") == "notified"
    batcher, results = await _one_batch(
        pool,
        [
            _call(_body(emergency_id, "ESP", item(TENTS, 10))),
            _call(_body(emergency_id, "DEU", item(TENTS, 20))),
        ],
    )
    spain, germany = (_created(r) for r in results)
    assert await response_state(pool, emergency_id, "ESP") == "offered"
    assert [m["quantity"] for m in spain["matches"]] == [10]
    assert [m["quantity"] for m in germany["matches"]] == [20]
    assert await _proposed(pool, need["id"]) == _answered([spain, germany])
    assert (batcher.batches, batcher.batched, batcher.alone) == (1, 1, 1)


async def test_stopping_answers_the_offers_of_the_batch_in_flight(pool: asyncpg.Pool) -> None:
    """Stopping the batcher (the app's shutdown) while a batch's transaction runs:
    its offers are answered (503: try again; a keyed retry is safe), never left
    waiting for an answer that no task will give."""
    emergency_id, _ = await _setup(pool, 100)
    batcher = OfferBatcher(pool, stop_seconds=0.1)  # this batch cannot finish: cut it off
    batcher.start()
    async with pool.acquire() as holder, holder.transaction():
        # another request's claim of the same key, not yet committed: the batch's
        # claim waits for it, mid-transaction
        await holder.execute(
            "INSERT INTO idempotency_keys (token_id, key, scope, request_hash)"
            " VALUES ($1, 'k-held', 'offers', '')",
            OFFICER.token_id,
        )
        offer = asyncio.create_task(
            batcher.create(**_call(_body(emergency_id, "NOR", item(TENTS, 5)), key="k-held"))
        )
        async with asyncio.timeout(WAIT_S):
            while not await pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
                holder.get_server_pid(),
            ):
                await asyncio.sleep(0.02)
        await batcher.stop()
        async with asyncio.timeout(WAIT_S):
            await asyncio.wait([offer])
        assert isinstance(offer.exception(), Unavailable), offer
    tents = await pool.fetchval(
        "SELECT count(*) FROM offer_items WHERE emergency_id = $1 AND resource_type = $2",
        emergency_id,
        TENTS,
    )
    assert tents == 0  # rolled back: the retry the answer asks for is not a second offer


async def test_an_offer_planned_again_commits_with_its_batch_and_its_stored_answer(
    pool: asyncpg.Pool, db_url: str
) -> None:
    """Slow tents fill the need in a batch, then better ones come with an
    Idempotency-Key: they are planned again under locks and displace the slow ones.
    That happens in the batch's own transaction, so the moment the better offer can
    be seen, the answer stored under its key already holds what it displaced: a
    replay never gets the offer half planned. (The batcher has one connection, which
    the test takes as soon as the batch gives it back.)"""
    emergency_id = await _emergency(pool)
    need = await _need(
        pool, emergency_id, 100, needed_by="2026-02-07T06:00:00+03:00", delivery=PLACE
    )
    await _on_offer(pool, emergency_id, ON_OFFER)
    alone = await db.create_pool(db_url, min_size=1, max_size=1)
    batcher = OfferBatcher(alone)
    try:
        async with pool.acquire() as holder, holder.transaction():
            await _lock_need(holder, need["id"])  # the batch waits for it, mid-transaction
            slow = asyncio.create_task(
                batcher.create(**_call(_body(emergency_id, "TUR", item(TENTS, 100))))
            )
            better_body = _body(emergency_id, "FRA", item(TENTS, 100, origin=PLACE))
            better = asyncio.create_task(batcher.create(**_call(better_body, key="k-better")))
            await _queued(batcher, 2)
            batcher.start()
            await blocked_statement(pool, holder)
            taking = asyncio.ensure_future(alone.acquire())  # queued behind the batch
            await asyncio.sleep(0)
            assert not taking.done()
        async with asyncio.timeout(WAIT_S):
            conn = await taking
        try:
            stored = await conn.fetchval(
                "SELECT response FROM idempotency_keys WHERE token_id = $1 AND key = $2",
                OFFICER.token_id,
                "k-better",
            )
            tents_of_france = await conn.fetchval(
                "SELECT count(*) FROM offer_items"
                " WHERE emergency_id = $1 AND offering_country = 'FRA' AND resource_type = $2",
                emergency_id,
                TENTS,
            )
        finally:
            await alone.release(conn)
        async with asyncio.timeout(WAIT_S):
            slow_answer, better_answer = _created(await slow), _created(await better)
    finally:
        await batcher.stop()
        await alone.close()
    assert tents_of_france == 1  # committed when the test got the connection
    assert stored is not None
    assert [(m["need_id"], m["quantity"]) for m in stored["matches"]] == [(need["id"], 100)]
    assert stored == better_answer
    assert [m["quantity"] for m in slow_answer["matches"]] == [100]
    assert await _proposed(pool, need["id"]) == _answered([better_answer])


async def _waits(pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
    """Return once `conn` waits for a lock."""
    async with asyncio.timeout(WAIT_S):
        while not await pool.fetchval(
            "SELECT cardinality(pg_blocking_pids($1)) > 0", conn.get_server_pid()
        ):
            await asyncio.sleep(0.02)


async def _lock_need(conn: asyncpg.Connection, need_id: str) -> None:
    """What an amendment takes first (requests' lock_need): the need, FOR UPDATE."""
    await conn.execute("SELECT 1 FROM needs WHERE id = $1 FOR UPDATE", need_id)


async def _amend(conn: asyncpg.Connection, need_id: str, quantity: int) -> None:
    """The need's quantity changed as an amendment does it (requests' update_need)."""
    await conn.execute(
        "UPDATE needs SET quantity = $2, version = version + 1, updated_at = now() WHERE id = $1",
        need_id,
        quantity,
    )


async def test_a_batch_whose_plan_no_longer_holds_at_its_commit_is_run_again(
    pool: asyncpg.Pool,
) -> None:
    """Two offers of 10 for a need of 20 wait at their batch's COMMIT while the need
    is amended to 12: the plan made on the need as read (10 and 10) no longer holds,
    the COMMIT refuses it, and the batch runs again on the need as amended: 10, then
    the 2 left. Never over-proposed; still one batch, nothing sent alone."""
    emergency_id, need = await _setup(pool, 20)
    retried = db.RETRIES["SerializationError"]
    calls = [
        _call(_body(emergency_id, "NOR", item(TENTS, 10))),
        _call(_body(emergency_id, "DEU", item(TENTS, 10))),
    ]
    async with pool.acquire() as amender:
        async with amender.transaction():
            await _lock_need(amender, need["id"])
            batch = asyncio.create_task(_one_batch(pool, calls))
            assert "store_new_offers(" in await blocked_statement(pool, amender)
            await _amend(amender, need["id"], 12)
        batcher, results = await batch
    first, second = (_created(r) for r in results)
    assert [(m["need_id"], m["quantity"]) for m in first["matches"]] == [(need["id"], 10)]
    assert [(m["need_id"], m["quantity"]) for m in second["matches"]] == [(need["id"], 2)]
    assert await _proposed(pool, need["id"]) == _answered([first, second])
    assert await pool.fetchval("SELECT proposed FROM needs WHERE id = $1", need["id"]) == 12
    assert (batcher.batches, batcher.batched, batcher.alone) == (1, 2, 0)
    assert db.RETRIES["SerializationError"] == retried + 1  # the one refused COMMIT


async def test_a_batch_planning_under_locks_waits_for_its_rows_before_it_writes_any(
    pool: asyncpg.Pool,
) -> None:
    """A batch of Norway's water (planned on the batch's plan, written first) and
    Germany's tents (a tent need is full: planned under locks after). Another
    transaction holds the large tent need, then asks for the water need, in the
    lock order (the tent needs are older: lower ids). Had the batch written its
    water proposal first, it would hold the water need while waiting for the tent
    need: a cycle, which PostgreSQL breaks after deadlock_timeout by failing one
    side. The batch takes every row it will write or lock in the lock order, before
    writing any, so it waits holding nothing the other wants."""
    emergency_id = await _emergency(pool)
    small = await _need(pool, emergency_id, 1, priority="critical")
    large = await _need(pool, emergency_id, 100)
    await _on_offer(pool, emergency_id, ON_OFFER)
    water = await _need(pool, emergency_id, 100, resource_type=WATER)
    assert small["id"] < large["id"] < water["id"]
    await offers.create(
        pool=pool,
        who=OFFICER,
        body=_body(emergency_id, "TUR", item(TENTS, 1)),
        idempotency_key=None,
    )
    assert await pool.fetchval("SELECT fully_proposed FROM needs WHERE id = $1", small["id"])
    failed = db.RETRIES["DeadlockDetectedError"]
    calls = [
        _call(_body(emergency_id, "NOR", item(WATER, 10))),
        _call(_body(emergency_id, "DEU", item(TENTS, 10))),
    ]
    async with pool.acquire() as other:
        async with other.transaction():
            await _lock_need(other, large["id"])
            batch = asyncio.create_task(_one_batch(pool, calls))
            await blocked_statement(pool, other)  # the batch waits for the tent need
            # what a deadlock would fail, here or in the batch
            await _lock_need(other, water["id"])
        batcher, results = await batch
    norway, germany = (_created(r) for r in results)
    assert [(m["need_id"], m["quantity"]) for m in norway["matches"]] == [(water["id"], 10)]
    assert [(m["need_id"], m["quantity"]) for m in germany["matches"]] == [(large["id"], 10)]
    assert db.RETRIES["DeadlockDetectedError"] == failed
    assert (batcher.batches, batcher.batched, batcher.alone) == (1, 2, 0)


async def test_a_batch_refused_at_its_commit_twice_sends_each_offer_alone(
    pool: asyncpg.Pool,
) -> None:
    """The need of 20 is amended to 12 while the batch waits at its COMMIT, and to
    15 while its second run waits to store its offers (behind a CREATE INDEX on
    offers, say, queued behind the first run): that run planned on the need as read
    before, so neither plan holds. Each offer then goes alone, planned on the need
    as it now is: 10 and 5 (in flight together, in either order)."""
    emergency_id, need = await _setup(pool, 20)
    retried = db.RETRIES["SerializationError"]
    before = await _offer_ids(pool, emergency_id)
    batcher = OfferBatcher(pool)
    calls = [
        _call(_body(emergency_id, "NOR", item(TENTS, 10))),
        _call(_body(emergency_id, "DEU", item(TENTS, 10))),
    ]
    async with pool.acquire() as amender, pool.acquire() as indexer:
        async with indexer.transaction():
            async with amender.transaction():
                await _lock_need(amender, need["id"])
                batch = asyncio.create_task(_one_batch(pool, calls, batcher))
                assert "store_new_offers(" in await blocked_statement(pool, amender)
                # Queued behind the first run, which has stored its offers: granted
                # when that run ends, before the second asks (table locks are
                # granted in turn; a row lock on the need, amended meanwhile, is not).
                share = asyncio.create_task(indexer.execute("LOCK TABLE offers IN SHARE MODE"))
                await _waits(pool, indexer)
                await _amend(amender, need["id"], 12)
            await share
            # the second run, its need read, waits at the statement that stores its
            # offers (or, kept for its COMMIT, looks their flags up: it takes the same
            # table locks); nothing was answered nor sent alone yet
            stores = db.queries("offers").sql("create_offers")[:200]
            assert (await blocked_statement(pool, indexer)).startswith(stores)
            assert (batcher.batches, batcher.batched, batcher.alone) == (0, 0, 0)
            assert db.RETRIES["SerializationError"] == retried + 1
            await _amend(indexer, need["id"], 15)
        batcher, results = await batch
    created = [_created(r) for r in results]
    assert [c["offering_country"] for c in created] == ["NOR", "DEU"]  # each its own
    assert sorted(m["quantity"] for c in created for m in c["matches"]) == [5, 10]
    assert await _offer_ids(pool, emergency_id) - before == {c["id"] for c in created}
    assert await _proposed(pool, need["id"]) == _answered(created)
    assert await pool.fetchval("SELECT proposed FROM needs WHERE id = $1", need["id"]) == 15
    assert (batcher.batches, batcher.batched, batcher.alone) == (0, 0, 2)
    # the batch ran again once; its second refusal was given up, not run again (the
    # offers alone, in flight together, may retry on their own)
    assert db.RETRIES["SerializationError"] >= retried + 1


async def test_an_unexpected_error_in_a_batch_sends_each_offer_alone_for_its_own_answer(
    pool: asyncpg.Pool,
) -> None:
    """A row in the event log at the number the batch's first event draws (an import
    or a restore that numbered its own events): the batch's COMMIT fails with a
    unique violation, which running it again would not cure. Each offer goes alone
    at once and gets what it would have had: its offer and proposal, or its own
    problem; none gets the batch's error."""
    emergency_id, need = await _setup(pool, 100)
    used = _body(emergency_id, "POL", item(TENTS, 2))
    await offers.create(pool=pool, who=OFFICER, body=used, idempotency_key="k-used")
    before = await _offer_ids(pool, emergency_id)
    retried = sum(db.RETRIES.values())
    await pool.execute(
        "INSERT INTO events (seq, at, kind, visibility, actor, data)"
        " SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END, now(),"
        " 'imported', '{}', 'import', '{}' FROM event_seq"
    )
    with structlog.testing.capture_logs() as logs:
        batcher, results = await _one_batch(
            pool,
            [
                _call(_body(emergency_id, "NOR", item(TENTS, 10))),
                _call(_body(emergency_id, "NOR", item("no.such.type", 5))),
                _call(_body(emergency_id, "POL", item(TENTS, 3)), key="k-used"),
                _call(_body(emergency_id, "DEU", item(TENTS, 20))),
            ],
        )
    norway, bad_type, reused, germany = results
    assert isinstance(bad_type, Invalid), bad_type
    assert set(bad_type.errors or {}) == {"items.0.resource_type"}
    assert isinstance(reused, Conflict), reused
    created = [_created(norway), _created(germany)]
    assert [[m["quantity"] for m in c["matches"]] for c in created] == [[10], [20]]
    assert await _offer_ids(pool, emergency_id) - before == {c["id"] for c in created}
    proposed = await _proposed(pool, need["id"])
    assert sorted(q for _, q in proposed.values()) == [2, 10, 20]
    assert (batcher.batches, batcher.batched, batcher.alone) == (0, 0, 4)
    assert sum(db.RETRIES.values()) == retried  # not run again as a batch
    failed = [e for e in logs if e["event"] == "offer_batch_failed"]
    assert [(e["offers"], e["error"]) for e in failed] == [(4, "UniqueViolationError")]
