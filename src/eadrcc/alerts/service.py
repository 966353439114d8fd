"""Alert rules: store once, link updates, group by real-world event, open watches.

Each public function owns one transaction. Concurrent deliveries of the same
alert queue on a lock keyed by its identity; concurrent alerts of one hazard
queue while grouping, so two sources reporting one earthquake in the same
instant still land in one group.
"""

from __future__ import annotations

from datetime import timedelta
from typing import get_args

import asyncpg
import structlog

from eadrcc.alerts import rules, store
from eadrcc.alerts.models import Alert, AlertIn
from eadrcc.db import retrying, transaction
from eadrcc.emergencies import service as emergencies
from eadrcc.emergencies import store as emergency_store
from eadrcc.emergencies.models import EmergencyCreate, Hazard
from eadrcc.errors import NotFound, Unauthorized
from eadrcc.events import log as events
from eadrcc.ids import new_id

log = structlog.get_logger(__name__)
HAZARDS = set(get_args(Hazard))
STAFF_ONLY: list[str] = []


async def ingest(*, pool: asyncpg.Pool, alert: AlertIn, actor: str, raw: str) -> tuple[Alert, bool]:
    """Store an alert; (the stored alert, True) if new, (the first copy, False) if seen."""
    return await retrying(lambda: _ingest(pool, alert, actor, raw))


async def _ingest(pool: asyncpg.Pool, alert: AlertIn, actor: str, raw: str) -> tuple[Alert, bool]:
    async with transaction(pool) as conn:
        await store.lock(conn, f"alert:{alert.sender}|{alert.identifier}|{alert.sent.timestamp()}")
        if existing := await store.find(conn, alert):
            return existing, False
        alert = await _normalise(conn, alert)
        await store.lock(conn, f"alert-group:{alert.hazard}")
        referenced = await store.referenced(conn, alert)
        group_id = await _group_for(conn, alert, referenced)
        group = await store.group(conn, group_id) if group_id else None
        emergency_id = group["emergency_id"] if group else None
        if emergency_id is None:
            emergency_id = await _maybe_watch(conn, alert, actor)
        if group_id is None:
            group_id = (await store.insert_group(conn, new_id("grp"), alert))["id"]
        await store.extend_group(conn, group_id, alert, emergency_id)
        stored = await store.insert(
            conn,
            alert_id=new_id("alr"),
            a=alert,
            references=[r["id"] for r in referenced],
            group_id=group_id,
            emergency_id=emergency_id,
            raw=raw,
            actor=actor,
        )
        if alert.msg_type == "Cancel" and emergency_id:
            await _dismiss_watch(conn, emergency_id, actor)
        events.record(
            conn,
            kind="alert.received",
            actor=actor,
            emergency_id=emergency_id,
            visibility=STAFF_ONLY,
            data=stored.model_dump(mode="json"),
        )
    log.info(
        "alert_stored",
        alert_id=stored.id,
        source=alert.source,
        group_id=group_id,
        emergency_id=emergency_id,
    )
    return stored, True


async def _normalise(conn: asyncpg.Connection, alert: AlertIn) -> AlertIn:
    """Our hazard words, and the countries named in the text when none were given."""
    hazard = (
        alert.hazard if alert.hazard in HAZARDS else rules.hazard_of(alert.event, alert.category)
    )
    countries = alert.countries
    if not countries:
        text = " ".join(filter(None, [alert.event, alert.headline, alert.description]))
        countries = rules.countries_in_text(text, await store.partner_names(conn))
    return alert.model_copy(update={"hazard": hazard, "countries": countries})


async def _group_for(
    conn: asyncpg.Connection, alert: AlertIn, referenced: list[asyncpg.Record]
) -> str | None:
    if referenced:  # an update or cancellation belongs with what it refers to
        group_id: str = referenced[0]["group_id"]
        return group_id
    for group in await store.candidate_groups(conn, alert):
        if rules.same_event(alert, dict(group)):
            found: str = group["id"]
            return found
    return None


async def _maybe_watch(conn: asyncpg.Connection, alert: AlertIn, actor: str) -> str | None:
    known = set((await store.partner_names(conn)).values())
    watch = rules.watch_for(alert, known)
    if watch is None or alert.location is None:
        return None
    title = alert.headline or alert.event
    body = EmergencyCreate.model_validate(
        {
            "title": f"{'EXERCISE ' if watch.exercise else ''}{title}"[:200],
            "hazard": alert.hazard,
            "countries": watch.countries,
            "location": alert.location.model_dump(),
            "severity": watch.severity,
            "exercise": watch.exercise,
            "status": "watch",
        }
    )
    emergency = await emergencies.open_in(conn, actor=actor, body=body)
    log.info("watch_opened", emergency_id=emergency.id, reason=watch.reason)
    return emergency.id


async def _dismiss_watch(conn: asyncpg.Connection, emergency_id: str, actor: str) -> None:
    """The source cancelled its alert: a watch nobody promoted yet is closed."""
    emergency = await emergency_store.get(conn, emergency_id, lock=True)
    if emergency is not None and emergency.status == "watch":
        closed = await emergency_store.update(
            conn, emergency.model_copy(update={"status": "closed"})
        )
        await emergencies.emit(conn, closed, "emergency.updated", actor)


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
            visibility=STAFF_ONLY,
            data=acknowledged.model_dump(mode="json"),
        )
        return acknowledged
