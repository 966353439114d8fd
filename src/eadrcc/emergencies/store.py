from __future__ import annotations

from typing import Any

import asyncpg

from eadrcc.db import queries
from eadrcc.emergencies.models import Emergency

q = queries("emergencies")


def _emergency(row: asyncpg.Record) -> Emergency:
    data: dict[str, Any] = dict(row)
    data["location"] = {"lat": data.pop("lat"), "lon": data.pop("lon")}
    return Emergency.model_validate(data)


async def insert(conn: asyncpg.Connection, *, id: str, actor: str, **f: Any) -> Emergency:
    row = await conn.fetchrow(
        q.insert,
        id,
        f["title"],
        f["hazard"],
        f["countries"],
        f["lat"],
        f["lon"],
        f["severity"],
        f["status"],
        f["exercise"],
        actor,
    )
    return _emergency(row)


async def get(
    conn: asyncpg.Connection, emergency_id: str, *, lock: bool = False
) -> Emergency | None:
    row = await conn.fetchrow(q.lock if lock else q.get, emergency_id)
    return _emergency(row) if row else None


async def list_all(
    conn: asyncpg.Connection, *, status: str | None, exercise: bool | None
) -> list[Emergency]:
    return [_emergency(r) for r in await conn.fetch(q.list, status, exercise)]


async def update(conn: asyncpg.Connection, e: Emergency) -> Emergency:
    return _emergency(
        await conn.fetchrow(q.update, e.id, e.status, e.severity, e.title, e.countries)
    )


async def find_by_title(conn: asyncpg.Connection, title: str) -> str | None:
    found: str | None = await conn.fetchval(q.find_by_title, title)
    return found
