from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from eadrcc.db import queries
from eadrcc.requests.models import DuplicatePair, Need, Request, picture

q = queries("requests")
ALLOCATED = ("accepted", "in_transit", "delivered")


async def insert_request(conn: asyncpg.Connection, **f: Any) -> None:
    await conn.execute(
        q.insert_request,
        f["id"],
        f["emergency_id"],
        f["requesting_country"],
        f["reference"],
        f["notes"],
        f["actor"],
    )


async def insert_needs(conn: asyncpg.Connection, rows: list[dict[str, Any]], actor: str) -> None:
    cols = [
        "id",
        "request_id",
        "emergency_id",
        "resource_type",
        "quantity",
        "priority",
        "needed_by",
        "delivery_lat",
        "delivery_lon",
        "delivery_place",
    ]
    await conn.execute(q.insert_needs, *([r[c] for r in rows] for c in cols))
    await conn.execute(q.insert_need_history, [r["id"] for r in rows], actor)


async def get_request(conn: asyncpg.Connection, request_id: str) -> Request | None:
    row = await conn.fetchrow(q.get_request, request_id)
    if row is None:
        return None
    needs = await pictures(conn, request_ids=[request_id])
    return Request.model_validate({**dict(row), "needs": needs})


async def emergency_requests(conn: asyncpg.Connection, emergency_id: str) -> list[Request]:
    rows = await conn.fetch(q.emergency_requests, emergency_id)
    needs = await pictures(conn, request_ids=[r["id"] for r in rows])
    return [
        Request.model_validate({**dict(r), "needs": [n for n in needs if n.request_id == r["id"]]})
        for r in rows
    ]


async def pictures(
    conn: asyncpg.Connection,
    *,
    request_ids: Sequence[str] = (),
    need_ids: Sequence[str] = (),
    now: datetime | None = None,
) -> list[Need]:
    rows = await conn.fetch(q.pictures, list(request_ids), list(need_ids), list(ALLOCATED))
    at = now or datetime.now(UTC)
    needs = [picture(r, at) for r in rows]
    pairs: dict[str, list[DuplicatePair]] = defaultdict(list)
    for r in await conn.fetch(q.duplicate_pairs, [n.id for n in needs]):
        pairs[r["need_id"]].append(DuplicatePair.model_validate(dict(r)))
    return [
        n.model_copy(update={"duplicates": pairs[n.id], "duplicated": bool(pairs[n.id])})
        if pairs.get(n.id)
        else n
        for n in needs
    ]


async def alternatives(
    conn: asyncpg.Connection, need_ids: Sequence[str], shortlist: int
) -> list[asyncpg.Record]:
    return list(await conn.fetch(q.alternatives, list(need_ids), shortlist))


async def lock_need(
    conn: asyncpg.Connection, request_id: str, need_id: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(q.lock_need, need_id, request_id)


async def update_need(conn: asyncpg.Connection, need_id: str, actor: str, **f: Any) -> None:
    await conn.execute(
        q.update_need, need_id, f["quantity"], f["priority"], f["needed_by"], f["status"]
    )
    await conn.execute(q.insert_need_history, [need_id], actor)


async def emergency_of(conn: asyncpg.Connection, request_id: str) -> str | None:
    value: str | None = await conn.fetchval(q.request_emergency, request_id)
    return value
