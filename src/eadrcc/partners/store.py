"""Partner registry queries; each takes a connection and runs one statement (named
parameters: sql/queries/partners.sql writes `:name`, and each call passes them by name)."""

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
    row = await conn.fetchrow(*q.bind("lock_partner" if lock else "get_partner", code=code))
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
        *q.bind(
            "upsert_partner",
            code=code,
            name=data["name"],
            status=data["status"],
            frameworks=data["frameworks"],
            programmes=data["programmes"],
            contacts=data["contacts"],
            version=version,
            updated_at=at,
            updated_by=actor,
        )
    )
    partner = _partner(row)
    await conn.execute(
        *q.bind(
            "insert_history",
            code=code,
            version=version,
            record=partner.model_dump(mode="json"),
            changed_at=at,
            changed_by=actor,
        )
    )
    return partner


async def history(conn: asyncpg.Connection, code: str) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(*q.bind("history", code=code))]


async def changes_since(
    conn: asyncpg.Connection, since: int, limit: int
) -> tuple[list[Partner], int]:
    row = await conn.fetchrow(*q.bind("changes_since", since=since, limit=limit))
    return [_partner(r) for r in row["changes"]], row["head"]


async def list_version(conn: asyncpg.Connection) -> tuple[int, int]:
    row = await conn.fetchrow(q.list_etag)
    return row["version"], row["n"]


async def programmes(conn: asyncpg.Connection) -> list[Programme]:
    return [Programme.model_validate(dict(r)) for r in await conn.fetch(q.list_programmes)]


async def programme_codes(conn: asyncpg.Connection) -> set[str]:
    return set(await conn.fetchval(q.programme_codes) or [])


async def upsert_programme(conn: asyncpg.Connection, p: Programme, position: int) -> None:
    await conn.execute(
        *q.bind("upsert_programme", code=p.code, name=p.name, purpose=p.purpose, position=position)
    )


async def unknown_codes(conn: asyncpg.Connection, codes: list[str]) -> list[str]:
    """The codes in `codes` that are neither Allies nor partners."""
    known = {r["code"] for r in await conn.fetch(*q.bind("known_codes", codes=codes))}
    return [c for c in codes if c not in known]


async def active_programmes(conn: asyncpg.Connection, code: str) -> set[str]:
    return {r["code"] for r in await conn.fetch(*q.bind("active_programmes", code=code))}
