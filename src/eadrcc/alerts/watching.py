"""Which emergency an incoming alert belongs to, inside the ingest transaction: the
open emergency of its group, an open emergency it is near (a known event), or a new
watch when it qualifies. Test, Draft and System messages never touch an emergency;
a closed or dismissed emergency never takes new alerts (a new watch follows it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg
import structlog

from eadrcc.alerts import grouping, rules, store
from eadrcc.alerts.models import AlertIn
from eadrcc.emergencies import service as emergencies
from eadrcc.emergencies import store as emergency_store
from eadrcc.emergencies.models import EmergencyCreate

log = structlog.get_logger(__name__)


async def emergency_for(
    conn: asyncpg.Connection,
    *,
    alert: AlertIn,
    group: Mapping[str, Any] | None,
    may_open: bool,
    actor: str,
) -> str | None:
    """The emergency `alert` is about, opening a watch when it qualifies and `may_open`
    (not stale, not already cancelled)."""
    if alert.status not in grouping.OPERATIONAL:
        return None
    previous = group["emergency_id"] if group else None
    if previous and await _is_open(conn, previous):
        return str(previous)
    if known := await _known_event(conn, alert):
        return known
    if not may_open:
        return None
    return await _open_watch(conn, alert, actor, follows=previous)


async def _is_open(conn: asyncpg.Connection, emergency_id: str) -> bool:
    emergency = await emergency_store.get(conn, emergency_id)
    return emergency is not None and emergency.status != "closed"


async def _known_event(conn: asyncpg.Connection, alert: AlertIn) -> str | None:
    if alert.location is None:
        return None
    rows = await store.open_emergencies_near(
        conn, alert, before=grouping.KNOWN_BEFORE, after=grouping.KNOWN_AFTER
    )
    return grouping.known_event(alert, [dict(r) for r in rows])


async def _open_watch(
    conn: asyncpg.Connection, alert: AlertIn, actor: str, *, follows: str | None
) -> str | None:
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
    log.info("watch_opened", emergency_id=emergency.id, reason=watch.reason, follows=follows)
    return emergency.id


async def dismiss_if_cancelled(
    conn: asyncpg.Connection, alert: AlertIn, referenced: list[asyncpg.Record], actor: str
) -> None:
    """A Cancel closes the watches of the messages it cancels that nobody promoted yet.
    `referenced` holds only messages of the Cancel's own status."""
    if alert.msg_type != "Cancel" or alert.status not in grouping.OPERATIONAL:
        return
    for emergency_id in dict.fromkeys(r["emergency_id"] for r in referenced if r["emergency_id"]):
        emergency = await emergency_store.get(conn, emergency_id, lock=True)
        if emergency is not None and emergency.status == "watch":
            closed = await emergency_store.update(
                conn, emergency.model_copy(update={"status": "closed"})
            )
            await emergencies.emit(conn, closed, "emergency.updated", actor)
            log.info("watch_dismissed", emergency_id=emergency_id, by_alert=alert.identifier)
