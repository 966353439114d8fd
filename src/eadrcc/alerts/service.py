"""Alert rules: store once, link updates (also an original that comes after its
update), group by real-world event (grouping.py), attach to or open watches
(watching.py).

Each public function owns one transaction. Concurrent deliveries of the same
alert queue on a lock keyed by its identity; concurrent alerts of one hazard
queue while grouping, so two sources reporting one earthquake in the same
instant still land in one group.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import get_args

import asyncpg
import structlog

from eadrcc.alerts import geography, grouping, rules, store, watching
from eadrcc.alerts.models import Alert, AlertIn
from eadrcc.db import retrying, transaction
from eadrcc.emergencies.models import Hazard
from eadrcc.errors import NotFound, Unauthorized
from eadrcc.events import log as events
from eadrcc.ids import new_id
from eadrcc.policy import alert_audience

log = structlog.get_logger(__name__)
HAZARDS = set(get_args(Hazard))


async def ingest(
    *,
    pool: asyncpg.Pool,
    alert: AlertIn,
    actor: str,
    raw: str,
    max_age: timedelta = rules.DEFAULT_MAX_AGE,
    touched: list[str] | None = None,
    area_json: str | None = None,
) -> tuple[Alert, bool]:
    """Store an alert; (the stored alert, True) if new, (the first copy, False) if seen.
    Alerts sent longer than `max_age` ago are stored but open no watch.

    From a document reader (reading.py): `touched`, the countries its area touches,
    and `area_json`, its area as JSON text (the alert then has none of its own)."""
    if touched is None:
        # Shapes first, off the event loop and outside the transaction: a large polygon
        # may take a moment, and holds no lock meanwhile.
        touched = await asyncio.to_thread(countries_of_area, alert)
    return await retrying(lambda: _ingest(pool, alert, actor, raw, max_age, touched, area_json))


async def _ingest(
    pool: asyncpg.Pool,
    alert: AlertIn,
    actor: str,
    raw: str,
    max_age: timedelta,
    touched: list[str],
    area_json: str | None,
) -> tuple[Alert, bool]:
    async with transaction(pool) as conn:
        await store.lock(conn, f"alert:{alert.sender}|{alert.identifier}|{alert.sent.timestamp()}")
        if existing := await store.find(conn, alert):
            return existing, False
        alert = await _normalise(conn, alert, touched)
        stale = rules.stale_reason(alert, now=datetime.now(UTC), max_age=max_age)
        await store.lock(conn, f"alert-group:{alert.hazard}")
        referenced = await store.referenced(conn, alert)
        own_key = rules.reference_key(alert.sender, alert.identifier, alert.sent)
        early = await store.early_references(conn, own_key, alert.status)
        group = await _group_for(conn, alert, [*referenced, *early])
        emergency_id = await watching.emergency_for(
            conn,
            alert=alert,
            group=group,
            # Already cancelled by a Cancel that came first: nothing to watch.
            may_open=stale is None and not any(e["msg_type"] == "Cancel" for e in early),
            actor=actor,
        )
        origin_at = grouping.origin(alert)
        if group is None:
            group = await store.insert_group(conn, new_id("grp"), alert, origin_at)
        group_id: str = group["id"]
        await store.extend_group(conn, group_id, alert, emergency_id, origin_at)
        stored = await store.insert(
            conn,
            alert_id=new_id("alr"),
            a=alert,
            references=[r["id"] for r in referenced],
            group_id=group_id,
            emergency_id=emergency_id,
            raw=raw,
            actor=actor,
            stale=stale,
            area_json=area_json,
            pending_references=_pending(alert, referenced),
        )
        await watching.dismiss_if_cancelled(conn, alert, referenced, actor)
        _record(conn, "alert.received", stored, actor)
        if early:  # the updates that came first now point at their original
            linked = await store.link_early_references(
                conn, own_key, stored.id, [e["id"] for e in early]
            )
            for update in linked:
                _record(conn, "alert.linked", update, actor)
    log.info(
        "alert_stored",
        alert_id=stored.id,
        source=alert.source,
        group_id=group_id,
        emergency_id=emergency_id,
        stale=stale,
    )
    return stored, True


def _record(conn: asyncpg.Connection, kind: str, alert: Alert, actor: str) -> None:
    events.record(
        conn,
        kind=kind,
        actor=actor,
        emergency_id=alert.emergency_id,
        visibility=alert_audience(),
        data=alert.model_dump(mode="json"),
    )


def _pending(alert: AlertIn, found: list[asyncpg.Record]) -> list[str]:
    """Keys of the references not received yet, to link when they arrive."""
    have = {rules.reference_key(r["sender"], r["identifier"], r["sent"]) for r in found}
    keys = [rules.reference_key(r.sender, r.identifier, r.sent) for r in alert.references]
    return [k for k in dict.fromkeys(keys) if k not in have]


async def _normalise(conn: asyncpg.Connection, alert: AlertIn, touched: list[str]) -> AlertIn:
    """Our hazard words; the countries the alert names, those its area touches, and
    those named in its text when it gives none of the others."""
    hazard = (
        alert.hazard if alert.hazard in HAZARDS else rules.hazard_of(alert.event, alert.category)
    )
    countries = list(dict.fromkeys([*alert.countries, *touched]))
    if not countries:
        text = " ".join(filter(None, [alert.event, alert.headline, alert.description]))
        countries = rules.countries_in_text(text, await store.partner_names(conn))
    return alert.model_copy(update={"hazard": hazard, "countries": countries[:50]})


def countries_of_area(alert: AlertIn) -> list[str]:
    point = (alert.location.lat, alert.location.lon) if alert.location else None
    area = alert.area
    polygons = [[(p.lat, p.lon) for p in ring] for ring in area.polygons] if area else []
    circles = [geography.Circle(c.lat, c.lon, c.radius_km) for c in area.circles] if area else []
    return geography.countries_of(point, polygons, circles)


async def _group_for(
    conn: asyncpg.Connection, alert: AlertIn, related: list[asyncpg.Record]
) -> asyncpg.Record | None:
    """The group of the messages this one refers to (or that refer to it), else the
    group of the same real-world event, else None (a new group)."""
    if related:
        return await store.group(conn, related[0]["group_id"])
    for group in await store.candidate_groups(conn, alert):
        if grouping.same_event(alert, dict(group)):
            return group
    return None


async def check_replay(
    *, pool: asyncpg.Pool, token_id: str, signature: str, window_seconds: int
) -> None:
    async with transaction(pool) as conn:
        if not await store.remember_signature(
            conn, token_id, signature, timedelta(seconds=window_seconds)
        ):
            raise Unauthorized("this signature was already used; sign each request anew")


async def acknowledge(*, pool: asyncpg.Pool, alert_id: str, actor: str) -> Alert:
    async with transaction(pool) as conn:
        acknowledged = await store.acknowledge(conn, alert_id, actor)
        if acknowledged is None:
            current = await store.get(conn, alert_id)
            if current is None:
                raise NotFound(f"no alert {alert_id!r}")
            return current  # already acknowledged: acknowledging again changes nothing
        events.record(
            conn,
            kind="alert.acknowledged",
            actor=actor,
            emergency_id=acknowledged.emergency_id,
            visibility=alert_audience(),
            data=acknowledged.model_dump(mode="json"),
        )
        return acknowledged
