"""One subscription's delivery task: read after the cursor, send in order, advance.

At least once, in seq order: the cursor moves only after the receiver
acknowledged, and an event is retried (with backoff) until it is, so nothing
behind it overtakes it. A failure stays this subscription's problem: it sleeps
out its backoff in its own task while the others carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog

from eadrcc import db, policy
from eadrcc.circulation import service as circulation
from eadrcc.events import log as events
from eadrcc.events.fanout import event_message
from eadrcc.subscriptions import store, webhook
from eadrcc.subscriptions.mail import MailError, batch_of
from eadrcc.subscriptions.service import subscriber_principal

if TYPE_CHECKING:
    from eadrcc.subscriptions.worker import DeliveryWorker

log = structlog.get_logger(__name__)
DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)
PAGE = 200
SUSPENDED = "subscription.suspended"
CIRCULATED = "request.circulated"
DELIVERY_ACTOR = "hub:delivery"


class LeaseLost(Exception):
    """Another instance may own this subscription now: stop at once."""


def backoff(attempts: int, *, first: float, cap: float) -> float:
    """The wait after `attempts` failures in a row: `first` doubling to `cap`, with
    jitter (between half and all of it) so that receivers coming back are not hit by
    every subscription at the same instant."""
    full = min(cap, first * 2.0 ** min(attempts - 1, 40))
    return full / 2 + random.uniform(0, full / 2)


class SubscriptionLoop:
    def __init__(self, row: dict[str, Any], *, worker: DeliveryWorker) -> None:
        self.row, self.worker = row, worker
        self.id: str = row["id"]
        # The SQL side of policy.visible: the same audience /ws filters with.
        self.audience = policy.audience(subscriber_principal(row))
        self.stats: dict[str, float] = dict.fromkeys(
            ("delivered", "failures", "lag_events", "last_latency_seconds", "attempts", "reads"),
            0.0,
        )
        self.stats["attempts"] = row["attempts"]
        self._task: asyncio.Task[None] | None = None

    def start(self, on_end: Callable[[], object]) -> None:
        self._task = asyncio.create_task(self._run(), name=f"deliver-{self.id}")
        self._task.add_done_callback(lambda _t: on_end())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- the loop ----------------------------------------------------------------------

    async def _run(self) -> None:
        pause = 0.1
        while True:
            try:
                await self._step()
                pause = 0.1
            except LeaseLost:
                log.info("delivery_stopped_lease_lost", subscription_id=self.id)
                return
            except DB_ERRORS as exc:  # the database is away: wait, then read again
                log.warning(
                    "delivery_db_error",
                    subscription_id=self.id,
                    error=type(exc).__name__,
                    detail=str(exc)[:200],
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)
            except Exception as exc:  # a bug must not silently end this subscription
                log.error("delivery_crashed", subscription_id=self.id, exc_info=exc)
                await asyncio.sleep(5)

    async def _step(self) -> None:
        await self._wait_for_retry_time()
        head, pending = await self._read()
        self.stats["lag_events"] = len(pending)
        if not pending:
            # Nothing for us up to `head`: sleep until this instance's hub reads an event
            # past it that we may receive (woken at once by a commit here, by NOTIFY
            # from elsewhere, or by its poll), or for a poll interval at most.
            await self.worker.hub.wait_for_news(
                head, self._wants, self.worker.settings.event_poll_seconds
            )
            return
        if self.row["kind"] == "webhook":
            await self._send_webhooks(pending)
        else:
            await self._send_mail(pending)

    def _wants(self, visibility: frozenset[str], kind: str) -> bool:
        """Would `pending_events` return this event? (Its visibility and kind filters.)"""
        if self.audience is not None and visibility.isdisjoint(self.audience):
            return False
        prefixes = self.row["events"]
        return not prefixes or any(kind.startswith(p) for p in prefixes)

    async def _wait_for_retry_time(self) -> None:
        due: datetime | None = self.row["next_attempt_at"]
        if due is not None:
            wait = (due - datetime.now(UTC)).total_seconds()
            if wait > 0:
                await asyncio.sleep(wait)

    async def _read(self) -> tuple[int, list[dict[str, Any]]]:
        self.stats["reads"] += 1
        async with self.worker.pool.acquire() as conn:
            return await store.pending_events(
                conn,
                after=self.row["cursor"],
                audience=self.audience,
                prefixes=list(self.row["events"]),
                until=self.row["pending_until"],
                limit=PAGE,
            )

    # -- webhooks ----------------------------------------------------------------------

    async def _send_webhooks(self, pending: list[dict[str, Any]]) -> None:
        done: list[tuple[int, int, int, float, datetime]] = []
        for event in pending:
            if not self.worker.lease_ok():
                raise LeaseLost  # unlogged sends are sent again by the next holder
            seq = event["seq"]
            started = datetime.now(UTC)
            outcome = await webhook.post(
                self.worker.http,
                self.worker.guard,
                url=self.row["url"],
                secret=self.row["secret"],
                delivery=f"{self.id}:{seq}",
                body=event_message(event).encode(),
            )
            self.stats["last_latency_seconds"] = outcome.latency_ms / 1000
            if not outcome.ok:
                # What went through is logged first, then the failure of this one.
                await self._delivered(done, pending)
                await self._failed(seq, seq, outcome.error or "failed", outcome.latency_ms)
                return
            done.append((seq, seq, self.row["attempts"] + 1, outcome.latency_ms, started))
            self.row["attempts"] = 0
        await self._delivered(done, pending)

    # -- e-mail ------------------------------------------------------------------------

    async def _send_mail(self, pending: list[dict[str, Any]]) -> None:
        if self.row["pending_until"] is None:
            # Gather: a message goes once its oldest event has waited a batch window.
            due = pending[0]["at"] + timedelta(seconds=self.worker.settings.mail_batch_seconds)
            wait = (due - datetime.now(UTC)).total_seconds()
            if wait > 0:
                await asyncio.sleep(wait)
                _head, pending = await self._read()
        batch = batch_of(pending)
        first, last = batch[0]["seq"], batch[-1]["seq"]
        if not self.worker.lease_ok():
            raise LeaseLost
        started = datetime.now(UTC)
        clock = time.perf_counter()
        try:
            async with self.worker.pool.acquire() as conn:
                message = await self.worker.mailer.message(conn, self.row, batch)
            await self.worker.mailer.send(message)  # no database connection held meanwhile
        except MailError as exc:
            latency = (time.perf_counter() - clock) * 1000
            await self._failed(first, last, str(exc), latency)
            return
        latency = (time.perf_counter() - clock) * 1000
        self.stats["last_latency_seconds"] = latency / 1000
        await self._delivered([(last, first, self.row["attempts"] + 1, latency, started)], batch)

    # -- bookkeeping -------------------------------------------------------------------

    async def _delivered(
        self, log_rows: list[tuple[int, int, int, float, datetime]], sent: list[dict[str, Any]]
    ) -> None:
        if not log_rows:
            return
        cursor = log_rows[-1][0]
        sent = [e for e in sent if e["seq"] <= cursor]
        async with db.transaction(self.worker.pool) as conn:
            ok = await store.delivered(
                conn,
                subscription_id=self.id,
                holder=self.worker.holder,
                cursor=cursor,
                log=log_rows,
            )
            if not ok:
                raise LeaseLost
            await self._after_delivery(conn, sent)
        self.row.update(cursor=cursor, attempts=0, next_attempt_at=None, pending_until=None)
        self.stats["delivered"] += len(log_rows)
        self.stats["attempts"] = 0

    async def _after_delivery(self, conn: asyncpg.Connection, sent: list[dict[str, Any]]) -> None:
        """A nation's channel delivered an RFA's circulation: its row in the response
        matrix moves to `delivered`, in the transaction that logs the delivery."""
        country = self.row["country"]
        if self.row["audience"] != "poc":
            return  # a staff or integration channel is not the nation's
        pairs = {
            (e["emergency_id"], country)
            for e in sent
            if e["kind"] == CIRCULATED and e["emergency_id"] is not None
        }
        if pairs:
            await circulation.mark_delivered_many(conn, sorted(pairs), actor=DELIVERY_ACTOR)

    async def _failed(self, first: int, seq: int, error: str, latency_ms: float | None) -> None:
        settings = self.worker.settings
        attempts = self.row["attempts"] + 1
        wait = backoff(
            attempts,
            first=settings.delivery_min_backoff_seconds,
            cap=settings.delivery_max_backoff_seconds,
        )
        next_at = datetime.now(UTC) + timedelta(seconds=wait)
        async with self.worker.pool.acquire() as conn:
            row = await store.failed(
                conn,
                subscription_id=self.id,
                holder=self.worker.holder,
                first_seq=first,
                seq=seq,
                error=error[:500],
                next_attempt_at=next_at,
                latency_ms=latency_ms,
            )
        if row is None:
            raise LeaseLost
        self.row.update(
            attempts=row["attempts"],
            next_attempt_at=next_at,
            pending_until=seq if self.row["kind"] == "email" else None,
        )
        self.stats["failures"] += 1
        self.stats["attempts"] = row["attempts"]
        log.info(
            "delivery_failed",
            subscription_id=self.id,
            seq=seq,
            attempts=row["attempts"],
            error=error[:200],
            retry_in=round(wait, 3),
        )
        give_up = timedelta(hours=settings.delivery_give_up_hours)
        if datetime.now(UTC) - row["failing_since"] >= give_up:
            await self._suspend(error)

    async def _suspend(self, error: str) -> None:
        async with db.transaction(self.worker.pool) as conn:
            row = await store.suspend(conn, self.id, self.worker.holder)
            if row is None:
                raise LeaseLost
            events.record(
                conn,
                kind=SUSPENDED,
                actor=DELIVERY_ACTOR,
                visibility=(),  # staff only
                data={
                    "id": self.id,
                    "country": row["country"],
                    "kind": row["kind"],
                    "failing_since": row["failing_since"].isoformat(),
                    "cursor": row["cursor"],
                    "last_error": error[:500],
                },
            )
        # The event wakes every hub through the transaction's after-commit hook.
        log.warning("subscription_suspended", subscription_id=self.id, country=row["country"])
        raise LeaseLost  # not ours to deliver any more
