"""Matching queries; each takes a connection and runs one statement."""

from __future__ import annotations

from typing import Any

import asyncpg

from eadrcc.db import queries
from eadrcc.matching.models import Match
from eadrcc.matching.taxonomy import Taxonomy

q = queries("matching")


def match(row: asyncpg.Record) -> Match:
    return Match.model_validate(dict(row))


async def load_taxonomy(conn: asyncpg.Connection, taxonomy: Taxonomy) -> None:
    for position, t in enumerate(taxonomy.types.values()):
        await conn.execute(
            q.upsert_type,
            t.code,
            t.name,
            t.unit,
            t.parent,
            list(t.substitutes),
            t.description,
            t.source,
            position,
        )
    fills = taxonomy.fills()
    await conn.execute(q.clear_fills)
    await conn.execute(
        q.insert_fills, [o for o, _ in fills], [n for _, n in fills], list(fills.values())
    )
    for c in taxonomy.credentials.values():
        await conn.execute(q.upsert_credential, c.code, c.name, list(c.applies_to), c.programme)


async def list_types(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(q.list_types)]


async def type_units(conn: asyncpg.Connection, codes: list[str]) -> dict[str, str]:
    return {r["code"]: r["unit"] for r in await conn.fetch(q.type_units, codes)}


async def credentials(conn: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    return {r["code"]: r for r in await conn.fetch(q.list_credentials)}


async def get(conn: asyncpg.Connection, match_id: str) -> Match | None:
    row = await conn.fetchrow(q.get_match, match_id)
    return match(row) if row else None


async def set_state(conn: asyncpg.Connection, m: Match) -> Match:
    return match(
        await conn.fetchrow(
            q.set_match, m.id, m.status, m.quantity, m.dispatched, m.delivered, m.eta, m.reason
        )
    )


async def emergency_matches(
    conn: asyncpg.Connection, emergency_id: str, *, status: str | None, audience: list[str] | None
) -> list[Match]:
    """The emergency's matches whose audience (policy.match_audience) meets `audience`."""
    rows = await conn.fetch(q.emergency_matches, emergency_id, status, audience)
    return [match(r) for r in rows]
