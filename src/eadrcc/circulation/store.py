"""Circulation's SQL: one async function per query, each taking a connection (named
parameters: sql/queries/circulation.sql writes `:name`, and each call passes them by name)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from eadrcc.db import queries

q = queries("circulation")
Row = dict[str, Any]


async def lock_emergency(conn: asyncpg.Connection, emergency_id: str) -> Row | None:
    """The emergency with its distribution and the database's clock, locked for circulation."""
    row = await conn.fetchrow(*q.bind("lock_emergency", emergency_id=emergency_id))
    return dict(row) if row else None


async def distribution(conn: asyncpg.Connection, emergency_id: str) -> Row | None:
    row = await conn.fetchrow(*q.bind("distribution", emergency_id=emergency_id))
    return dict(row) if row else None


async def set_distribution(
    conn: asyncpg.Connection, emergency_id: str, countries: list[str], actor: str
) -> Row:
    saved = q.bind("set_distribution", emergency_id=emergency_id, countries=countries, actor=actor)
    return dict(await conn.fetchrow(*saved))


async def open_requests(conn: asyncpg.Connection, emergency_id: str) -> list[Row]:
    rows = await conn.fetch(*q.bind("open_requests", emergency_id=emergency_id))
    return [dict(r) for r in rows]


async def request_needs(conn: asyncpg.Connection, request_id: str) -> Row | None:
    row = await conn.fetchrow(*q.bind("request_needs", request_id=request_id))
    return dict(row) if row else None


async def lock_rows(
    conn: asyncpg.Connection, emergency_id: str, countries: Sequence[str]
) -> dict[str, Row]:
    rows = await conn.fetch(
        *q.bind("lock_rows", emergency_id=emergency_id, countries=list(countries))
    )
    return {r["country"]: dict(r) for r in rows}


async def lock_pairs(
    conn: asyncpg.Connection, pairs: Sequence[tuple[str, str]], *, count_offers: bool = True
) -> list[Row]:
    """The rows of these pairs, locked; without `count_offers`, their `offers` is None."""
    ordered = sorted(set(pairs))
    rows = await conn.fetch(
        *q.bind(
            "lock_pairs",
            emergency_ids=[p[0] for p in ordered],
            countries=[p[1] for p in ordered],
            count_offers=count_offers,
        )
    )
    return [dict(r) for r in rows]


async def write_rows(conn: asyncpg.Connection, rows: Sequence[Row]) -> list[Row]:
    """Write whole rows in one statement (their history too); answer them as stored."""
    if not rows:
        return []
    return [dict(r) for r in await conn.fetch(*q.bind("write_rows", rows=list(rows)))]


async def matrix(
    conn: asyncpg.Connection, emergency_id: str, country: str | None = None
) -> list[Row]:
    rows = await conn.fetch(*q.bind("matrix", emergency_id=emergency_id, country=country))
    return [dict(r) for r in rows]


async def open_offers(conn: asyncpg.Connection, emergency_id: str, country: str) -> int:
    count: int = await conn.fetchval(
        *q.bind("open_offers", emergency_id=emergency_id, country=country)
    )
    return count


async def due(
    conn: asyncpg.Connection, what: str, *, silent_seconds: float, limit: int
) -> list[Row]:
    """Unanswered rows silent for that long whose reminder (or overdue report) is not sent."""
    query = "due_reminders" if what == "reminder" else "due_escalations"
    rows = await conn.fetch(*q.bind(query, silent_seconds=silent_seconds, limit=limit))
    return [dict(r) for r in rows]
