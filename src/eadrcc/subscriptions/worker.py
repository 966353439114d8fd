"""The delivery worker: each instance delivers the subscriptions it holds a lease on.

Every second an instance claims free subscriptions (never leased, or whose
holder's lease ran out: FOR UPDATE SKIP LOCKED, so two instances never take
the same one), and every lease/4 seconds it renews what it holds. A killed
instance stops renewing; once its lease has run out (EADRCC_DELIVERY_LEASE_SECONDS,
20 s) the next claim elsewhere takes over from the cursor in the database.

Each held subscription has its own task, so one slow or failing receiver
never delays another. A task reads what its subscription may see after its
cursor, delivers in seq order, and advances the cursor only while its lease
holds (the SQL checks the holder; before each send the task also checks the
lease has not run out locally, so an instance cut off from the database stops
sending before another may start).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import structlog
from aiohttp import web

from eadrcc.appkeys import HUB, METRICS, POOL, SETTINGS, WEBHOOK_GUARD
from eadrcc.config import Settings
from eadrcc.events.hub import EventHub
from eadrcc.subscriptions import store
from eadrcc.subscriptions.deliver import SubscriptionLoop
from eadrcc.subscriptions.mail import Mailer
from eadrcc.subscriptions.outbound import Guard

log = structlog.get_logger(__name__)
DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)
CLAIM_LIMIT = 1000
CLAIM_EVERY = 1.0
PRUNE_EVERY = 3600.0


class DeliveryWorker:
    def __init__(
        self, *, pool: asyncpg.Pool, hub: EventHub, settings: Settings, guard: Guard
    ) -> None:
        self.pool, self.hub, self.settings, self.guard = pool, hub, settings, guard
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease = settings.delivery_lease_seconds
        self.loops: dict[str, SubscriptionLoop] = {}
        self.lease_ok_until = 0.0  # time.monotonic() until which our leases surely hold
        self.mailer = Mailer(settings)
        self.http = guard.session(
            connect=settings.delivery_connect_timeout_seconds,
            total=settings.delivery_timeout_seconds,
        )
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._manage(), name="delivery-manager")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.gather(*(loop.stop() for loop in self.loops.values()))
        self.loops.clear()
        with contextlib.suppress(*DB_ERRORS):
            async with self.pool.acquire() as conn:
                await store.release(conn, self.holder)  # others take over at once
        await self.http.close()

    def lease_ok(self) -> bool:
        return time.monotonic() < self.lease_ok_until

    def wake(self) -> None:
        """Claim now (a subscription was just created here)."""
        self._wake.set()

    # -- the lease loop --------------------------------------------------------------

    async def _manage(self) -> None:
        last_renew = last_prune = 0.0
        while True:
            try:
                now = time.monotonic()
                if now - last_renew >= self.lease / 4:
                    await self._renew()
                    last_renew = now
                await self._claim()
                if now - last_prune >= PRUNE_EVERY:
                    await self._prune()
                    last_prune = now
            except DB_ERRORS as exc:
                log.warning("delivery_lease_failed", error=type(exc).__name__)
            except Exception as exc:  # a bug must not end delivery: log it and go on
                log.error("delivery_manager_crashed", exc_info=exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), CLAIM_EVERY)
            self._wake.clear()

    async def _renew(self) -> None:
        started = time.monotonic()
        async with self.pool.acquire() as conn:
            held = await store.renew(conn, self.holder, self.lease)
        self.lease_ok_until = started + self.lease * 0.9
        for sub_id in [s for s in self.loops if s not in held]:
            log.info("delivery_lease_lost", subscription_id=sub_id)
            await self._drop(sub_id)

    async def _claim(self) -> None:
        # A claimed lease runs out later than those renewed before it: the local
        # deadline set at the last renewal stays the earliest, so it stays safe.
        async with self.pool.acquire() as conn:
            rows = await store.claim(conn, self.holder, CLAIM_LIMIT, self.lease)
        for row in rows:
            if row["id"] not in self.loops:
                log.info("delivery_lease_taken", subscription_id=row["id"], cursor=row["cursor"])
                self._run(dict(row))

    def _run(self, row: dict[str, Any]) -> None:
        sub_id = row["id"]
        loop = SubscriptionLoop(row, worker=self)
        self.loops[sub_id] = loop

        def ended() -> None:
            # Only if still the one listed: a loop that ended late must not unlist its
            # successor (which would then get a twin at the next claim).
            if self.loops.get(sub_id) is loop:
                del self.loops[sub_id]

        loop.start(on_end=ended)

    async def _drop(self, sub_id: str) -> None:
        loop = self.loops.pop(sub_id, None)
        if loop is not None:
            await loop.stop()

    async def _prune(self) -> None:
        async with self.pool.acquire() as conn:
            await store.prune_deliveries(conn, self.settings.delivery_log_retention_days)

    # -- metrics -----------------------------------------------------------------------

    def gauges(self, name: str) -> dict[str, float]:
        return {sub_id: float(loop.stats[name]) for sub_id, loop in list(self.loops.items())}


GAUGES = {
    "delivered": "Events (webhook) or batches (e-mail) delivered since this instance took it",
    "failures": "Failed delivery attempts since this instance took it",
    "lag_events": "Events the subscription's audience may see that it has not received",
    "last_latency_seconds": "Time the receiver took to answer the last attempt",
    "attempts": "Attempts at the event now at the head of its queue",
    "reads": "Reads of the log for it since this instance took it (woken by its own news)",
}


async def delivery_worker(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: this instance's delivery worker and its per-subscription gauges."""
    worker = DeliveryWorker(
        pool=app[POOL], hub=app[HUB], settings=app[SETTINGS], guard=app[WEBHOOK_GUARD]
    )
    app[DELIVERY] = worker
    for name, doc in GAUGES.items():
        app[METRICS].add_gauges(
            f"eadrcc_delivery_{name}", doc, functools.partial(worker.gauges, name), "subscription"
        )
    worker.start()
    yield
    await worker.stop()


DELIVERY = web.AppKey("delivery_worker", DeliveryWorker)
