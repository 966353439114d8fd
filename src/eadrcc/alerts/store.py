"""Alert queries; each takes a connection and runs one statement."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from eadrcc.alerts.models import Alert, AlertIn, AlertQuery
from eadrcc.db import queries

q = queries("alerts")


def alert(row: asyncpg.Record) -> Alert:
    data: dict[str, Any] = dict(row)
    lat, lon = data.pop("lat"), data.pop("lon")
    data["location"] = {"lat": lat, "lon": lon} if lat is not None else None
    return Alert.model_validate(data)


async def lock(conn: asyncpg.Connection, key: str) -> None:
    await conn.execute(q.lock_key, key)


async def find(conn: asyncpg.Connection, a: AlertIn) -> Alert | None:
    row = await conn.fetchrow(q.find, a.sender, a.identifier, a.sent)
    return alert(row) if row else None


async def get(conn: asyncpg.Connection, alert_id: str) -> Alert | None:
    row = await conn.fetchrow(q.get, alert_id)
    return alert(row) if row else None


async def referenced(conn: asyncpg.Connection, a: AlertIn) -> list[asyncpg.Record]:
    """The stored messages `a` refers to, of its own status."""
    refs = a.references
    return list(
        await conn.fetch(
            q.referenced,
            [r.sender for r in refs],
            [r.identifier for r in refs],
            [datetime.fromisoformat(r.sent) for r in refs],
            a.status,
        )
    )


async def early_references(conn: asyncpg.Connection, key: str, status: str) -> list[asyncpg.Record]:
    """Messages of `status` that refer to the message `key` and came before it."""
    return list(await conn.fetch(q.early_references, key, status))


async def link_early_references(
    conn: asyncpg.Connection, key: str, alert_id: str, early_ids: list[str]
) -> list[Alert]:
    rows = await conn.fetch(q.link_early_references, key, alert_id, early_ids)
    return [alert(r) for r in rows]


async def candidate_groups(conn: asyncpg.Connection, a: AlertIn) -> list[asyncpg.Record]:
    ids = [{k: v} for k, v in a.external_ids.items()]
    return list(await conn.fetch(q.candidate_groups, a.hazard, a.onset or a.sent, ids, a.status))


async def open_emergencies_near(
    conn: asyncpg.Connection, a: AlertIn, *, before: timedelta, after: timedelta
) -> list[asyncpg.Record]:
    """Open emergencies of `a`'s hazard and kind (real or exercise) opened from `after`
    before the alert's moment to `before` after it: those it may be about."""
    return list(
        await conn.fetch(
            q.open_emergencies_near,
            a.hazard,
            a.onset or a.sent,
            after,
            before,
            a.status == "Exercise",
        )
    )


async def group(conn: asyncpg.Connection, group_id: str) -> asyncpg.Record:
    return await conn.fetchrow(q.get_group, group_id)


async def insert_group(
    conn: asyncpg.Connection, group_id: str, a: AlertIn, origin_at: datetime | None
) -> asyncpg.Record:
    lat, lon = (a.location.lat, a.location.lon) if a.location else (None, None)
    return await conn.fetchrow(
        q.insert_group,
        group_id,
        a.hazard,
        lat,
        lon,
        a.onset or a.sent,
        a.external_ids,
        a.status,
        origin_at,
    )


async def extend_group(
    conn: asyncpg.Connection,
    group_id: str,
    a: AlertIn,
    emergency_id: str | None,
    origin_at: datetime | None,
) -> asyncpg.Record:
    """Widen the group to `a`; a new `emergency_id` replaces a closed one, remembered."""
    lat, lon = (a.location.lat, a.location.lon) if a.location else (None, None)
    return await conn.fetchrow(
        q.extend_group,
        group_id,
        a.onset or a.sent,
        a.external_ids,
        emergency_id,
        lat,
        lon,
        origin_at,
    )


async def insert(
    conn: asyncpg.Connection,
    *,
    alert_id: str,
    a: AlertIn,
    references: list[str],
    group_id: str,
    emergency_id: str | None,
    raw: str,
    actor: str,
    stale: str | None,
    pending_references: list[str],
) -> Alert:
    lat, lon = (a.location.lat, a.location.lon) if a.location else (None, None)
    row = await conn.fetchrow(
        q.insert_alert,
        alert_id,
        a.source,
        a.cap_version,
        a.identifier,
        a.sender,
        a.sent,
        a.status,
        a.msg_type,
        a.scope,
        a.event,
        a.hazard,
        a.severity,
        a.certainty,
        a.urgency,
        a.headline,
        lat,
        lon,
        a.countries,
        a.level,
        a.external_ids,
        references,
        group_id,
        emergency_id,
        a.model_dump(mode="json"),
        raw,
        actor,
        stale,
        a.expires,
        pending_references,
    )
    return alert(row)


async def list_alerts(conn: asyncpg.Connection, f: AlertQuery) -> list[Alert]:
    rows = await conn.fetch(
        q.list, f.status, f.severity, f.hazard, f.acknowledged, f.group_id, f.limit
    )
    return [alert(r) for r in rows]


async def acknowledge(conn: asyncpg.Connection, alert_id: str, actor: str) -> Alert | None:
    row = await conn.fetchrow(q.acknowledge, alert_id, actor)
    return alert(row) if row else None


async def remember_signature(
    conn: asyncpg.Connection, token_id: str, signature: str, window: timedelta
) -> bool:
    """True the first time a signature is seen; old ones are forgotten as we go."""
    fresh = bool(await conn.fetchval(q.remember_signature, token_id, signature))
    await conn.execute(q.forget_old_signatures, window * 2)
    return fresh


async def partner_names(conn: asyncpg.Connection) -> dict[str, str]:
    return {r["name"]: r["code"] for r in await conn.fetch(q.partner_names)}
