"""Alert queries; each takes a connection and runs one statement (named parameters:
sql/queries/alerts.sql writes `:name`, and each call passes them by name)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from eadrcc.alerts.models import Alert, AlertIn, AlertQuery
from eadrcc.db import JsonText, queries

q = queries("alerts")


def alert(row: asyncpg.Record) -> Alert:
    data: dict[str, Any] = dict(row)
    lat, lon = data.pop("lat"), data.pop("lon")
    data["location"] = {"lat": lat, "lon": lon} if lat is not None else None
    return Alert.model_validate(data)


async def lock(conn: asyncpg.Connection, key: str) -> None:
    await conn.execute(*q.bind("lock_key", key=key))


async def find(conn: asyncpg.Connection, a: AlertIn) -> Alert | None:
    row = await conn.fetchrow(
        *q.bind("find", sender=a.sender, identifier=a.identifier, sent=a.sent)
    )
    return alert(row) if row else None


async def get(conn: asyncpg.Connection, alert_id: str) -> Alert | None:
    row = await conn.fetchrow(*q.bind("get", id=alert_id))
    return alert(row) if row else None


async def referenced(conn: asyncpg.Connection, a: AlertIn) -> list[asyncpg.Record]:
    """The stored messages `a` refers to, of its own status."""
    refs = a.references
    return list(
        await conn.fetch(
            *q.bind(
                "referenced",
                senders=[r.sender for r in refs],
                identifiers=[r.identifier for r in refs],
                sents=[datetime.fromisoformat(r.sent) for r in refs],
                status=a.status,
            ),
        )
    )


async def early_references(conn: asyncpg.Connection, key: str, status: str) -> list[asyncpg.Record]:
    """Messages of `status` that refer to the message `key` and came before it."""
    return list(await conn.fetch(*q.bind("early_references", key=key, status=status)))


async def link_early_references(
    conn: asyncpg.Connection, key: str, alert_id: str, early_ids: list[str]
) -> list[Alert]:
    rows = await conn.fetch(
        *q.bind("link_early_references", key=key, alert_id=alert_id, early_ids=early_ids)
    )
    return [alert(r) for r in rows]


async def candidate_groups(conn: asyncpg.Connection, a: AlertIn) -> list[asyncpg.Record]:
    ids = [{k: v} for k, v in a.external_ids.items()]
    return list(
        await conn.fetch(
            *q.bind(
                "candidate_groups",
                hazard=a.hazard,
                moment=a.onset or a.sent,
                external_ids=ids,
                status=a.status,
            )
        )
    )


async def open_emergencies_near(
    conn: asyncpg.Connection, a: AlertIn, *, before: timedelta, after: timedelta
) -> list[asyncpg.Record]:
    """Open emergencies of `a`'s hazard and kind (real or exercise) opened from `after`
    before the alert's moment to `before` after it: those it may be about."""
    return list(
        await conn.fetch(
            *q.bind(
                "open_emergencies_near",
                hazard=a.hazard,
                moment=a.onset or a.sent,
                after=after,
                before=before,
                exercise=a.status == "Exercise",
            ),
        )
    )


async def group(conn: asyncpg.Connection, group_id: str) -> asyncpg.Record:
    return await conn.fetchrow(*q.bind("get_group", id=group_id))


async def insert_group(
    conn: asyncpg.Connection, group_id: str, a: AlertIn, origin_at: datetime | None
) -> asyncpg.Record:
    lat, lon = (a.location.lat, a.location.lon) if a.location else (None, None)
    return await conn.fetchrow(
        *q.bind(
            "insert_group",
            id=group_id,
            hazard=a.hazard,
            lat=lat,
            lon=lon,
            sent=a.onset or a.sent,
            external_ids=a.external_ids,
            status=a.status,
            origin_at=origin_at,
        ),
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
        *q.bind(
            "extend_group",
            id=group_id,
            sent=a.onset or a.sent,
            external_ids=a.external_ids,
            emergency_id=emergency_id,
            lat=lat,
            lon=lon,
            origin_at=origin_at,
        ),
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
    area_json: str | None = None,
) -> Alert:
    lat, lon = (a.location.lat, a.location.lon) if a.location else (None, None)
    row = await conn.fetchrow(
        *q.bind(
            "insert_alert",
            id=alert_id,
            source=a.source,
            cap_version=a.cap_version,
            identifier=a.identifier,
            sender=a.sender,
            sent=a.sent,
            status=a.status,
            msg_type=a.msg_type,
            scope=a.scope,
            event=a.event,
            hazard=a.hazard,
            severity=a.severity,
            certainty=a.certainty,
            urgency=a.urgency,
            headline=a.headline,
            lat=lat,
            lon=lon,
            countries=a.countries,
            level=a.level,
            external_ids=a.external_ids,
            references=references,
            group_id=group_id,
            emergency_id=emergency_id,
            body=_body(a, area_json),
            raw=raw,
            received_by=actor,
            stale=stale,
            expires=a.expires,
            pending_references=pending_references,
        ),
    )
    return alert(row)


def _body(a: AlertIn, area_json: str | None) -> Any:
    """The alert as JSON; an area read apart (JSON text already) is spliced in, since
    encoding tens of thousands of points here would hold the event loop."""
    if area_json is None:
        return a.model_dump(mode="json")
    head = json.dumps(a.model_dump(mode="json", exclude={"area"}), separators=(",", ":"))
    return JsonText(f'{head[:-1]},"area":{area_json}}}')


async def list_alerts(conn: asyncpg.Connection, f: AlertQuery) -> list[Alert]:
    rows = await conn.fetch(
        *q.bind(
            "list",
            status=f.status,
            severity=f.severity,
            hazard=f.hazard,
            acknowledged=f.acknowledged,
            group_id=f.group_id,
            limit=f.limit,
        ),
    )
    return [alert(r) for r in rows]


async def acknowledge(conn: asyncpg.Connection, alert_id: str, actor: str) -> Alert | None:
    row = await conn.fetchrow(*q.bind("acknowledge", id=alert_id, actor=actor))
    return alert(row) if row else None


async def remember_signature(
    conn: asyncpg.Connection, token_id: str, signature: str, window: timedelta
) -> bool:
    """True the first time a signature is seen; old ones are forgotten as we go."""
    fresh = bool(
        await conn.fetchval(*q.bind("remember_signature", token_id=token_id, signature=signature))
    )
    await conn.execute(*q.bind("forget_old_signatures", older_than=window * 2))
    return fresh


async def partner_names(conn: asyncpg.Connection) -> dict[str, str]:
    return {r["name"]: r["code"] for r in await conn.fetch(q.partner_names)}
