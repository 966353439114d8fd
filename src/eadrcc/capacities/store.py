"""Capacity queries; each takes a connection and runs one statement (named parameters:
sql/queries/capacities.sql writes `:name`, and each call passes them by name)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import asyncpg

from eadrcc.capacities.models import Capacity, CapacityCreate, CapacityQuery, DeclaredForNeed
from eadrcc.db import queries

q = queries("capacities")


def capacity(row: asyncpg.Record) -> Capacity:
    data: dict[str, Any] = dict(row)
    lat, lon, place = data.pop("home_lat"), data.pop("home_lon"), data.pop("home_place")
    data["home_base"] = {"lat": lat, "lon": lon, "place": place} if lat is not None else None
    return Capacity.model_validate(data)


def _columns(f: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters insert_capacity and upsert_public share, from a capacity's fields."""
    home = f.get("home_base") or {}
    return {
        "id": f["id"],
        "country": f["country"],
        "resource_type": f["resource_type"],
        "quantity": f["quantity"],
        "readiness_hours": f["readiness_hours"],
        "home_lat": home.get("lat"),
        "home_lon": home.get("lon"),
        "home_place": home.get("place"),
        "credentials": list(f.get("credentials") or []),
        "self_sufficient": bool(f.get("self_sufficient")),
        "valid_until": f.get("valid_until"),
        "name": f.get("name"),
        "notes": f.get("notes"),
    }


async def insert(
    conn: asyncpg.Connection, declared: CapacityCreate, *, id: str, actor: str
) -> Capacity:
    """A capacity a nation declares (no citation, read date or public key)."""
    row = await conn.fetchrow(
        *q.bind(
            "insert_capacity",
            **_columns({**declared.model_dump(mode="python"), "id": id}),
            source="declared",
            citation=None,
            read_on=None,
            public_key=None,
            created_by=actor,
        )
    )
    await _history(conn, [id], actor)
    return capacity(row)


async def upsert_public(conn: asyncpg.Connection, f: Mapping[str, Any], actor: str) -> bool:
    """Insert or refresh a public record (`f`: one of public.records(), with an id);
    True when something changed."""
    changed = await conn.fetchval(
        *q.bind(
            "upsert_public",
            **_columns(f),
            citation=f["citation"],
            read_on=f["read_on"],
            public_key=f["public_key"],
            created_by=actor,
        )
    )
    if changed:
        await _history(conn, [changed], actor)
    return changed is not None


async def _history(conn: asyncpg.Connection, capacity_ids: list[str], actor: str) -> None:
    await conn.execute(*q.bind("insert_history", capacity_ids=capacity_ids, changed_by=actor))


async def get(conn: asyncpg.Connection, capacity_id: str, *, lock: bool = False) -> Capacity | None:
    row = await conn.fetchrow(*q.bind("lock_capacity" if lock else "get_capacity", id=capacity_id))
    return capacity(row) if row else None


async def update(conn: asyncpg.Connection, c: Capacity, actor: str) -> Capacity:
    home = c.home_base
    row = await conn.fetchrow(
        *q.bind(
            "update_capacity",
            id=c.id,
            quantity=c.quantity,
            readiness_hours=c.readiness_hours,
            home_lat=home.lat if home else None,
            home_lon=home.lon if home else None,
            home_place=home.place if home else None,
            credentials=c.credentials,
            self_sufficient=c.self_sufficient,
            valid_until=c.valid_until,
            name=c.name,
            notes=c.notes,
            resource_type=c.resource_type,
            status=c.status,
        )
    )
    await _history(conn, [c.id], actor)
    return capacity(row)


async def search(conn: asyncpg.Connection, f: CapacityQuery) -> list[Capacity]:
    rows = await conn.fetch(
        *q.bind(
            "list_capacities",
            country=f.country,
            resource_type=f.resource_type,
            credential=f.credential,
            ready_within=f.ready_within,
            region=f.region,
            source=f.source,
            status=f.status,
            include_expired=f.include_expired,
            limit=f.limit,
        )
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
    return list(
        await conn.fetch(
            *q.bind(
                "likely_providers",
                need_ids=ids,
                upto_sources=sources,
                upto_hours=hours,
                shortlist=shortlist,
            )
        )
    )


async def schedule_reminder(conn: asyncpg.Connection, c: Capacity, ahead: timedelta) -> None:
    """Keep one unsent reminder per declared, active capacity, due `ahead` of expiry."""
    keep = c.valid_until if c.status == "active" and c.source == "declared" else None
    await conn.execute(*q.bind("drop_unsent_reminders", capacity_id=c.id, valid_until=keep))
    if keep is not None:
        await conn.execute(*q.bind("add_reminder", capacity_id=c.id, valid_until=keep, ahead=ahead))


async def take_due_reminders(conn: asyncpg.Connection, limit: int) -> list[Capacity] | None:
    """None when another instance is sweeping; else the reminders now marked sent."""
    if not await conn.fetchval(q.scheduler_lock):
        return None
    ids = [r["capacity_id"] for r in await conn.fetch(*q.bind("take_due_reminders", limit=limit))]
    return [capacity(r) for r in await conn.fetch(*q.bind("capacities_by_id", ids=ids))]


async def declared_for_needs(
    conn: asyncpg.Connection,
    emergency_id: str,
    *,
    request_ids: list[str] | None = None,
    countries: list[str] | None = None,
) -> dict[str, list[DeclaredForNeed]]:
    """Per nation, the open needs it declared a capacity for (one statement for
    every nation and RFA asked about), in need order."""
    rows = await conn.fetch(
        *q.bind(
            "declared_for_needs",
            emergency_id=emergency_id,
            request_ids=request_ids,
            countries=countries,
        )
    )
    found: dict[str, list[DeclaredForNeed]] = {}
    for r in sorted(rows, key=lambda r: (r["country"], r["request_id"], r["position"])):
        found.setdefault(r["country"], []).append(
            DeclaredForNeed.model_construct(**{k: r[k] for k in DeclaredForNeed.model_fields})
        )
    return found
