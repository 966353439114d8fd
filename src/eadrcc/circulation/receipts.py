"""Console receipts: a `request.circulated` event that reached an open console of
its nation counts as delivered.

What "reached" means here, honestly: this instance wrote the event to the
socket of a POC of that nation (to the kernel's buffer, or queued behind it), as
a live event or in the backlog of a resuming console. It is not a read receipt
from the browser; a POC opening the RFA (`seen`) is that.

Nothing is written per pushed message: the pushers only add (emergency, country)
to a set, and every `FLUSH_SECONDS` one transaction moves the `notified` rows
among them to `delivered`. A crash loses at most that last second of receipts,
which only leaves rows at `notified` (an under-statement, never a false claim).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import asyncpg
import structlog
from aiohttp import web

from eadrcc.appkeys import HUB, POOL, RECEIPTS
from eadrcc.auth import Principal, Role
from eadrcc.circulation import service
from eadrcc.db import transaction
from eadrcc.events.hub import EventHub
from eadrcc.policy import audience

log = structlog.get_logger(__name__)
FLUSH_SECONDS = 1.0
ACTOR = "system:console"


class Receipts:
    def __init__(self, pool: asyncpg.Pool, hub: EventHub) -> None:
        self._pool, self._hub = pool, hub
        self._pending: set[tuple[str, str]] = set()
        self._task: asyncio.Task[None] | None = None
        self.counters = {"flushes": 0, "rows_delivered": 0, "flush_failures": 0}

    # -- what the pushers call (no I/O) --------------------------------------------

    def note(self, emergency_id: str | None, country: str) -> None:
        if emergency_id is not None:
            self._pending.add((emergency_id, country))

    def pushed(self, rows: Iterable[Any]) -> None:
        """The hub published these rows: note circulated ones a live console of
        their nation was sent."""
        for row in rows:
            if row["kind"] != service.CIRCULATED:
                continue
            for country in row["visibility"]:
                held = audience(Principal.for_country(country))
                if self._hub.subscribers.reaches(frozenset(held or ())):
                    self.note(row["emergency_id"], country)

    def for_socket(self, who: Principal) -> Callable[[Any], None] | None:
        """For a socket's backlog: a function to call with each row it sent, or
        None when the socket is no POC console (staff seeing an event is no receipt)."""
        country = who.country
        if who.role is not Role.POC or country is None:
            return None

        def sent(row: Any) -> None:
            if row["kind"] == service.CIRCULATED:
                self.note(row["emergency_id"], country)

        return sent

    # -- the flusher ---------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="circulation-receipts")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.flush()  # what arrived in the last second

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await self.flush()
            except Exception as exc:  # the database is away: keep them for the next try
                self.counters["flush_failures"] += 1
                log.warning("receipts_flush_failed", error=type(exc).__name__)

    async def flush(self) -> int:
        """Move the noted rows to `delivered`; their events wake the hubs at commit."""
        if not self._pending:
            return 0
        pairs, self._pending = self._pending, set()
        try:
            async with transaction(self._pool) as conn:
                moved = await service.mark_delivered_many(conn, sorted(pairs), actor=ACTOR)
        except BaseException:
            self._pending |= pairs
            raise
        self.counters["flushes"] += 1
        self.counters["rows_delivered"] += moved
        return moved


async def console_receipts(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: this instance's receipts, fed by its hub and sockets."""
    receipts = Receipts(app[POOL], app[HUB])
    app[RECEIPTS] = receipts
    app[HUB].after_publish.append(receipts.pushed)
    receipts.start()
    yield
    await receipts.stop()
