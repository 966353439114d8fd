"""Proposing matches as offers and needs arrive or change, and settling proposals
when allocations move. Runs inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from eadrcc.events import log as events
from eadrcc.ids import new_id
from eadrcc.matching import scoring
from eadrcc.matching.models import Match
from eadrcc.matching.store import match, q
from eadrcc.policy import match_audience

# Proposals per new item or need: enough choice for the officer, no flood of noise.
TOP_K = 10
# Candidates scored per item or need, pre-ranked in SQL by urgency (or availability).
SHORTLIST = 50


async def propose_for_items(
    conn: asyncpg.Connection, item_ids: list[str], actor: str
) -> list[Match]:
    proposed: list[Match] = []
    for item in await conn.fetch(q.item_for_matching, item_ids):
        needs = await conn.fetch(
            q.candidate_needs,
            item["resource_type"],
            item["emergency_id"],
            item["request_id"],
            SHORTLIST,
            await conn.fetchval(q.declined_needs, item["id"]),
        )
        pairs = [(need, item) for need in needs]
        proposed += await _propose(conn, item["emergency_id"], pairs, actor)
    return proposed


async def propose_for_needs(
    conn: asyncpg.Connection, need_ids: list[str], actor: str
) -> list[Match]:
    proposed: list[Match] = []
    for need in await conn.fetch(q.need_for_matching, need_ids):
        items = await conn.fetch(
            q.candidate_items,
            need["resource_type"],
            need["emergency_id"],
            need["request_id"],
            SHORTLIST,
            await conn.fetchval(q.declined_items, need["id"]),
        )
        pairs = [(need, item) for item in items]
        proposed += await _propose(conn, need["emergency_id"], pairs, actor)
    return proposed


async def _propose(
    conn: asyncpg.Connection,
    emergency_id: str,
    pairs: list[tuple[asyncpg.Record, asyncpg.Record]],
    actor: str,
) -> list[Match]:
    scored = sorted(
        ((scoring.score(_need_view(n), _item_view(i)), n, i) for n, i in pairs),
        key=lambda s: s[0].total,
        reverse=True,
    )[:TOP_K]
    written: list[Match] = []
    for s, need, item in scored:
        if s.quantity <= 0:
            continue
        row = await conn.fetchrow(
            q.upsert_proposal,
            new_id("mat"),
            emergency_id,
            need["id"],
            item["id"],
            item["offer_id"],
            need["request_id"],
            need["requesting_country"],
            item["offering_country"],
            item["resource_type"],
            s.quantity,
            s.total,
            s.parts,
            s.eta,
        )
        if row is not None:  # None: an identical proposal already stood
            written.append(match(row))
    await emit(conn, written, "match.proposed", actor)
    return written


async def settle(
    conn: asyncpg.Connection,
    *,
    need_ids: Iterable[str] = (),
    item_ids: Iterable[str] = (),
    actor: str,
    reason: str,
) -> list[Match]:
    """Supersede proposals that no longer have room; shrink the rest to fit."""
    rows = await conn.fetch(q.settle, list(need_ids), list(item_ids), reason)
    changed = [match(r) for r in rows]
    await emit(conn, [m for m in changed if m.status == "superseded"], "match.superseded", actor)
    await emit(conn, [m for m in changed if m.status == "proposed"], "match.proposed", actor)
    return changed


async def emit(conn: asyncpg.Connection, matches: list[Match], kind: str, actor: str) -> None:
    for m in matches:
        events.record(
            conn,
            kind=kind,
            actor=actor,
            emergency_id=m.emergency_id,
            visibility=match_audience(m.offering_country, m.requesting_country),
            data=m.model_dump(mode="json"),
        )


def _need_view(n: asyncpg.Record) -> scoring.NeedView:
    return scoring.NeedView(
        n["priority"], n["needed_by"], n["delivery_lat"], n["delivery_lon"], n["uncovered"]
    )


def _item_view(i: asyncpg.Record) -> scoring.ItemView:
    return scoring.ItemView(
        i["available_from"],
        i["origin_lat"],
        i["origin_lon"],
        i["unallocated"],
        tuple(i["credentials"]),
        i["self_sufficient"],
    )
