"""Capacity queries; each takes a connection and runs one statement."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from eadrcc.capacities.models import Capacity, CapacityQuery, DeclaredForNeed
from eadrcc.db import queries

q = queries("capacities")


def capacity(row: asyncpg.Record) -> Capacity:
    data: dict[str, Any] = dict(row)
    lat, lon, place = data.pop("home_lat"), data.pop("home_lon"), data.pop("home_place")
    data["home_base"] = {"lat": lat, "lon": lon, "place": place} if lat is not None else None
    return Capacity.model_validate(data)


def _columns(f: dict[str, Any]) -> list[Any]:
    """The shared columns of insert_capacity and upsert_public, in their order."""
    home = f.get("home_base") or {}
    return [
        f["id"],
        f["country"],
        f["resource_type"],
        f["quantity"],
        f["readiness_hours"],
        home.get("lat"),
        home.get("lon"),
        home.get("place"),
        list(f.get("credentials") or []),
        bool(f.get("self_sufficient")),
        f.get("valid_until"),
        f.get("name"),
        f.get("notes"),
    ]


async def insert(conn: asyncpg.Connection, f: dict[str, Any], actor: str) -> Capacity:
    row = await conn.fetchrow(q.insert_capacity, *_columns(f), "declared", None, None, None, actor)
    await conn.execute(q.insert_history, [f["id"]], actor)
    return capacity(row)


async def upsert_public(conn: asyncpg.Connection, f: dict[str, Any], actor: str) -> bool:
    """Insert or refresh a public record; True when something changed."""
    cols = _columns(f)
    changed = await conn.fetchval(
        q.upsert_public, *cols, f["citation"], f["read_on"], f["public_key"], actor
    )
    if changed:
        await conn.execute(q.insert_history, [changed], actor)
    return changed is not None


async def get(conn: asyncpg.Connection, capacity_id: str, *, lock: bool = False) -> Capacity | None:
    row = await conn.fetchrow(q.lock_capacity if lock else q.get_capacity, capacity_id)
    return capacity(row) if row else None


async def update(conn: asyncpg.Connection, c: Capacity, actor: str) -> Capacity:
    home = c.home_base
    row = await conn.fetchrow(
        q.update_capacity,
        c.id,
        c.quantity,
        c.readiness_hours,
        home.lat if home else None,
        home.lon if home else None,
        home.place if home else None,
        c.credentials,
        c.self_sufficient,
        c.valid_until,
        c.name,
        c.notes,
        c.resource_type,
        c.status,
    )
    await conn.execute(q.insert_history, [c.id], actor)
    return capacity(row)


async def search(conn: asyncpg.Connection, f: CapacityQuery) -> list[Capacity]:
    rows = await conn.fetch(
        q.list_capacities,
        f.country,
        f.resource_type,
        f.credential,
        f.ready_within,
        f.region,
        f.source,
        f.status,
        f.include_expired,
        f.limit,
    )
    return [capacity(r) for r in rows]


# Every capacity sorts at or before this (source, readiness) bound.
NO_BOUND = ("public", 8760)


async def fitting(
    conn: asyncpg.Connection,
    bounds: dict[str, tuple[str, int]],
    shortlist: int | None,
) -> list[asyncpg.Record]:
    """Candidates of each need up to its (source, readiness_hours) bound, in that
    order, at most `shortlist` of them per need (None: all)."""
    ids = list(bounds)
    sources = [bounds[i][0] for i in ids]
    hours = [bounds[i][1] for i in ids]
    return list(await conn.fetch(q.likely_providers, ids, sources, hours, shortlist))


async def schedule_reminder(conn: asyncpg.Connection, c: Capacity, ahead: timedelta) -> None:
    """Keep one unsent reminder per declared, active capacity, due `ahead` of expiry."""
    keep = c.valid_until if c.status == "active" and c.source == "declared" else None
    await conn.execute(q.drop_unsent_reminders, c.id, keep)
    if keep is not None:
        await conn.execute(q.add_reminder, c.id, keep, ahead)


async def take_due_reminders(conn: asyncpg.Connection, limit: int) -> list[Capacity] | None:
    """None when another instance is sweeping; else the reminders now marked sent."""
    if not await conn.fetchval(q.scheduler_lock):
        return None
    ids = [r["capacity_id"] for r in await conn.fetch(q.take_due_reminders, limit)]
    return [capacity(r) for r in await conn.fetch(q.capacities_by_id, ids)]


async def declared_for_needs(
    conn: asyncpg.Connection,
    emergency_id: str,
    *,
    request_ids: list[str] | None = None,
    countries: list[str] | None = None,
) -> dict[str, list[DeclaredForNeed]]:
    """Per nation, the open needs it declared a capacity for (one statement for
    every nation and RFA asked about), in need order."""
    rows = await conn.fetch(q.declared_for_needs, emergency_id, request_ids, countries)
    found: dict[str, list[DeclaredForNeed]] = {}
    for r in sorted(rows, key=lambda r: (r["country"], r["request_id"], r["position"])):
        found.setdefault(r["country"], []).append(
            DeclaredForNeed.model_construct(**{k: r[k] for k in DeclaredForNeed.model_fields})
        )
    return found
