"""Each instance's event hub: follows the log and fans events out to its sockets.

PostgreSQL is the bus. After any transaction that wrote events commits (its
after-commit hook, db.after_commit: HTTP, pollers, schedulers alike; a process
without a hub, like the CLI, sends the NOTIFY itself), the hub is poked: it reads
the log, and that read sends one NOTIFY for the other instances (never inside a
state-changing transaction, so writers do not queue on NOTIFY's commit-time lock;
one per read, so one per burst). Every instance LISTENs on a dedicated connection
with a reconnect loop and, on another's notification — or every `poll_seconds` as
a safety net — reads the events after the last seq it has seen: at once when
someone here waits on the log (a socket, a long poll, a delivery loop), else
QUIET_READ_SECONDS later, one read for all that came meanwhile.
The log's seq order is commit order, so reading "after seq N" never skips one.

Fan-out (events/fanout.py) frames each event once and writes the same bytes to
every socket that may see it; a socket that falls behind waits on a bounded list
and past it is cut off (it resumes with `since`), so no client can slow the
others, and the writer that committed never waits for any of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import structlog

from eadrcc import db, jsontext
from eadrcc.events import log as events_log
from eadrcc.events.fanout import FanOut, Outgoing, Subscriber, text_frame
from eadrcc.events.log import q

log = structlog.get_logger(__name__)
TOKEN_EVENTS = "token."
CHANNEL = "eadrcc_events"  # the same name as in sql/queries/events.sql
PAGE = 1000
# The last events read, (seq, visibility, kind), for waiters that only care about
# some of them (a delivery loop: what its subscription may see).
RECENT = 20_000
LISTENER_NAME = "eadrcc-listener"  # application_name, so operators can tell it apart
# How long a hub that nobody here is waiting on (no socket, no long poll, no
# delivery loop) lets another instance's commits gather before it reads them: one
# read for many, instead of one per commit. It still sees a revoked token well
# within the second the token cache promises.
QUIET_READ_SECONDS = 0.05


class EventHub:
    def __init__(
        self, pool: asyncpg.Pool, url: str, *, poll_seconds: float, heartbeat_seconds: float = 5.0
    ) -> None:
        self._pool, self._url, self._poll = pool, url, poll_seconds
        self._heartbeat = heartbeat_seconds
        self.last_seq = 0
        self.subscribers = FanOut()
        # Called with each page of rows once published (circulation's console receipts).
        self.after_publish: list[Callable[[list[asyncpg.Record]], None]] = []
        self.listening = False
        self.reading = False
        self.counters = {
            "events_read": 0,
            "log_reads": 0,
            "notifications_sent": 0,
            # Other instances' NOTIFYs whose read waited to gather more (nobody here
            # was waiting on the log).
            "notifications_gathered": 0,
            "slow_clients_cut": 0,
            "listener_reconnects": 0,
        }
        self._wake = asyncio.Event()
        self._waiters = 0  # callers in wait_past / wait_for_news now
        self._quiet_read: asyncio.TimerHandle | None = None
        self._first_listen = asyncio.Event()
        # The next read tells the other instances (a commit here poked it); its
        # NOTIFY carries this id, so that this hub's own listener passes over it.
        self._tell = False
        self._id = f"hub-{secrets.token_hex(8)}"
        # A telling read failed: the next read goes without telling (a NOTIFY that
        # cannot be sent, say with PostgreSQL's queue full, must not stop this hub
        # reading), and the NOTIFY is sent on its own once a read succeeds.
        self._untold = False
        self._advanced = asyncio.Condition()
        self._recent: deque[tuple[int, frozenset[str], str]] = deque(maxlen=RECENT)
        self._tasks: list[asyncio.Task[None]] = []
        self._unhook: Callable[[], None] | None = None
        # What else follows the log on this instance (the token cache): called with
        # the kinds of each batch read, and when the hub stops following it live.
        self.on_read: list[Callable[[list[str]], None]] = []
        self.on_lost: list[Callable[[], None]] = []
        # Called with (kind, data) for every `token.` event read (token.revoked,
        # token.secret_rotated; data {"token_id": ...}), before the batch's other
        # observers: this instance's sockets of a revoked token close here.
        self.on_token: list[Callable[[str, dict[str, Any]], None]] = []

    async def start(self) -> None:
        async with self._pool.acquire() as conn:
            self.last_seq = await conn.fetchval(q.head)
        self.reading = True
        # Every transaction in this process that writes events pokes the hub after
        # it commits (db.after_commit): HTTP, CLI commands in-process, pollers.
        self._unhook = events_log.on_commit(self.poke)
        self._tasks = [
            asyncio.create_task(self._read_loop(), name="hub-reader"),
            asyncio.create_task(self._listen_loop(), name="hub-listener"),
            asyncio.create_task(self._heartbeat_loop(), name="hub-heartbeat"),
        ]
        # Start ready: give the listener a moment to connect (it keeps trying after).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_listen.wait(), 5)

    async def stop(self) -> None:
        if self._unhook is not None:
            self._unhook()
            self._unhook = None
        # Cancel again until each task has ended: on Python 3.11 asyncio.wait_for drops
        # a cancellation that lands as what it waits for completes (a poke just before
        # shutdown), and the loop would go on for ever.
        if self._quiet_read is not None:
            self._quiet_read.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            while not task.done():
                await asyncio.wait({task}, timeout=0.5)
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- writers' side -------------------------------------------------------------

    def poke(self) -> None:
        """Something committed here: read it, and have that read tell the other
        instances (one NOTIFY per read, so one per burst)."""
        self._tell = True
        self._wake.set()

    # -- readers' side -------------------------------------------------------------

    def subscribe(self, audience: list[str] | None, bound: int) -> tuple[Subscriber, int]:
        """A queue of every later event the audience may see, and the seq it starts after.

        No await between reading last_seq and joining: the socket's backlog up to
        that seq plus the queue after it is the whole stream, with no seam.
        """
        sub = Subscriber(
            frozenset(audience) if audience is not None else None, bound, self._count_cut
        )
        self.subscribers.add(sub)
        return sub, self.last_seq

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def _count_cut(self) -> None:
        self.counters["slow_clients_cut"] += 1

    async def wait_past(self, seq: int, timeout: float) -> None:
        """Return once the hub has read beyond `seq`, or after `timeout` seconds."""
        with self._waiting():
            async with self._advanced:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._advanced.wait_for(lambda: self.last_seq > seq), timeout
                    )

    async def reach(self, seq: int, timeout: float) -> None:
        """Read the log now, and return once the hub has read up to `seq` (or after
        `timeout` seconds)."""
        self._wake.set()
        await self.wait_past(seq - 1, timeout)

    async def wait_for_news(
        self, after: int, wanted: Callable[[frozenset[str], str], bool], timeout: float
    ) -> None:
        """Return once the hub has read an event after `after` that `wanted(visibility,
        kind)` accepts, or after `timeout` seconds. An event older than those the hub
        keeps counts as news: the caller reads the log and sees for itself.

        A delivery loop waits here rather than in wait_past: an event for one nation
        (its request.circulated, its response row) then wakes that nation's loops,
        not every subscription's, so each commit costs reads in proportion to who
        receives it."""

        checked = after  # each wake looks only at what was read since the last one

        def news() -> bool:
            nonlocal checked
            if self.last_seq <= checked:
                return False
            found = True  # unless seen otherwise: past what is kept, or before this hub
            for seq, visibility, kind in reversed(self._recent):
                if seq <= checked:
                    found = False
                    break
                if wanted(visibility, kind):
                    break
            checked = self.last_seq
            return found

        with self._waiting():
            async with self._advanced:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._advanced.wait_for(news), timeout)

    @contextlib.contextmanager
    def _waiting(self) -> Iterator[None]:
        """Someone here waits on the log: read other instances' commits as they come
        (and at once, if some are waiting to be read)."""
        self._waiters += 1
        if self._quiet_read is not None:
            self._wake.set()
        try:
            yield
        finally:
            self._waiters -= 1

    @property
    def waiters(self) -> int:
        """Callers waiting on the log here now (read-only: tests, diagnostics)."""
        return self._waiters

    def live(self) -> bool:
        """Following the log as it grows (notified), not only polling it."""
        return self.listening and self.reading

    def ready(self) -> str:
        if not self.reading:
            return "failed: event reader cannot read the log"
        return "ok" if self.listening else "degraded: not listening, polling only"

    # -- loops ---------------------------------------------------------------------

    async def _read_loop(self) -> None:
        backoff = 0.1
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
            self._wake.clear()
            try:
                await self._read_new()
                self.reading, backoff = True, 0.1
            except Exception as exc:  # whatever the database did, keep following the log
                self.reading = False
                log.warning("hub_read_failed", error=type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                self._wake.set()

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        # Our own NOTIFY (sent by the read that poke() woke, named by its payload)
        # brings nothing new here: reading again on it cost a round trip per commit.
        if payload == self._id:
            return
        if self.subscribers or self._waiters:
            self._wake.set()
        else:
            # Nobody here waits on it: read another instance's commits together.
            self.counters["notifications_gathered"] += 1
            if self._quiet_read is None:
                self._quiet_read = asyncio.get_running_loop().call_later(
                    QUIET_READ_SECONDS, self._wake.set
                )

    def _token_event(self, kind: str, data: dict[str, Any]) -> None:
        for act in self.on_token:
            try:
                act(kind, data)
            except Exception as exc:  # never re-read (and re-send) the batch for it
                log.warning("token_event_failed", kind=kind, error=type(exc).__name__)

    async def _heartbeat_loop(self) -> None:
        """{"type": "heartbeat", "head": H} to every live socket, one frame for all.

        Consoles call the link live only while these arrive: a hub that is frozen
        (stopped process, wedged loop) goes quiet, and a TCP connection that the
        kernel still holds open no longer passes for a working hub.
        """
        while True:
            await asyncio.sleep(self._heartbeat)
            message = json.dumps({"type": "heartbeat", "head": self.last_seq})
            self.subscribers.beat(text_frame(message))

    async def _read_new(self) -> None:
        if self._quiet_read is not None:  # this read covers what it was waiting for
            self._quiet_read.cancel()
            self._quiet_read = None
        while True:
            # After a failed telling read, read plainly: _tell_apart tells for both.
            tell, self._tell = self._tell and not self._untold, False
            query = "read_all_since_telling" if tell else "read_all_since"
            extra = {"hub": self._id} if tell else {}
            try:
                async with self._pool.acquire() as conn:
                    rows = await conn.fetch(
                        *q.bind(query, since=self.last_seq, limit=PAGE, **extra)
                    )
            except BaseException:
                self._untold = self._untold or tell
                raise
            self.counters["log_reads"] += 1
            self.counters["notifications_sent"] += tell
            if self._untold:
                await self._tell_apart()
            # One read, one buffer per audience, one write per socket (no frames to
            # make while no socket is open here: a worker behind a busy port has none).
            if self.subscribers:
                self.subscribers.publish([Outgoing.from_row(row) for row in rows])
            if rows:
                for row in rows:
                    if row["kind"].startswith(TOKEN_EVENTS):
                        self._token_event(row["kind"], jsontext.loads(row["data_json"]))
                for observer in self.on_read:
                    observer([row["kind"] for row in rows])
                self.last_seq = rows[-1]["seq"]
                self._recent.extend(
                    (row["seq"], frozenset(row["visibility"] or ()), row["kind"]) for row in rows
                )
                self.counters["events_read"] += len(rows)
                self._tell_watchers(rows)
                async with self._advanced:
                    self._advanced.notify_all()
            if len(rows) < PAGE:
                return

    async def _tell_apart(self) -> None:
        """The NOTIFY a failed read did not send, on its own: best effort (the other
        instances' slow poll backs it)."""
        self._untold = False
        try:
            async with self._pool.acquire() as conn:
                await conn.execute(*q.bind("notify_from", hub=self._id))
            self.counters["notifications_sent"] += 1
        except Exception as exc:
            log.warning("hub_notify_failed", error=type(exc).__name__)

    def _tell_watchers(self, rows: list[asyncpg.Record]) -> None:
        # After last_seq moved on: a failing watcher must never make the hub read
        # (and so publish) these rows again.
        for watcher in self.after_publish:
            try:
                watcher(rows)
            except Exception:
                log.exception("hub_watcher_failed")

    async def _listen_loop(self) -> None:
        backoff = 0.1
        while True:
            lost = asyncio.Event()
            try:
                conn = await db.connect(self._url, name=LISTENER_NAME)
            except Exception as exc:  # keep trying: delivery falls back to polling meanwhile
                log.warning("hub_listen_connect_failed", error=type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            try:
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._notified)
                self.listening, backoff = True, 0.1
                self._first_listen.set()
                self._wake.set()  # catch up on anything missed while not listening
                await self._listen_until_lost(conn, lost)
            except Exception as exc:
                log.warning("hub_listener_lost", error=type(exc).__name__)
            finally:
                self.listening = False
                for observer in self.on_lost:
                    observer()
                self.counters["listener_reconnects"] += 1
                with contextlib.suppress(Exception):
                    await conn.close(timeout=1)

    async def _listen_until_lost(self, conn: asyncpg.Connection, lost: asyncio.Event) -> None:
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), 10)
            if not lost.is_set():
                await conn.fetchval("SELECT 1")  # a quiet line: prove it is alive

    def gauges(self) -> Callable[[], dict[str, float]]:
        return lambda: {
            "subscribers": len(self.subscribers),
            "last_seq": self.last_seq,
            "listening": float(self.listening),
            **self.counters,
        }
