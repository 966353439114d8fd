"""Reminders and escalation: a nation silent for EADRCC_ACK_REMINDER_MINUTES gets a
`response.reminder` (through its channels); one silent for
EADRCC_ACK_ESCALATE_MINUTES is reported to staff as `response.overdue`.

Every instance runs this loop; only the one whose dedicated connection holds the
scheduler's session-level advisory lock does the work, and when it dies
PostgreSQL frees the lock and another takes over. What is due is a fact in the
`responses` table (notified_at, and reminded_at/escalated_at still empty), and a
reminder's event is written in the same transaction that fills reminded_at, so a
restart or a killed instance loses none and sends none twice. Rows are taken
with SKIP LOCKED too, so even two schedulers at once could not double one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import structlog
from aiohttp import web

from eadrcc import db
from eadrcc.appkeys import DATABASE_URL, METRICS, POOL, SETTINGS
from eadrcc.circulation import store
from eadrcc.circulation.models import EXERCISE_MARKING, response
from eadrcc.db import transaction
from eadrcc.events import log as events
from eadrcc.policy import STAFF_ONLY, circulation_audience

log = structlog.get_logger(__name__)
LOCK_KEY = 0x6561_6472_6363_0010  # "eadrcc" + this migration's number
ACTOR = "system:scheduler"
BATCH = 200
DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)
REMINDER, OVERDUE = "response.reminder", "response.overdue"


async def run_due(
    pool: asyncpg.Pool, *, what: str, silent_minutes: float, batch: int = BATCH
) -> int:
    """Send one batch of due reminders (what="reminder") or overdue reports
    ("overdue"), each with its row's mark, in one transaction; how many went."""
    async with transaction(pool) as conn:
        rows = await store.due(
            conn,
            "reminder" if what == "reminder" else "overdue",
            silent_seconds=silent_minutes * 60,
            limit=batch,
        )
        column = "reminded_at" if what == "reminder" else "escalated_at"
        marked = await store.write_rows(
            conn, [{**r, column: r["now"], "updated_by": ACTOR} for r in rows]
        )
        emergencies = {r["emergency_id"]: r for r in rows}
        for row in marked:
            _record(conn, what, row, emergencies[row["emergency_id"]], silent_minutes)
    if rows:
        log.info("responses_chased", what=what, nations=len(rows))
    return len(rows)


def _record(
    conn: asyncpg.Connection, what: str, row: dict[str, Any], em: dict[str, Any], minutes: float
) -> None:
    exercise = bool(em["exercise"])
    events.record(
        conn,
        kind=REMINDER if what == "reminder" else OVERDUE,
        actor=ACTOR,
        emergency_id=row["emergency_id"],
        # The reminder goes to the nation (and its subscriptions); the overdue
        # report is for staff only.
        visibility=circulation_audience(row["country"]) if what == "reminder" else STAFF_ONLY,
        data={
            "country": row["country"],
            "exercise": exercise,
            "marking": EXERCISE_MARKING if exercise else None,
            "emergency": {
                "id": em["emergency_id"],
                "title": em["title"],
                "hazard": em["hazard"],
                "countries": em["affected"],
            },
            "silent_minutes": minutes,
            "response": response(row).model_dump(mode="json"),
        },
    )


class Scheduler:
    def __init__(
        self,
        pool: asyncpg.Pool,
        url: str,
        *,
        reminder_minutes: float,
        escalate_minutes: float,
        interval: float,
    ) -> None:
        self._pool, self._url = pool, url
        self._reminder, self._escalate, self._interval = (
            reminder_minutes,
            escalate_minutes,
            interval,
        )
        self._lock_conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self.holding = False
        self.counters = {"reminders_sent": 0, "overdue_reported": 0, "failures": 0}

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="circulation-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def gauges(self) -> dict[str, float]:
        return {**self.counters, "holding_lock": float(self.holding)}

    async def _run(self) -> None:
        try:
            while True:
                if await self._hold_lock():
                    await self._tick()
                await asyncio.sleep(self._interval)
        finally:
            await self._let_go()

    async def _tick(self) -> None:
        try:
            for what, minutes, counter in (
                ("reminder", self._reminder, "reminders_sent"),
                ("overdue", self._escalate, "overdue_reported"),
            ):
                while sent := await run_due(self._pool, what=what, silent_minutes=minutes):
                    self.counters[counter] += sent  # their events wake the hubs at commit
                    if sent < BATCH:
                        break
        except Exception as exc:  # the database, or a bug: log, and try again next tick
            self.counters["failures"] += 1
            log.warning("scheduler_tick_failed", error=type(exc).__name__, detail=str(exc)[:200])

    async def _hold_lock(self) -> bool:
        try:
            if self._lock_conn is None or self._lock_conn.is_closed():
                self.holding = False
                self._lock_conn = await db.connect(self._url, name="eadrcc-scheduler")
            was = self.holding
            query = store.q.bind("holding" if was else "try_lock", key=LOCK_KEY)
            self.holding = bool(await self._lock_conn.fetchval(*query, timeout=10))
        except DB_ERRORS as exc:
            log.warning("scheduler_lock_check_failed", error=type(exc).__name__)
            await self._let_go()
            return False
        if self.holding != was:
            log.info("scheduler_lock_taken" if self.holding else "scheduler_lock_lost")
        return self.holding

    async def _let_go(self) -> None:
        self.holding, conn, self._lock_conn = False, self._lock_conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # closing ends the session and frees the lock
                await conn.close(timeout=2)


async def response_scheduler(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: this instance's scheduler (working only while it holds the lock)."""
    settings = app[SETTINGS]
    scheduler = Scheduler(
        app[POOL],
        app[DATABASE_URL],
        reminder_minutes=settings.ack_reminder_minutes,
        escalate_minutes=settings.ack_escalate_minutes,
        interval=settings.scheduler_interval_seconds,
    )
    scheduler.start()
    app[METRICS].add_gauges(
        "eadrcc_response_scheduler", "Reminders and escalation", scheduler.gauges
    )
    yield
    await scheduler.stop()
