"""Acceptance, decline, dispatch and delivery of matches.

Every allocating transaction locks in one order — the need, then the offer item,
then the match — so concurrent accepts queue instead of deadlocking, and the
CHECK constraints on both counters stop any over-allocation that slipped past.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import structlog

from eadrcc.auth import Principal
from eadrcc.db import retrying, transaction
from eadrcc.errors import Conflict, NotFound
from eadrcc.matching import engine, store
from eadrcc.matching.models import Match
from eadrcc.matching.store import q
from eadrcc.matching.transitions import next_state
from eadrcc.policy import authorize, authorize_kind, match_audience, visible

log = structlog.get_logger(__name__)
OVER_ALLOCATION = {
    "need_not_over_allocated": "the need",
    "offer_item_not_over_allocated": "the offered item",
}


async def accept(
    *, pool: asyncpg.Pool, who: Principal, match_id: str, quantity: int | None
) -> Match:
    accepted = await retrying(lambda: _accept(pool, who, match_id, quantity))
    log.info("match_accepted", match_id=match_id, quantity=accepted.quantity)
    await rematch(
        pool=pool, need_ids=[accepted.need_id], item_ids=[accepted.offer_item_id], actor=who.actor
    )
    return accepted


async def _accept(pool: asyncpg.Pool, who: Principal, match_id: str, quantity: int | None) -> Match:
    try:
        async with transaction(pool) as conn:
            m = await _found(conn, match_id)
            authorize(who, "match.decide", [m.requesting_country])
            need = await conn.fetchrow(q.lock_need, m.need_id)
            item = await conn.fetchrow(q.lock_item, m.offer_item_id)
            m = await _found(conn, match_id, lock=True)
            status = next_state("accept", m.status)
            take = quantity or m.quantity
            _check_room(take, need, item)
            await conn.fetchval(q.allocate, m.need_id, m.offer_item_id, take)
            accepted = await store.set_state(
                conn, m.model_copy(update={"status": status, "quantity": take})
            )
            await engine.emit(conn, [accepted], "match.accepted", who.actor)
            await engine.settle(
                conn,
                need_ids=[m.need_id],
                item_ids=[m.offer_item_id],
                actor=who.actor,
                reason="filled by another offer",
            )
            return accepted
    except asyncpg.CheckViolationError as exc:
        what = OVER_ALLOCATION.get(exc.constraint_name or "")
        if what is None:
            raise
        raise Conflict(f"accepting would allocate more than {what} has") from None


def _check_room(take: int, need: asyncpg.Record, item: asyncpg.Record) -> None:
    need_room = need["quantity"] - need["allocated"] if need["status"] == "open" else 0
    item_room = item["quantity"] - item["allocated"] if item["status"] == "open" else 0
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
    async with transaction(pool) as conn:
        m = await _found(conn, match_id)
        authorize(who, "match.decide", [m.requesting_country])
        m = await _found(conn, match_id, lock=True)
        declined = await store.set_state(
            conn, m.model_copy(update={"status": next_state("decline", m.status), "reason": reason})
        )
        await engine.emit(conn, [declined], "match.declined", who.actor)
    return declined


async def dispatch(
    *, pool: asyncpg.Pool, who: Principal, match_id: str, quantity: int, eta: datetime | None
) -> Match:
    async with transaction(pool) as conn:
        m = await _found(conn, match_id)
        authorize(who, "match.dispatch", [m.offering_country])
        m = await _found(conn, match_id, lock=True)
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
        await engine.emit(conn, [moved], "match.dispatched", who.actor)
    return moved


async def deliver(*, pool: asyncpg.Pool, who: Principal, match_id: str, quantity: int) -> Match:
    async with transaction(pool) as conn:
        m = await _found(conn, match_id)
        authorize(who, "match.deliver", [m.offering_country, m.requesting_country])
        m = await _found(conn, match_id, lock=True)
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
        await engine.emit(conn, [arrived], "match.delivered", who.actor)
    return arrived


async def release(
    conn: asyncpg.Connection, matches: list[Match], *, reason: str, actor: str
) -> list[Match]:
    """Give accepted allocations back to their need and item (caller holds the locks)."""
    released = []
    for m in matches:
        await conn.fetchval(q.release, m.need_id, m.offer_item_id, m.quantity)
        status = next_state("release", m.status)
        released.append(
            await store.set_state(conn, m.model_copy(update={"status": status, "reason": reason}))
        )
    await engine.emit(conn, released, "match.declined", actor)
    return released


async def rematch(
    *, pool: asyncpg.Pool, need_ids: list[str], item_ids: list[str], actor: str
) -> list[Match]:
    """Offer freed quantities to other needs (and needs to other offers).

    Runs in its own transaction after the allocating one: proposing takes share
    locks on other needs, which must not be held while this one holds its own.
    Proposals are derived data, so losing this step to a crash loses nothing that
    the next change to the need or item will not propose again.
    """

    async def propose() -> list[Match]:
        async with transaction(pool) as conn:
            return [
                *await engine.propose_for_items(conn, item_ids, actor),
                *await engine.propose_for_needs(conn, need_ids, actor),
            ]

    return await retrying(propose)


async def get(*, conn: asyncpg.Connection, who: Principal, match_id: str) -> Match:
    authorize_kind(who, "match.read")
    m = await store.get(conn, match_id)
    if m is None or not visible(who, match_audience(m.offering_country, m.requesting_country)):
        raise NotFound(f"no match {match_id!r}")  # not visible: not even its existence
    return m


async def _found(conn: asyncpg.Connection, match_id: str, *, lock: bool = False) -> Match:
    m = await store.get(conn, match_id, lock=lock)
    if m is None:
        raise NotFound(f"no match {match_id!r}")
    return m
