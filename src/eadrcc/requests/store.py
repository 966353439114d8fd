"""RFA queries; each takes a connection and runs one statement (named parameters:
sql/queries/requests.sql writes `:name`, and each call passes them by name)."""

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


async def insert_request(
    conn: asyncpg.Connection,
    *,
    id: str,
    emergency_id: str,
    requesting_country: str,
    reference: str | None,
    notes: str | None,
    actor: str,
) -> None:
    await conn.execute(
        *q.bind(
            "insert_request",
            id=id,
            emergency_id=emergency_id,
            requesting_country=requesting_country,
            reference=reference,
            notes=notes,
            created_by=actor,
        )
    )


async def insert_needs(conn: asyncpg.Connection, rows: list[dict[str, Any]], actor: str) -> None:
    """`rows`: one dict per need, keyed by the insert's parameters (its columns)."""
    columns = {name: [r[name] for r in rows] for name in q.params("insert_needs")}
    await conn.execute(*q.bind("insert_needs", **columns))
    await conn.execute(
        *q.bind("insert_need_history", need_ids=[r["id"] for r in rows], changed_by=actor)
    )


async def get_request(conn: asyncpg.Connection, request_id: str) -> Request | None:
    row = await conn.fetchrow(*q.bind("get_request", id=request_id))
    if row is None:
        return None
    needs = await pictures(conn, request_ids=[request_id])
    return Request.model_validate({**dict(row), "needs": needs})


async def emergency_requests(conn: asyncpg.Connection, emergency_id: str) -> list[Request]:
    rows = await conn.fetch(*q.bind("emergency_requests", emergency_id=emergency_id))
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
    rows = await conn.fetch(
        *q.bind(
            "pictures",
            request_ids=list(request_ids),
            need_ids=list(need_ids),
            allocated=list(ALLOCATED),
        )
    )
    at = now or datetime.now(UTC)
    needs = [picture(r, at) for r in rows]
    pairs: dict[str, list[DuplicatePair]] = defaultdict(list)
    for r in await conn.fetch(*q.bind("duplicate_pairs", need_ids=[n.id for n in needs])):
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
    return list(
        await conn.fetch(*q.bind("alternatives", need_ids=list(need_ids), shortlist=shortlist))
    )


async def lock_need(
    conn: asyncpg.Connection, request_id: str, need_id: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(*q.bind("lock_need", need_id=need_id, request_id=request_id))


async def update_need(
    conn: asyncpg.Connection,
    need_id: str,
    actor: str,
    *,
    quantity: int,
    priority: str,
    needed_by: datetime | None,
    status: str,
) -> None:
    await conn.execute(
        *q.bind(
            "update_need",
            id=need_id,
            quantity=quantity,
            priority=priority,
            needed_by=needed_by,
            status=status,
        )
    )
    await conn.execute(*q.bind("insert_need_history", need_ids=[need_id], changed_by=actor))


async def emergency_of(conn: asyncpg.Connection, request_id: str) -> str | None:
    value: str | None = await conn.fetchval(*q.bind("request_emergency", id=request_id))
    return value
