"""Acceptance, decline, dispatch and delivery of matches.

Every one locks through `allocation.lock` (need, then offer item, then match), so
concurrent decisions queue instead of deadlocking, and the CHECK constraints on the
counters stop any over-allocation or over-proposal that slipped past. Room a
decision frees is re-planned in the deciding transaction (`replan`), so the
decision and the proposals it makes possible commit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
import structlog

from eadrcc.auth import Principal
from eadrcc.db import retrying, transaction
from eadrcc.errors import Conflict, NotFound
from eadrcc.matching import allocation, engine, store
from eadrcc.matching.models import Match
from eadrcc.matching.transitions import next_state
from eadrcc.policy import authorize, authorize_kind, match_audience, visible

log = structlog.get_logger(__name__)
OVER_ALLOCATION = {
    "need_not_over_allocated": "the need",
    "offer_item_not_over_allocated": "the offered item",
    "need_not_over_proposed": "the need",
    "offer_item_not_over_proposed": "the offered item",
}


async def accept(
    *, pool: asyncpg.Pool, who: Principal, match_id: str, quantity: int | None
) -> Match:
    accepted, freed = await retrying(lambda: _accept(pool, who, match_id, quantity))
    log.info("match_accepted", match_id=match_id, quantity=accepted.quantity)
    await freed.finish(pool, who.actor)
    return accepted


async def _accept(
    pool: asyncpg.Pool, who: Principal, match_id: str, quantity: int | None
) -> tuple[Match, Replanned]:
    try:
        async with transaction(pool) as conn:
            m = await _found(conn, match_id)
            authorize(who, "match.decide", [m.requesting_country])
            locked = await allocation.lock(
                conn,
                need_ids=[m.need_id],
                item_ids=[m.offer_item_id],
                match_ids=[m.id],
                other_sides=True,
            )
            m = locked.matches[m.id]
            status = next_state("accept", m.status)
            take = quantity or m.quantity
            _check_room(take, locked.needs[m.need_id], locked.items[m.offer_item_id])
            accepted = await store.set_state(
                conn, m.model_copy(update={"status": status, "quantity": take})
            )
            # Acceptance outranks proposals: the others on this need and item make room.
            fitted = await allocation.fit(
                conn,
                need_ids=[m.need_id],
                item_ids=[m.offer_item_id],
                reserve=take,
                reason="filled by another offer",
            )
            await allocation.allocate(conn, accepted, take)
            engine.emit(conn, [accepted], "match.accepted", who.actor)
            engine.emit_fitted(conn, fitted, who.actor)
            freed = await replan(
                conn,
                need_ids=[accepted.need_id, *(m.need_id for m in fitted)],
                item_ids=[accepted.offer_item_id, *(m.offer_item_id for m in fitted)],
                actor=who.actor,
            )
            return accepted, freed
    except asyncpg.CheckViolationError as exc:
        what = OVER_ALLOCATION.get(exc.constraint_name or "")
        if what is None:
            raise
        raise Conflict(f"accepting would allocate more than {what} has") from None


def _check_room(take: int, need: asyncpg.Record, item: asyncpg.Record) -> None:
    need_room, item_room = allocation.need_room(need), allocation.item_room(item)
    if take > need_room:
        raise Conflict(
            f"accepting {take} would exceed the need: {need_room} still open",
            extra={"need_room": need_room, "item_room": item_room},
        )
    if take > item_room:
        raise Conflict(
            f"accepting {take} would exceed the offer: {item_room} still free",
            extra={"need_room": need_room, "item_room": item_room},
        )


async def decline(*, pool: asyncpg.Pool, who: Principal, match_id: str, reason: str) -> Match:
    declined, freed = await retrying(lambda: _decline(pool, who, match_id, reason))
    await freed.finish(pool, who.actor)
    return declined


async def _decline(
    pool: asyncpg.Pool, who: Principal, match_id: str, reason: str
) -> tuple[Match, Replanned]:
    async with transaction(pool) as conn:
        m = await _found(conn, match_id)
        authorize(who, "match.decide", [m.requesting_country])
        m = await _lock_pair(conn, m)
        declined = await store.set_state(
            conn, m.model_copy(update={"status": next_state("decline", m.status), "reason": reason})
        )
        engine.emit(conn, [declined], "match.declined", who.actor)
        # What the decline freed goes to other pairings; this one never returns.
        freed = await replan(
            conn, need_ids=[m.need_id], item_ids=[m.offer_item_id], actor=who.actor
        )
        return declined, freed


async def dispatch(
    *, pool: asyncpg.Pool, who: Principal, match_id: str, quantity: int, eta: datetime | None
) -> Match:
    async with transaction(pool) as conn:
        m = await _found(conn, match_id)
        authorize(who, "match.dispatch", [m.offering_country])
        m = await _lock_match(conn, m)
        status = next_state("dispatch", m.status)
        if m.dispatched + quantity > m.quantity:
            raise Conflict(
                f"only {m.quantity - m.dispatched} left to dispatch",
                extra={"current_status": m.status},
            )
        moved = await store.set_state(
            conn,
            m.model_copy(
                update={
                    "status": status,
                    "dispatched": m.dispatched + quantity,
                    "eta": eta or m.eta,
                }
            ),
        )
        engine.emit(conn, [moved], "match.dispatched", who.actor)
    return moved


async def deliver(*, pool: asyncpg.Pool, who: Principal, match_id: str, quantity: int) -> Match:
    async with transaction(pool) as conn:
        m = await _found(conn, match_id)
        authorize(who, "match.deliver", [m.offering_country, m.requesting_country])
        m = await _lock_match(conn, m)
        next_state("deliver", m.status)
        if m.delivered + quantity > m.quantity:
            raise Conflict(
                f"only {m.quantity - m.delivered} left to deliver",
                extra={"current_status": m.status},
            )
        delivered = m.delivered + quantity
        # Arrival proves dispatch even when nobody recorded it.
        arrived = await store.set_state(
            conn,
            m.model_copy(
                update={
                    "delivered": delivered,
                    "dispatched": max(m.dispatched, delivered),
                    "status": "delivered" if delivered == m.quantity else "in_transit",
                }
            ),
        )
        engine.emit(conn, [arrived], "match.delivered", who.actor)
    return arrived


async def release(
    conn: asyncpg.Connection, matches: list[Match], *, reason: str, actor: str
) -> list[Match]:
    """Give accepted allocations back to their need and item (the caller holds the
    locks, taken with `allocation.lock`)."""
    released = []
    for m in matches:
        await allocation.give_back(conn, m)
        status = next_state("release", m.status)
        released.append(
            await store.set_state(conn, m.model_copy(update={"status": status, "reason": reason}))
        )
    engine.emit(conn, released, "match.declined", actor)
    return released


@dataclass(frozen=True)
class Replanned:
    """What a decision's transaction planned for the room it freed, and what it had
    to leave: the needs and items other transactions held at that moment."""

    need_ids: list[str]
    item_ids: list[str]
    passed_over: frozenset[str]

    async def finish(self, pool: asyncpg.Pool, actor: str) -> None:
        """After commit, only if a candidate was passed over: plan again in a
        transaction of its own, which may wait for it (rare; a crash before it
        loses only those proposals, until the next change plans them)."""
        if not self.passed_over:
            return
        log.info("replan_after_commit", passed_over=len(self.passed_over))
        try:
            await rematch(pool=pool, need_ids=self.need_ids, item_ids=self.item_ids, actor=actor)
        except Exception:  # the decision is committed: its answer must not be an error
            log.exception("replan_after_commit_failed")


async def replan(
    conn: asyncpg.Connection, *, need_ids: list[str], item_ids: list[str], actor: str
) -> Replanned:
    """Plan what a decision freed inside the deciding transaction, which holds the
    decision's need and item. Planning locks candidate needs after those items, out
    of the lock order, so it passes over rows another transaction holds instead of
    waiting for them: it never waits while holding rows out of order, and so cannot
    deadlock. The decision and its proposals commit together."""
    passed_over: set[str] = set()
    await engine.plan(
        conn, item_ids=item_ids, need_ids=need_ids, actor=actor, passed_over=passed_over
    )
    return Replanned(list(need_ids), list(item_ids), frozenset(passed_over))


async def rematch(
    *, pool: asyncpg.Pool, need_ids: list[str], item_ids: list[str], actor: str
) -> list[Match]:
    """Plan what a decision freed: items' free units to needs, needs' gaps to items.

    Runs in its own transaction, holding nothing yet, so it may wait for every lock
    in order: after a decision, withdrawal or amendment whose `replan` passed a
    candidate over. Proposals are derived data, so losing this step to a
    crash loses nothing that the next change to the need or item will not plan again.
    """

    async def propose() -> list[Match]:
        async with transaction(pool) as conn:
            return await engine.plan(conn, item_ids=item_ids, need_ids=need_ids, actor=actor)

    return await retrying(propose)


async def get(*, conn: asyncpg.Connection, who: Principal, match_id: str) -> Match:
    authorize_kind(who, "match.read")
    m = await store.get(conn, match_id)
    if m is None or not visible(who, match_audience(m.offering_country, m.requesting_country)):
        raise NotFound(f"no match {match_id!r}")  # not visible: not even its existence
    return m


async def _found(conn: asyncpg.Connection, match_id: str) -> Match:
    m = await store.get(conn, match_id)
    if m is None:
        raise NotFound(f"no match {match_id!r}")
    return m


async def _lock_pair(conn: asyncpg.Connection, m: Match) -> Match:
    """The match's need, item and itself, locked in that order; the match re-read."""
    locked = await allocation.lock(
        conn, need_ids=[m.need_id], item_ids=[m.offer_item_id], match_ids=[m.id]
    )
    return locked.matches[m.id]


async def _lock_match(conn: asyncpg.Connection, m: Match) -> Match:
    """Dispatch and delivery move no counter: the match alone is locked."""
    return (await allocation.lock(conn, match_ids=[m.id])).matches[m.id]
