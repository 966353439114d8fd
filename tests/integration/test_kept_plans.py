"""An offer's transaction runs its statements on kept (generic) plans
(db.transaction(generic_plans=True)): planning was most of what they cost
PostgreSQL. A kept plan is made for no value in particular, and perhaps while the
tables were small, so it is only safe for a statement whose every lookup goes by a
key or down one index. A sequential scan of a table that grows with a response,
kept, reads all of it on every offer of the response.

This test holds every statement an offer sends under kept plans to that rule, on
a database as fresh as a new hub's (the worst case: a plan made on small tables),
so that a statement added to the path, or an index dropped, cannot break it
unseen. What it cannot see: statements inside PL/pgSQL functions and triggers
(write_planned_proposals, append_events), which keep plans of their own."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import asyncpg
import pytest

from eadrcc import db
from eadrcc.offers import service as offers
from eadrcc.offers.batching import OfferBatcher
from tests.integration.ops_helpers import item
from tests.integration.test_offer_batching import (
    OFFICER,
    TENTS,
    _body,
    _call,
    _created,
    _one_batch,
    _setup,
)

# Tables that grow with a response: a kept plan must never read one whole.
GROWING = (
    "emergencies",
    "requests",
    "needs",
    "offers",
    "offer_items",
    "matches",
    "events",
    "responses",
    "idempotency_keys",
    "declined_pairs",
)
SEQ_SCAN = re.compile(r"Seq Scan on (\w+)")


class Watched(asyncpg.Connection):  # type: ignore[misc]
    """Records each statement it sends while its transaction keeps plans (through
    asyncpg's query logger, which every way of sending a statement calls)."""

    kept: ClassVar[set[str]] = set()  # shared: every connection of the test's pool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._keeping = False
        self.add_query_logger(self._saw)

    def _saw(self, logged: Any) -> None:
        query: str = logged.query
        if "force_generic_plan" in query:
            self._keeping = True
        elif "plan_cache_mode = auto" in query or query.rstrip().endswith(("COMMIT", "ROLLBACK")):
            self._keeping = False
        elif self._keeping and "$1" in query:
            Watched.kept.add(query)


@pytest.fixture
async def watched(db_url: str) -> AsyncIterator[asyncpg.Pool]:
    Watched.kept = set()
    pool = await db.create_pool(db_url, min_size=1, max_size=5, connection_class=Watched)
    yield pool
    await pool.close()


async def _kept_plan(conn: asyncpg.Connection, query: str) -> str:
    """The plan PostgreSQL keeps for `query`, as EXPLAIN prints it."""
    parameters = len((await conn.prepare(query)).get_parameters())
    await conn.execute(f"PREPARE kept AS {query}")
    try:
        nulls = ", ".join(["NULL"] * parameters)
        rows = await conn.fetch(
            f"EXPLAIN EXECUTE kept({nulls})" if parameters else "EXPLAIN EXECUTE kept"
        )
    finally:
        await conn.execute("DEALLOCATE kept")
    return "\n".join(r[0] for r in rows)


async def test_no_statement_an_offer_sends_on_a_kept_plan_reads_a_growing_table_whole(
    watched: asyncpg.Pool, db_url: str
) -> None:
    # Every path of an offer under kept plans: alone (a nation's first offer, with a
    # key), and a batch of offers to a need they fill, the last planned under locks.
    emergency_id, _ = await _setup(watched, 15)
    await offers.create(
        pool=watched,
        who=OFFICER,
        body=_body(emergency_id, "GBR", item(TENTS, 1)),
        idempotency_key="kept-1",
    )
    _, results = await _one_batch(
        watched,
        [
            _call(_body(emergency_id, "NOR", item(TENTS, 10)), key="kept-2"),
            _call(_body(emergency_id, "DEU", item(TENTS, 10))),
            _call(_body(emergency_id, "POL", item(TENTS, 10))),
        ],
        OfferBatcher(watched),
    )
    assert all(_created(r) for r in results)
    kept = sorted(Watched.kept)
    # The statements the batch sends (facts, candidates, keys, the offers) were seen.
    assert len(kept) >= 4, kept

    conn = await db.connect(db_url)
    try:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        reading = {}
        for query in kept:
            plan = await _kept_plan(conn, query)
            whole = sorted({t for t in SEQ_SCAN.findall(plan) if t in GROWING})
            if whole:
                reading[query.strip().splitlines()[0][:80]] = (whole, plan)
    finally:
        await conn.close()
    assert reading == {}
