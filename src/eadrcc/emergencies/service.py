"""Emergency rules. Each public function owns one transaction."""

from __future__ import annotations

import asyncpg
import structlog

from eadrcc.auth import Principal
from eadrcc.db import transaction
from eadrcc.emergencies import store
from eadrcc.emergencies.models import Emergency, EmergencyCreate, EmergencyUpdate
from eadrcc.errors import Conflict, Invalid, NotFound
from eadrcc.events import log as events
from eadrcc.ids import new_id
from eadrcc.partners import store as partners
from eadrcc.policy import authorize, authorize_every, emergency_audience

log = structlog.get_logger(__name__)

# watch → active → closed; a watch may also be dismissed (closed) straight away, and
# a closed emergency (or a watch dismissed by mistake) may be reopened as active.
TRANSITIONS = {"watch": {"active", "closed"}, "active": {"closed"}, "closed": {"active"}}


async def create(*, pool: asyncpg.Pool, who: Principal, body: EmergencyCreate) -> Emergency:
    # A POC declares its own country struck, and no other: naming a nation opens
    # that nation's view of the emergency's offers. Staff add others (PATCH).
    authorize_every(who, "emergency.create", body.countries)
    async with transaction(pool) as conn:
        return await open_in(conn, body=body, actor=who.actor)


async def open_in(conn: asyncpg.Connection, *, body: EmergencyCreate, actor: str) -> Emergency:
    """Open an emergency inside the caller's transaction (an RFA, or an alert's watch)."""
    await _check_countries(conn, body.countries)
    emergency = await store.insert(
        conn,
        id=new_id("emg"),
        actor=actor,
        title=body.title,
        hazard=body.hazard,
        countries=body.countries,
        lat=body.location.lat,
        lon=body.location.lon,
        severity=body.severity,
        status=body.status,
        exercise=body.exercise,
    )
    await emit(conn, emergency, "emergency.created", actor)
    log.info(
        "emergency_created",
        emergency_id=emergency.id,
        countries=body.countries,
        status=body.status,
        exercise=body.exercise,
    )
    return emergency


async def update(
    *, pool: asyncpg.Pool, who: Principal, emergency_id: str, body: EmergencyUpdate
) -> Emergency:
    authorize(who, "emergency.update")
    async with transaction(pool) as conn:
        current = await get(conn=conn, emergency_id=emergency_id, lock=True)
        changes = body.model_dump(exclude_none=True, exclude={"reason"})
        if "countries" in changes:
            await _check_countries(conn, changes["countries"])
        status = changes.get("status", current.status)
        if status != current.status and status not in TRANSITIONS[current.status]:
            raise Conflict(
                f"an emergency cannot go from {current.status} to {status}",
                extra={"current_status": current.status},
            )
        updated = await store.update(conn, current.model_copy(update=changes))
        # The event says what the status was and why it changed (closing, reopening):
        # the log is the audit trail.
        await emit(
            conn,
            updated,
            "emergency.updated",
            who.actor,
            previous_status=current.status,
            reason=body.reason,
        )
    if status != current.status:
        log.info("emergency_status_changed", emergency_id=emergency_id, status=status)
    return updated


async def get(*, conn: asyncpg.Connection, emergency_id: str, lock: bool = False) -> Emergency:
    emergency = await store.get(conn, emergency_id, lock=lock)
    if emergency is None:
        raise NotFound(f"no emergency {emergency_id!r}")
    return emergency


async def emit(
    conn: asyncpg.Connection, e: Emergency, kind: str, actor: str, **extra: str | None
) -> None:
    events.record(
        conn,
        kind=kind,
        actor=actor,
        emergency_id=e.id,
        visibility=emergency_audience(),
        data={**e.model_dump(mode="json"), **extra},
    )


async def _check_countries(conn: asyncpg.Connection, countries: list[str]) -> None:
    if unknown := await partners.unknown_codes(conn, countries):
        raise Invalid("unknown country", errors={"countries": f"not Allies or partners: {unknown}"})
