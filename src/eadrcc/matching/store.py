"""Matching queries; each takes a connection and runs one statement (named parameters:
sql/queries/matching.sql writes `:name`, and each call passes them by name)."""

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
            *q.bind(
                "upsert_type",
                code=t.code,
                name=t.name,
                unit=t.unit,
                parent=t.parent,
                substitutes=list(t.substitutes),
                description=t.description,
                source=t.source,
                position=position,
            )
        )
    fills = taxonomy.fills()
    await conn.execute(q.clear_fills)
    await conn.execute(
        *q.bind(
            "insert_fills",
            offer_type=[o for o, _ in fills],
            need_type=[n for _, n in fills],
            how=list(fills.values()),
        )
    )
    for c in taxonomy.credentials.values():
        await conn.execute(
            *q.bind(
                "upsert_credential",
                code=c.code,
                name=c.name,
                applies_to=list(c.applies_to),
                programme=c.programme,
            )
        )


async def list_types(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(q.list_types)]


async def type_units(conn: asyncpg.Connection, codes: list[str]) -> dict[str, str]:
    rows = await conn.fetch(*q.bind("type_units", codes=codes))
    return {r["code"]: r["unit"] for r in rows}


async def credentials(conn: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    return {r["code"]: r for r in await conn.fetch(q.list_credentials)}


async def get(conn: asyncpg.Connection, match_id: str) -> Match | None:
    row = await conn.fetchrow(*q.bind("get_match", id=match_id))
    return match(row) if row else None


async def set_state(conn: asyncpg.Connection, m: Match) -> Match:
    return match(
        await conn.fetchrow(
            *q.bind(
                "set_match",
                id=m.id,
                status=m.status,
                quantity=m.quantity,
                dispatched=m.dispatched,
                delivered=m.delivered,
                eta=m.eta,
                reason=m.reason,
            )
        )
    )


async def emergency_matches(
    conn: asyncpg.Connection, emergency_id: str, *, status: str | None, audience: list[str] | None
) -> list[Match]:
    """The emergency's matches whose audience (policy.match_audience) meets `audience`."""
    rows = await conn.fetch(
        *q.bind("emergency_matches", emergency_id=emergency_id, status=status, audience=audience)
    )
    return [match(r) for r in rows]
