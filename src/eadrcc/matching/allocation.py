"""The one way quantities move between needs, offer items and matches.

Every transaction that allocates, releases or plans takes its row locks through
`lock`: needs, then offer items, then matches, each in id order. Two such
transactions therefore queue instead of deadlocking, and what a transaction read
under the locks stays true until it commits. The database has the last word: CHECK
constraints on both counters (allocated, and allocated + proposed) refuse any
over-allocation or over-proposal that slipped past (docs/architecture.md, promise 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import asyncpg

from eadrcc.matching.models import Match
from eadrcc.matching.store import match, q


@dataclass(frozen=True)
class Locked:
    needs: dict[str, asyncpg.Record]
    items: dict[str, asyncpg.Record]
    matches: dict[str, Match]


async def lock(
    conn: asyncpg.Connection,
    *,
    need_ids: Iterable[str] = (),
    item_ids: Iterable[str] = (),
    match_ids: Iterable[str] = (),
    other_sides: bool = False,
    skip_locked: bool = False,
) -> Locked:
    """Lock needs → items → matches. With `other_sides`, also the item of every
    standing proposal of these needs and the need of every standing proposal of
    these items: ending or shrinking those proposals moves that side's counter.

    With `skip_locked`, needs and items another transaction holds are left out of
    the answer instead of waited for. A transaction that already holds rows and
    locks more out of order (planning inside a decision) must use it: it then never
    waits while holding, so it can be in no cycle of waits."""
    needs, items = sorted(set(need_ids)), sorted(set(item_ids))
    locked: Locked = Locked(needs={}, items={}, matches={})
    if skip_locked:
        sides = {"need_ids": needs, "item_ids": items, "other_sides": other_sides}
        for r in await conn.fetch(*q.bind("lock_needs_skip", **sides)):
            locked.needs[r["id"]] = r
        for r in await conn.fetch(*q.bind("lock_items_skip", **sides)):
            locked.items[r["id"]] = r
    elif needs or items:  # both sides in one round trip, needs first (lock_sides)
        _sort(locked, await _lock_sides(conn, needs, items, other_sides, Plan((), (), 0, False)))
    if matches := sorted(set(match_ids)):
        for r in await conn.fetch(*q.bind("lock_matches", match_ids=matches)):
            locked.matches[r["id"]] = match(r)
    return locked


@dataclass(frozen=True)
class Plan:
    """What the planner looks for candidates for (lock_sides explains which)."""

    item_ids: Sequence[str]
    need_ids: Sequence[str]
    shortlist: int
    displacing: bool


async def find_and_lock(
    conn: asyncpg.Connection, plan: Plan
) -> tuple[list[asyncpg.Record], Locked]:
    """The planner's candidate pairs, and both sides of every pair locked as `lock`
    would (with `other_sides` when any candidate need is full), in one round trip."""
    rows = await _lock_sides(conn, (), (), False, plan)
    locked = Locked(needs={}, items={}, matches={})
    return _sort(locked, rows), locked


async def lock_ahead(
    conn: asyncpg.Connection, plan: Plan, *, need_ids: Sequence[str], displaced_from: Sequence[str]
) -> None:
    """Lock, in one round trip and in the lock order, what `find_and_lock(plan)` would,
    and `need_ids`, and `displaced_from` as if they were full candidates (with the
    items of their standing proposals, which a displacement moves)."""
    await _lock_sides(conn, need_ids, (), False, plan, displaced_from=displaced_from)


async def candidates(conn: asyncpg.Connection, plan: Plan) -> list[asyncpg.Record]:
    """The planner's candidate pairs, nothing locked (for `lock(skip_locked=True)`)."""
    return await _lock_sides(conn, (), (), False, plan, lock_found=False)


async def _lock_sides(
    conn: asyncpg.Connection,
    need_ids: Sequence[str],
    item_ids: Sequence[str],
    other_sides: bool,
    plan: Plan,
    *,
    lock_found: bool = True,
    displaced_from: Sequence[str] = (),
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        *q.bind(
            "lock_sides",
            need_ids=list(need_ids),
            item_ids=list(item_ids),
            other_sides=other_sides,
            plan_items=list(plan.item_ids),
            plan_needs=list(plan.need_ids),
            shortlist=plan.shortlist,
            displacing=plan.displacing,
            lock_found=lock_found,
            displaced_from=list(displaced_from),
        )
    )
    return rows


def _sort(locked: Locked, rows: list[asyncpg.Record]) -> list[asyncpg.Record]:
    """Locked rows into `locked` by side; the candidate rows are returned."""
    candidates = []
    for r in rows:
        if r["side"] == "need":
            locked.needs[r["id"]] = r
        elif r["side"] == "item":
            locked.items[r["id"]] = r
        else:
            candidates.append(r)
    return candidates


def need_room(need: asyncpg.Record) -> int:
    """What a need can still take by acceptance (proposals do not hold it back)."""
    return int(need["quantity"] - need["allocated"]) if need["status"] == "open" else 0


def item_room(item: asyncpg.Record) -> int:
    return int(item["quantity"] - item["allocated"]) if item["status"] == "open" else 0


def need_lacking(need: asyncpg.Record) -> int:
    """What a need still lacks once standing proposals are counted: room to propose."""
    return max(need_room(need) - int(need["proposed"]), 0)


def item_free(item: asyncpg.Record) -> int:
    """What an item has not yet promised to anyone: room to propose."""
    if item["possible_duplicate_of"] is not None:
        return 0
    return max(item_room(item) - int(item["proposed"]), 0)


async def fit(
    conn: asyncpg.Connection,
    *,
    need_ids: Iterable[str] = (),
    item_ids: Iterable[str] = (),
    reserve: int = 0,
    reason: str,
) -> list[Match]:
    """Shrink standing proposals of these needs and items to the room left (less
    `reserve`, which an allocation is about to take), lowest scores first; one left
    with nothing is superseded. The caller holds the locks (`other_sides=True`)."""
    needs = q.bind("fit_needs", need_ids=list(need_ids), reserve=reserve, reason=reason)
    items = q.bind("fit_items", item_ids=list(item_ids), reserve=reserve, reason=reason)
    changed = [match(r) for r in await conn.fetch(*needs)]
    changed += [match(r) for r in await conn.fetch(*items)]
    latest = {m.id: m for m in changed}  # a proposal fitted on both sides: its last state
    return list(latest.values())


async def allocate(conn: asyncpg.Connection, m: Match, quantity: int) -> None:
    await conn.fetchval(
        *q.bind("allocate", need_id=m.need_id, offer_item_id=m.offer_item_id, quantity=quantity)
    )


async def give_back(conn: asyncpg.Connection, m: Match) -> None:
    """The inverse of allocate: an accepted allocation returned to need and item."""
    await conn.fetchval(
        *q.bind("release", need_id=m.need_id, offer_item_id=m.offer_item_id, quantity=m.quantity)
    )
