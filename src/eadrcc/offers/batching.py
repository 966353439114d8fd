"""New offers recorded in batches: group commit.

The offers that arrive while one batch's transaction runs are recorded together in
the next, so they share what a transaction costs whatever it holds: its BEGIN and
COMMIT, the flush of the write-ahead log, five round trips, waking the event hub.
A quiet hub sends each offer alone, at once: nothing waits for company. A busy one
waits a moment (while they keep coming, at most LINGER_SECONDS) for the offers it
can expect: those of the clients it has just answered (who send their next at once)
besides those queued (_gather). Without it, such clients split into groups that take
turns: each batch held half of them, and a quarter in each process of `serve
--workers 2`, at a cost per offer that grows as batches shrink (docs/performance.md,
ninth pass). For offers that do not come on their answers (nations filing on their
own time, clients spread over instances) the wait ends QUIET_SECONDS after the last
arrival.

Each offer keeps what it would have had alone:
- its own answer, 201 with its matches or its own problem;
- its Idempotency-Key (claimed in the batch, its answer stored with the COMMIT);
- its place: in a batch, offers, proposals and events are written in arrival
  order, and each offer is planned seeing what those before it proposed (lacking,
  not reshuffled). Offers in flight together were never ordered (either may commit
  first alone too); one sent after another's answer comes after it.

A batch looks its offers' duplicate flags up, plans them, and stores them with its
COMMIT (offers.store.create_with_commit): each new item is written once, its
`proposed` counter already holding its proposals. It stores them at once, before
planning, when some offer will be planned under locks (that plan reads them) or two
of them could flag each other.

Some offers are planned under locks instead, in the batch's transaction after its
other plans are written (they would have come after them), as each would have been
alone: those for which some need they could fill is fully proposed, and those whose
items still have units free after the batch's earlier offers fully proposed such a
need. Their plan may displace a clearly weaker standing proposal
(matching.engine.plan). Once a need of a type is full, every later offer of that
type is such an offer: they still share their batch, and one plan per actor. So an
offer, its answer (stored under its key) and what it displaced commit together: a
replay never sees it half done.

What the batch does not do is done for the offer alone, on the path it always had
(offers.service.create), after the batch: a nation's first offer, which moves its
circulation row (under locks); a key used before, or twice in one batch; a problem
with an offer that has a key (a replay is answered from the key).
A batch whose plan no longer holds when it is written is run again; after that, or on
any other failure, each of its offers goes alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from eadrcc import idempotency
from eadrcc.auth import Principal
from eadrcc.circulation import service as circulation
from eadrcc.db import RETRYABLE, plan_each_statement, retrying, transaction
from eadrcc.errors import Conflict, Invalid, Unavailable
from eadrcc.ids import new_id
from eadrcc.matching import engine
from eadrcc.offers import service, store
from eadrcc.offers.models import Offer, OfferCreate
from eadrcc.policy import authorize

log = structlog.get_logger(__name__)

# The most offers one transaction records: bounds its locks' hold and its memory.
MAX_BATCH = 64
# Batches at once. Two (the next reading and storing its offers while one commits,
# each planning an emergency alone under a lock) were measured no faster on two
# cores, and slower across two processes (bench/throughput.py, 2026-11-30).
IN_FLIGHT = 1
# How long an idle batcher waits for the offers it expects before it starts without
# them, at most: a busy batch's turn (its clients answered, their next offers read,
# one by one in this process) on a slow machine. At 2 ms, on a machine half as fast
# as usual, batches of 32 clients went with 18-23 and each offer cost more: in
# alternating runs, one instance made 0.33-0.48 of the floor against 0.42-0.54 at
# 8 ms, two workers 0.38-0.56 against 0.55-0.72 (docs/performance.md, twelfth pass).
LINGER_SECONDS = 0.008
# ... and only while they keep coming, each within this of the one before (or of the
# start): a load that does not send on its answers (nations filing on their own
# time) would otherwise wait the whole LINGER_SECONDS for offers not yet due, every
# batch (bench/open_load.py at 300 offers/s: p50 15.8-17.1 ms at a flat 8 ms,
# 8.5-9.6 with this, 7.7-10.0 at the flat 2 ms before).
QUIET_SECONDS = 0.002
# How long stopping waits for the batches in flight to commit.
STOP_SECONDS = 10.0
# An answer meaning "record this offer alone, on the single path".
ALONE = object()

Answer = tuple[int, Any] | Exception | object


@dataclass
class _Pending:
    who: Principal
    body: OfferCreate
    key: str | None
    request_hash: bytes | None
    answer: asyncio.Future[Answer]
    # The request's context (its request id for the logs): a batch runs in its
    # first offer's.
    context: contextvars.Context


class OfferBatcher:
    """One per process (app): a task that records what is waiting, batch after batch."""

    def __init__(
        self, pool: asyncpg.Pool, *, max_batch: int = MAX_BATCH, stop_seconds: float = STOP_SECONDS
    ) -> None:
        self._pool = pool
        self._max = max_batch
        self._stop_seconds = stop_seconds
        self._waiting: list[_Pending] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running: dict[asyncio.Task[None], list[_Pending]] = {}
        self._expected = 1  # offers the next batch may wait for (_gather)
        self.gathering = False  # waiting for them now (read-only: tests, diagnostics)
        self.batches = 0  # transactions committed, and the offers they held (/metrics)
        self.batched = 0
        self.alone = 0  # offers sent to the single path

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="offer-batcher")

    async def stop(self) -> None:
        """Let the batches in flight finish (a while), then stop; what is left, queued
        or cut off mid-batch, is answered 503."""
        if self._running:
            await asyncio.wait(self._running, timeout=self._stop_seconds)
        for task in [t for t in (self._task, *self._running) if t is not None]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for pending in self._waiting:
            if not pending.answer.done():
                pending.answer.set_exception(Unavailable("the hub is shutting down"))
        self._waiting.clear()

    @property
    def waiting(self) -> int:
        """Offers queued for the next batch (read-only: for tests and diagnostics)."""
        return len(self._waiting)

    @property
    def in_flight(self) -> int:
        """Batches running (read-only: for tests and diagnostics)."""
        return len(self._running)

    def gauges(self) -> dict[str, float]:
        return {"batches": self.batches, "batched": self.batched, "alone": self.alone}

    async def create(
        self,
        *,
        who: Principal,
        body: OfferCreate,
        idempotency_key: str | None,
        request_hash: bytes | None = None,
    ) -> tuple[int, Any]:
        """offers.service.create, in the next batch; the same answer."""
        authorize(who, "offer.create", [body.offering_country])
        if idempotency_key and request_hash is None:
            request_hash = idempotency.fingerprint("offers", body.model_dump(mode="json"))
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        context = contextvars.copy_context()
        self._waiting.append(_Pending(who, body, idempotency_key, request_hash, answer, context))
        self._wake.set()
        result = await answer
        if result is ALONE:
            return await service.create(
                pool=self._pool,
                who=who,
                body=body,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
            )
        if isinstance(result, Exception):
            raise result
        assert isinstance(result, tuple)
        status: int = result[0]
        created: dict[str, Any] = result[1]
        log.info(
            "offer_created",
            offer_id=created["id"],
            country=body.offering_country,
            items=len(body.items),
            proposals=len(created["matches"]),
            batched=True,
        )
        return status, created

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._waiting and not self._running:
                await self._gather()
            while self._waiting and len(self._running) < IN_FLIGHT:
                batch = self._waiting[: self._max]
                del self._waiting[: self._max]
                task = asyncio.create_task(self._record(batch), context=batch[0].context)
                self._running[task] = batch
                task.add_done_callback(self._finished)

    async def _gather(self) -> None:
        """Wait until the offers the last batch leads us to expect are queued, while
        offers keep arriving (QUIET_SECONDS apart at most) and for LINGER_SECONDS at
        most. (Clients that do not send their next offer on their answer end it
        QUIET_SECONDS after the last arrival, and on a quiet hub it happens once: the
        batch that then goes expects no more than it held.)"""
        wanted = min(self._expected, self._max)
        if len(self._waiting) >= wanted:
            return
        self.gathering = True
        loop = asyncio.get_running_loop()
        last = loop.time()
        deadline = last + LINGER_SECONDS
        try:
            while len(self._waiting) < wanted:
                try:
                    async with asyncio.timeout_at(min(deadline, last + QUIET_SECONDS)):
                        await self._wake.wait()
                except TimeoutError:
                    return
                self._wake.clear()
                last = loop.time()
        finally:
            self.gathering = False

    def _finished(self, task: asyncio.Task[None]) -> None:
        # Its offers' clients, answered now, and those queued behind it.
        self._expected = len(self._running[task]) + len(self._waiting)
        del self._running[task]
        self._wake.set()  # room for the next batch

    async def _record(self, batch: list[_Pending]) -> None:
        try:
            await self._record_batch(batch)
        except asyncio.CancelledError:
            # Stopped mid-batch: these offers are no longer in _waiting, so stop()
            # cannot answer them; nothing else will.
            for pending in batch:
                if not pending.answer.done():
                    pending.answer.set_exception(Unavailable("the hub is shutting down"))
            raise

    async def _record_batch(self, batch: list[_Pending]) -> None:
        try:
            answers = await retrying(lambda: self._transaction(batch), attempts=2)
            self.batches += 1
            self.batched += sum(a is not ALONE for a in answers)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Each offer alone then answers for itself (a unique violation, say).
            if not isinstance(exc, RETRYABLE):
                log.error("offer_batch_failed", offers=len(batch), error=type(exc).__name__)
            answers = [ALONE] * len(batch)
        self.alone += sum(a is ALONE for a in answers)
        for pending, answer in zip(batch, answers, strict=True):
            if not pending.answer.done():  # its request may have been cancelled
                pending.answer.set_result(answer)

    async def _transaction(self, batch: list[_Pending]) -> list[Answer]:
        answers: list[Answer] = [ALONE] * len(batch)
        # Kept plans, as for one offer (offers.service): every statement here reads
        # by key or walks one index in its order.
        async with transaction(self._pool, generic_plans=True) as conn:
            facts = await store.facts_each(conn, [p.body for p in batch])
            live = []
            for n, (pending, fact) in enumerate(zip(batch, facts, strict=True)):
                try:
                    service.check(pending.body, fact)
                except (Invalid, Conflict) as problem:
                    if not pending.key:
                        answers[n] = problem
                    continue
                if fact["response_state"] in (None, "offered"):
                    live.append(n)
            groups = {n: _groups(batch[n].body) for n in live}
            read = await engine.read_new_item_candidates(conn, (g for n in live for g in groups[n]))
            live = await _claim(conn, batch, live)
            if not live:
                return answers
            new = [_new(batch[n], facts[n]) for n in live]
            # Stored with the COMMIT once planned (each item written once), unless
            # some offer will be planned under locks, which reads them (stored now,
            # in the same one round trip), or two could flag each other.
            locks = any(not read.full.isdisjoint(groups[n]) for n in live)
            if locks or store.may_duplicate_each_other(new):
                offers = await store.create_each(conn, new)
            else:
                offers = await store.create_with_commit(conn, new)
            lacking: dict[str, int] = {}
            locking: list[tuple[int, Offer, dict[str, Any]]] = []
            for n, offer in zip(live, offers, strict=True):
                pending, fact = batch[n], facts[n]
                actor = pending.who.actor
                offer_json = service.emit(conn, offer, fact["affected"], "offer.created", actor)
                if not read.full.isdisjoint(groups[n]):
                    # A need it could fill is fully proposed: planned under locks, below.
                    locking.append((n, offer, service.created_answer(offer_json, [])))
                    continue
                full = {need_id for need_id, left in lacking.items() if left <= 0}
                proposals = engine.plan_on_commit(
                    conn, offer, read, lacking, actor=actor, written_at=fact["now"]
                )
                created = service.created_answer(offer_json, proposals)
                if engine.may_displace(offer, read, full, proposals):
                    locking.append((n, offer, created))
                else:
                    _remember(conn, batch[n], created)
                    answers[n] = (201, created)
            if locking:
                await store.store_now(conn)  # the plan under locks reads them
                await _plan_under_locks(conn, batch, locking)
                for n, _, created in locking:
                    _remember(conn, batch[n], created)
                    answers[n] = (201, created)
            # After every plan: a row kept `offered` is held from the COMMIT's message
            # on, after the needs the plans write there (needs before circulation rows;
            # the statements go in the order first asked for).
            for n, offer in zip(live, offers, strict=True):
                await circulation.offered(
                    conn,
                    emergency_id=offer.emergency_id,
                    country=offer.offering_country,
                    actor=batch[n].who.actor,
                    state=facts[n]["response_state"],
                )
        return answers


async def _plan_under_locks(
    conn: asyncpg.Connection,
    batch: list[_Pending],
    locking: list[tuple[int, Offer, dict[str, Any]]],
) -> None:
    """Plan these offers' items under locks, as each would have been alone (it may
    displace a clearly weaker proposal), after the batch's other plans are written:
    they would have come after them. One plan per actor (its events name them), each
    offer answered with its own new proposals."""
    await plan_each_statement(conn)
    await engine.lock_ahead(conn, item_ids=[i.id for _, offer, _ in locking for i in offer.items])
    await engine.write_planned(conn)
    by_actor: dict[str, list[tuple[Offer, dict[str, Any]]]] = {}
    for n, offer, created in locking:
        by_actor.setdefault(batch[n].who.actor, []).append((offer, created))
    for actor, offers in by_actor.items():
        items = [i.id for offer, _ in offers for i in offer.items]
        more = await engine.plan(conn, item_ids=items, actor=actor)
        for offer, created in offers:
            created["matches"] += [
                m.model_dump(mode="json") for m in more if m.offer_id == offer.id
            ]


def _remember(conn: asyncpg.Connection, pending: _Pending, created: dict[str, Any]) -> None:
    """Store an offer's answer under its key, if it has one (written with the COMMIT)."""
    if pending.key:
        idempotency.remember(
            conn, token_id=pending.who.token_id, key=pending.key, status=201, response=created
        )


def _new(pending: _Pending, fact: asyncpg.Record) -> store.NewOffer:
    """create_each's (offer id, body, item ids, actor, now) for a waiting offer."""
    body = pending.body
    items = [new_id("itm") for _ in body.items]
    return new_id("off"), body, items, pending.who.actor, fact["now"]


def _groups(body: OfferCreate) -> list[engine.Group]:
    return [(body.emergency_id, body.request_id, t) for t in {i.resource_type for i in body.items}]


async def _claim(conn: asyncpg.Connection, batch: list[_Pending], live: list[int]) -> list[int]:
    """The offers of `live` that may go on: those without a key, and those whose key
    this batch claimed (a key used twice in it is claimed for the first use only)."""
    wanted: dict[tuple[str, str], int] = {}
    for n in live:
        pending = batch[n]
        if pending.key:
            wanted.setdefault((pending.who.token_id, pending.key), n)
    claims = [
        (token_id, key, "offers", batch[n].request_hash or b"")
        for (token_id, key), n in wanted.items()
    ]
    claimed = await idempotency.claim_each(conn, claims)
    first = {n for k, n in wanted.items() if k in claimed}
    return [n for n in live if not batch[n].key or n in first]
