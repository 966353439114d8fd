"""Partner registry queries; each takes a connection and runs one statement."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from eadrcc.db import queries
from eadrcc.partners.models import Partner, PartnerFields, Programme

q = queries("partners")


def _partner(row: asyncpg.Record | dict[str, Any]) -> Partner:
    return Partner.model_validate(dict(row))


async def list_partners(conn: asyncpg.Connection) -> list[Partner]:
    return [_partner(r) for r in await conn.fetch(q.list_partners)]


async def get(conn: asyncpg.Connection, code: str, *, lock: bool = False) -> Partner | None:
    row = await conn.fetchrow(q.lock_partner if lock else q.get_partner, code)
    return _partner(row) if row else None


async def write(
    conn: asyncpg.Connection,
    code: str,
    fields: PartnerFields,
    *,
    version: int,
    at: datetime,
    actor: str,
) -> Partner:
    data = fields.model_dump(mode="json", include=set(PartnerFields.model_fields))
    row = await conn.fetchrow(
        q.upsert_partner,
        code,
        data["name"],
        data["status"],
        data["frameworks"],
        data["programmes"],
        data["contacts"],
        version,
        at,
        actor,
    )
    partner = _partner(row)
    await conn.execute(q.insert_history, code, version, partner.model_dump(mode="json"), at, actor)
    return partner


async def history(conn: asyncpg.Connection, code: str) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(q.history, code)]


async def changes_since(
    conn: asyncpg.Connection, since: int, limit: int
) -> tuple[list[Partner], int]:
    row = await conn.fetchrow(q.changes_since, since, limit)
    return [_partner(r) for r in row["changes"]], row["head"]


async def list_version(conn: asyncpg.Connection) -> tuple[int, int]:
    row = await conn.fetchrow(q.list_etag)
    return row["version"], row["n"]


async def programmes(conn: asyncpg.Connection) -> list[Programme]:
    return [Programme.model_validate(dict(r)) for r in await conn.fetch(q.list_programmes)]


async def programme_codes(conn: asyncpg.Connection) -> set[str]:
    return set(await conn.fetchval(q.programme_codes) or [])


async def upsert_programme(conn: asyncpg.Connection, p: Programme, position: int) -> None:
    await conn.execute(q.upsert_programme, p.code, p.name, p.purpose, position)


async def unknown_codes(conn: asyncpg.Connection, codes: list[str]) -> list[str]:
    """The codes in `codes` that are neither Allies nor partners."""
    known = {r["code"] for r in await conn.fetch(q.known_codes, codes)}
    return [c for c in codes if c not in known]


async def active_programmes(conn: asyncpg.Connection, code: str) -> set[str]:
    return {r["code"] for r in await conn.fetch(q.active_programmes, code)}
