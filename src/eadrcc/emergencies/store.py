"""Emergency queries; each takes a connection and runs one statement (named
parameters: sql/queries/emergencies.sql writes `:name`, and each call passes them by
name)."""

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


async def insert(
    conn: asyncpg.Connection,
    *,
    id: str,
    actor: str,
    title: str,
    hazard: str,
    countries: list[str],
    lat: float,
    lon: float,
    severity: str,
    status: str,
    exercise: bool,
) -> Emergency:
    row = await conn.fetchrow(
        *q.bind(
            "insert",
            id=id,
            title=title,
            hazard=hazard,
            countries=countries,
            lat=lat,
            lon=lon,
            severity=severity,
            status=status,
            exercise=exercise,
            created_by=actor,
        )
    )
    return _emergency(row)


async def get(
    conn: asyncpg.Connection, emergency_id: str, *, lock: bool = False
) -> Emergency | None:
    row = await conn.fetchrow(*q.bind("lock" if lock else "get", id=emergency_id))
    return _emergency(row) if row else None


async def list_all(
    conn: asyncpg.Connection, *, status: str | None, exercise: bool | None
) -> list[Emergency]:
    rows = await conn.fetch(*q.bind("list", status=status, exercise=exercise))
    return [_emergency(r) for r in rows]


async def update(conn: asyncpg.Connection, e: Emergency) -> Emergency:
    return _emergency(
        await conn.fetchrow(
            *q.bind(
                "update",
                id=e.id,
                status=e.status,
                severity=e.severity,
                title=e.title,
                countries=e.countries,
            )
        )
    )


async def find_by_title(conn: asyncpg.Connection, title: str) -> str | None:
    found: str | None = await conn.fetchval(*q.bind("find_by_title", title=title))
    return found
