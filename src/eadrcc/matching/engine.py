"""Planning proposals as offers and needs arrive or change. Runs inside the
caller's transaction; every path that frees room calls `plan` for what it freed.

Incremental and stable: a new item or need, or room freed by a decision, is
proposed greedily by score among the candidates that still lack or have something
free. A standing proposal moves only for a clear gain: an item with units left
over may take them from the weakest standing proposal of a fully proposed need
when it scores at least CLEAR_GAIN points more (the item that gave way is planned
again, without displacing in turn). Otherwise only acceptance elsewhere, a
withdrawal or an amendment shrinks or ends a proposal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from eadrcc import db, jsontext
from eadrcc.events import log as events
from eadrcc.ids import new_id
from eadrcc.matching import allocation, scoring
from eadrcc.matching.allocation import Locked
from eadrcc.matching.models import Match
from eadrcc.matching.plan import Choice, Pair, Standing, choose, displace
from eadrcc.matching.store import match, q
from eadrcc.offers.models import Offer, OfferItem
from eadrcc.policy import match_audience

# Candidates scored per item or need, pre-ranked in SQL by urgency (or availability).
SHORTLIST = 50
# A standing proposal gives way only to a pair that scores this many points (of 100)
# more: a clear gain, not a reshuffle for a marginal one.
CLEAR_GAIN = 10.0


async def plan(
    conn: asyncpg.Connection,
    *,
    item_ids: Iterable[str] = (),
    need_ids: Iterable[str] = (),
    actor: str,
    displacing: bool = True,
    passed_over: set[str] | None = None,
) -> list[Match]:
    """Propose what these items have free and what these needs still lack; with
    `displacing`, an item may also take units from a clearly weaker standing proposal
    (CLEAR_GAIN) on a need that has nothing left to propose.

    With `passed_over` (a set to fill), the caller already holds locks out of the
    planning order (a decision's need and item): candidates another transaction
    holds are passed over rather than waited for, and their ids added to the set.
    (A new offer's items are planned by `plan_new_offer` first.)
    """
    item_ids, need_ids = list(item_ids), list(need_ids)
    if not item_ids and not need_ids:
        return []
    wanted = allocation.Plan(item_ids, need_ids, SHORTLIST, displacing)
    if passed_over is None:
        # The candidates and their locks in one round trip; room is judged under the
        # locks (in _propose), not as the candidate search saw it.
        rows, locked = await allocation.find_and_lock(conn, wanted)
        found = _found(rows)
        if not found.full and not found.lacking:
            return []
    else:
        found = _found(await allocation.candidates(conn, wanted))
        pairs = {**found.full, **found.lacking}
        if not pairs:
            return []
        wanted_needs, wanted_items = {n for n, _ in pairs}, {i for _, i in pairs}
        locked = await allocation.lock(
            conn,
            need_ids=wanted_needs,
            item_ids=wanted_items,
            other_sides=bool(found.full),  # displaced proposals move their items' counters
            skip_locked=True,
        )
        # a pair missing a side is not proposed (_pairs)
        passed_over.update(wanted_needs - locked.needs.keys(), wanted_items - locked.items.keys())
    written, displaced = await _propose(conn, locked, found, actor)
    if displaced:  # the items that gave way: planned again, without displacing in turn
        # This transaction now holds items and matches: their candidate needs come out
        # of the lock order, so held ones are passed over, never waited for. Off a
        # decision, what is passed over is dropped: proposals are derived, and the
        # next change to that need plans it again.
        held = passed_over if passed_over is not None else set()
        written += await plan(
            conn, item_ids=displaced, actor=actor, displacing=False, passed_over=held
        )
    return written


# A new item's candidate search: the emergency, the request its offer is bound to
# (or None), and the item's type.
Group = tuple[str, str | None, str]


@dataclass
class NewItemCandidates:
    """What new_item_candidates read for some groups: each group's candidate needs
    (rows as they stood, unlocked), and the groups where some need they could fill
    is fully proposed (planning those may displace: under locks, `plan`)."""

    needs: dict[Group, list[asyncpg.Record]] = field(default_factory=dict)
    full: set[Group] = field(default_factory=set)


def new_item_groups(offer: Offer) -> list[Group]:
    """The candidate searches an offer's items with something free need (each type
    once)."""
    rows = (_new_item_row(offer, i) for i in offer.items)
    types = sorted({r["resource_type"] for r in rows if allocation.item_free(r) > 0})
    return [(offer.emergency_id, offer.request_id, t) for t in types]


async def read_new_item_candidates(
    conn: asyncpg.Connection, groups: Iterable[Group]
) -> NewItemCandidates:
    """The candidates of these groups, in one round trip (any number of offers)."""
    groups = sorted(set(groups), key=lambda g: (g[0], g[1] or "", g[2]))
    read = NewItemCandidates()
    if not groups:
        return read
    rows = await conn.fetch(
        *q.bind(
            "new_item_candidates",
            emergency_ids=[g[0] for g in groups],
            request_ids=[g[1] for g in groups],
            types=[g[2] for g in groups],
            shortlist=SHORTLIST,
        )
    )
    for r in rows:
        group = groups[r["grp"] - 1]
        found = read.needs.setdefault(group, [])
        if r["any_full"]:
            read.full.add(group)
        if r["id"]:
            found.append(r)
    return read


async def plan_new_offer(
    conn: asyncpg.Connection, offer: Offer, *, actor: str, written_at: datetime
) -> list[Match] | None:
    """`plan` for an offer this transaction created (nobody else sees its items),
    made on needs read without a lock and written with the COMMIT, if it still holds
    then (write_planned_proposals, migration 0015; if not, the transaction fails
    with a serialization error and should be run again with `plan`). `written_at`
    is this transaction's timestamp. None: some candidate need is fully proposed, so
    a displacement may move other proposals; plan under locks (`plan`) instead."""
    read = await read_new_item_candidates(conn, new_item_groups(offer))
    if read.full:
        return None
    return plan_on_commit(conn, offer, read, {}, actor=actor, written_at=written_at)


def plan_on_commit(
    conn: asyncpg.Connection,
    offer: Offer,
    read: NewItemCandidates,
    lacking: dict[str, int],
    *,
    actor: str,
    written_at: datetime,
) -> list[Match]:
    """Plan a new offer on candidates already read (none of its groups full), its
    proposals queued for the COMMIT. `lacking` (need id → units still to propose)
    carries what earlier offers of the same transaction planned: filled in from the
    rows read for needs it does not hold yet, and lowered by what is proposed here."""
    items = {i.id: _new_item_row(offer, i) for i in offer.items}
    needs: dict[str, asyncpg.Record] = {}
    found = Candidates()
    for item_id, item in items.items():
        if allocation.item_free(item) <= 0:
            continue
        group = (offer.emergency_id, offer.request_id, item["resource_type"])
        for r in read.needs.get(group, ()):
            needs[r["id"]] = r
            found.lacking[(r["id"], item_id)] = r["how"] == "substitute"
    for need_id, need in needs.items():
        lacking.setdefault(need_id, allocation.need_lacking(need))
    view = Locked(needs=needs, items=items, matches={})
    return _propose_on_commit(conn, view, found, lacking, actor, written_at)


def may_displace(
    offer: Offer, read: NewItemCandidates, full: set[str], proposals: list[Match]
) -> bool:
    """After `plan_on_commit`: has one of the offer's items units left free that a
    need among its candidates could take, were it not fully proposed (`full`: the
    needs the transaction's earlier plans left with nothing lacking)? Planned alone,
    after those, the offer would have been planned under locks, displacing (`plan`)."""
    promised: dict[str, int] = {}
    for m in proposals:
        promised[m.offer_item_id] = promised.get(m.offer_item_id, 0) + m.quantity
    for item in offer.items:
        if allocation.item_free(_new_item_row(offer, item)) <= promised.get(item.id, 0):
            continue
        for need in read.needs.get((offer.emergency_id, offer.request_id, item.resource_type), ()):
            if need["id"] in full and need["allocated"] < need["quantity"]:
                return True
    return False


def _new_item_row(offer: Offer, item: OfferItem) -> dict[str, Any]:
    """A new item as lock_sides answers item rows (nothing proposed yet)."""
    return {
        "id": item.id,
        "resource_type": item.resource_type,
        "quantity": item.quantity,
        "allocated": item.allocated,
        "proposed": 0,
        "status": item.status,
        "possible_duplicate_of": item.possible_duplicate_of,
        "available_from": item.available_from,
        "self_sufficient": item.self_sufficient,
        "credentials": item.credentials,
        "origin_lat": item.origin.lat if item.origin else None,
        "origin_lon": item.origin.lon if item.origin else None,
        "offer_id": offer.id,
        "emergency_id": offer.emergency_id,
        "offering_country": offer.offering_country,
        "request_id": offer.request_id,
    }


@dataclass
class Candidates:
    # (need id, item id) → whether the item is only a substitute for the need's type
    lacking: dict[tuple[str, str], bool] = field(default_factory=dict)
    full: dict[tuple[str, str], bool] = field(default_factory=dict)


def _found(rows: list[asyncpg.Record]) -> Candidates:
    found = Candidates()
    for r in rows:  # candidate rows: `id` is the need's
        side = found.full if r["is_full"] else found.lacking
        side[(r["id"], r["item_id"])] = r["how"] == "substitute"
    return found


async def _propose(
    conn: asyncpg.Connection, locked: Locked, found: Candidates, actor: str
) -> tuple[list[Match], list[str]]:
    # Room as it stands under the locks, not as the candidate queries saw it.
    lacking = {k: allocation.need_lacking(r) for k, r in locked.needs.items()}
    free = {k: allocation.item_free(r) for k, r in locked.items.items()}
    chosen = choose(_pairs(locked, found.lacking, lacking, free), lacking, free)
    for c in chosen:
        free[c.item_id] -= c.quantity
    displaced: list[Match] = []
    if found.full and any(free.get(i, 0) > 0 for _, i in found.full):
        room = {k: allocation.need_room(r) for k, r in locked.needs.items()}
        full = _pairs(locked, found.full, room, free)
        displaced, freed = await _give_way(conn, locked, full, free)
        chosen += choose(full, freed, free)
    emit_fitted(conn, displaced, actor)
    written: list[Match] = []
    if chosen:
        rows = await conn.fetch(*q.bind("write_proposals", **_columns(locked, chosen)))
        written = [match(r) for r in rows]
        emit(conn, written, "match.proposed", actor)
    return written, sorted({m.offer_item_id for m in displaced})


def _propose_on_commit(
    conn: asyncpg.Connection,
    read: Locked,
    found: Candidates,
    lacking: dict[str, int],
    actor: str,
    at: datetime,
) -> list[Match]:
    """`_propose` for needs read without a lock and no displacement: the chosen
    proposals are queued for the COMMIT with what the plan read of their needs
    (`lacking`: what is still to propose, after this transaction's earlier plans)."""
    free = {k: allocation.item_free(r) for k, r in read.items.items()}
    chosen = choose(_pairs(read, found.lacking, lacking, free), lacking, free)
    queued = db.with_commit(conn, _planned_sql).setdefault("planned", []) if chosen else []
    written = []
    for c in chosen:
        row, need = _proposal(read, c), read.needs[c.need_id]
        lacking[c.need_id] -= c.quantity
        # What the plan read of the need, before anything of this transaction was
        # proposed to it: write_planned_proposals checks it still holds, for the sum
        # of the transaction's proposals.
        seen = {"lacking": allocation.need_lacking(need), "version": need["version"]}
        queued.append({**row, **seen, "allocated": need["allocated"]})
        unmoved = {"dispatched": 0, "delivered": 0, "reason": None}
        times = {"created_at": at, "updated_at": at}  # the transaction's now()
        written.append(Match.model_validate({**row, "status": "proposed", **unmoved, **times}))
    emit(conn, written, "match.proposed", actor)
    return written


async def lock_ahead(conn: asyncpg.Connection, *, item_ids: Iterable[str]) -> None:
    """Before `write_planned` and then `plan` of these items in the same transaction:
    take first, in the lock order, the needs the queued proposals write, and what the
    plan will lock once they are written (those they fill count as full).

    Written first, the proposals would hold their needs while the plan waits for
    rows earlier in the order: a cycle with a transaction that holds those and then
    asks for these in order. Locked ahead, this transaction waits holding nothing
    another asks for, and the plan then waits only for rows that came into being
    since (newer ids come later in the order) or that a change it made itself
    brought in."""
    planned = db.with_commit(conn, _planned_sql).get("planned") or []
    if not planned:
        return  # nothing will be written first: the plan waits in order
    proposed: dict[str, int] = {}
    lacking: dict[str, int] = {}
    for p in planned:
        proposed[p["need_id"]] = proposed.get(p["need_id"], 0) + p["quantity"]
        lacking[p["need_id"]] = p["lacking"]
    filled = sorted(n for n, q in proposed.items() if q >= lacking[n])
    wanted = allocation.Plan(list(item_ids), (), SHORTLIST, True)
    await allocation.lock_ahead(conn, wanted, need_ids=sorted(proposed), displaced_from=filled)


async def write_planned(conn: asyncpg.Connection) -> None:
    """Write the proposals queued for the COMMIT now, with their check (a plan that no
    longer holds fails the transaction here), so that what this transaction plans
    next, under locks (`plan`), sees them."""
    state = db.with_commit(conn, _planned_sql)
    if sql := _planned_sql(state):
        await conn.execute(sql)
        state["planned"] = []


def _planned_sql(state: dict[str, Any]) -> str | None:
    planned = state.get("planned")
    if not planned:
        return None
    rows = jsontext.dumps(planned)
    return f"SELECT write_planned_proposals({db.literal(rows)}::jsonb)"


def _pairs(
    locked: Locked, pairs: dict[tuple[str, str], bool], room: dict[str, int], free: dict[str, int]
) -> list[Pair]:
    return [
        Pair(_score(locked, n, i, free[i]), n, i, substitute)
        for (n, i), substitute in pairs.items()
        if room.get(n, 0) > 0 and free.get(i, 0) > 0
    ]


async def _give_way(
    conn: asyncpg.Connection, locked: Locked, full: list[Pair], free: dict[str, int]
) -> tuple[list[Match], dict[str, int]]:
    """Shrink or supersede standing proposals that clearly better pairs displace;
    returns them and, per need, the units they freed."""
    rows = await conn.fetch(
        *q.bind("standing_proposals", need_ids=sorted({p.need_id for p in full}))
    )
    standing = [
        Standing(r["id"], r["need_id"], r["offer_item_id"], r["quantity"], r["score"])
        for r in rows
        if r["offer_item_id"] in locked.items  # locked as an other side: safe to change
    ]
    given = displace(full, standing, free, CLEAR_GAIN)
    if not given:
        return [], {}
    quantity = {st.match_id: st.quantity for st in standing}
    ids = sorted(given)
    keep = [quantity[i] - given[i] for i in ids]
    changed = await conn.fetch(
        *q.bind("give_way", ids=ids, keep=keep, reason="displaced by a clearly better offer")
    )
    freed: dict[str, int] = {}
    for st in standing:
        freed[st.need_id] = freed.get(st.need_id, 0) + given.get(st.match_id, 0)
    return [match(r) for r in changed], freed


def _proposal(locked: Locked, c: Choice) -> dict[str, Any]:
    """A chosen pair as the columns of its new row in matches."""
    need, item = locked.needs[c.need_id], locked.items[c.item_id]
    return {
        "id": new_id("mat"),
        "emergency_id": need["emergency_id"],
        "need_id": c.need_id,
        "offer_item_id": c.item_id,
        "offer_id": item["offer_id"],
        "request_id": need["request_id"],
        "requesting_country": need["requesting_country"],
        "offering_country": item["offering_country"],
        "resource_type": item["resource_type"],
        "quantity": c.quantity,
        "score": c.score.total,
        "score_parts": c.score.parts,
        "eta": c.score.eta,
    }


def _columns(locked: Locked, chosen: list[Choice]) -> dict[str, list[Any]]:
    """write_proposals' arrays, one value per chosen pair in each (named as the
    columns they fill)."""
    rows = [_proposal(locked, c) for c in chosen]
    for row in rows:
        row["score_parts"] = json.dumps(row["score_parts"])
    return {column: [row[column] for row in rows] for column in rows[0]}


def emit(conn: asyncpg.Connection, matches: list[Match], kind: str, actor: str) -> None:
    for m in matches:
        events.record(
            conn,
            kind=kind,
            actor=actor,
            emergency_id=m.emergency_id,
            visibility=match_audience(m.offering_country, m.requesting_country),
            data=m.model_dump(mode="json"),
        )


def emit_fitted(conn: asyncpg.Connection, changed: list[Match], actor: str) -> None:
    """Proposals that `allocation.fit` ended (superseded) or shrank (proposed)."""
    emit(conn, [m for m in changed if m.status == "superseded"], "match.superseded", actor)
    emit(conn, [m for m in changed if m.status == "proposed"], "match.proposed", actor)


def _score(locked: Locked, need_id: str, item_id: str, free: int) -> scoring.Score:
    # Quantity fit is judged against what the need still lacks by acceptance, so
    # proposals to one need score alike whatever stood proposed when each was made.
    need, item = locked.needs[need_id], locked.items[item_id]
    return scoring.score(_need_view(need, allocation.need_room(need)), _item_view(item, free))


def _need_view(n: asyncpg.Record, lacking: int) -> scoring.NeedView:
    return scoring.NeedView(
        n["priority"], n["needed_by"], n["delivery_lat"], n["delivery_lon"], lacking
    )


def _item_view(i: asyncpg.Record, free: int) -> scoring.ItemView:
    return scoring.ItemView(
        i["available_from"],
        i["origin_lat"],
        i["origin_lon"],
        free,
        tuple(i["credentials"]),
        i["self_sufficient"],
    )
