"""The daily situation report: at EADRCC_SITREP_HOUR_UTC, each active emergency's
report goes to the nations on its distribution list and to staff.

The report is an event (`sitrep.daily`, visible to those nations and staff),
so it travels the ordinary way: through the outbox to every subscription that
may see it, e-mail subscriptions receiving the full report as it stood when
the event was written. A row per (emergency, day), written in the same transaction
as the event, makes it once a day whatever the number of instances and
restarts; an instance started after the hour still sends that day's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import structlog
from aiohttp import web

from eadrcc import db
from eadrcc.appkeys import POOL, SETTINGS
from eadrcc.circulation import store as circulation_store
from eadrcc.events import log as events
from eadrcc.subscriptions.mailtext import SITREP
from eadrcc.subscriptions.store import q

log = structlog.get_logger(__name__)
CHECK_EVERY = 30.0
DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


async def distribution(conn: asyncpg.Connection, emergency: asyncpg.Record) -> list[str]:
    """The nations the emergency's RFAs are circulated to (its distribution list)."""
    found = await circulation_store.distribution(conn, emergency["id"])
    return list(found["countries"]) if found else []


async def send_due(pool: asyncpg.Pool, *, hour: int, now: datetime | None = None) -> list[str]:
    """Write today's report event for each active emergency that has none yet (once
    the hour has come); returns the emergencies it wrote one for."""
    now = now or datetime.now(UTC)
    if now.hour < hour:
        return []
    day = now.date()
    async with pool.acquire() as conn:
        due = await conn.fetch(*q.bind("sitreps_due", day=day))
    sent = []
    for emergency in due:
        async with db.transaction(pool) as conn:
            claimed = q.bind("claim_sitrep_day", emergency_id=emergency["id"], day=day)
            if await conn.fetchval(*claimed) is None:
                continue  # another instance got there first
            events.record(
                conn,
                kind=SITREP,
                actor="hub:sitrep",
                emergency_id=emergency["id"],
                visibility=await distribution(conn, emergency),
                data={
                    "emergency_id": emergency["id"],
                    "title": emergency["title"],
                    "exercise": emergency["exercise"],
                    "day": day.isoformat(),
                },
            )
        sent.append(emergency["id"])
    if sent:
        log.info("sitrep_daily_sent", emergencies=len(sent), day=day.isoformat())
    return sent


async def daily_sitreps(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: check every half minute whether a day's reports are due."""

    async def run() -> None:
        while True:
            try:
                # Its events wake the hubs by the transaction's after-commit hook.
                await send_due(app[POOL], hour=app[SETTINGS].sitrep_hour_utc)
            except DB_ERRORS as exc:
                log.warning("sitrep_daily_failed", error=type(exc).__name__)
            except Exception as exc:  # a bug must not end the daily reports for good
                log.error("sitrep_daily_crashed", exc_info=exc)
            await asyncio.sleep(CHECK_EVERY)

    task = asyncio.create_task(run(), name="sitrep-daily")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
