"""Feed pollers: GDACS and USGS, each polled by one instance at a time.

Every instance runs a poller per configured feed, but only the one whose
dedicated connection holds the feed's session-level advisory lock fetches; the
others retry the lock every interval, so when the holder dies PostgreSQL frees
its lock and another instance takes over. Should two ever overlap (a holder cut
off mid-poll), nothing is stored twice: `ingest` de-duplicates by
sender/identifier/sent. The lock only spares the source the load.

Fetching is a conditional GET. Failures of any kind (5xx, timeouts, truncated or
unparsable bodies, the database) are logged, counted and followed by an
exponential back-off; the loop itself never ends until the app stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
import asyncpg
import structlog
from aiohttp import web

from eadrcc import __version__, db
from eadrcc.alerts import service
from eadrcc.alerts.feeds import FeedError, FeedItem, read_gdacs_rss, read_usgs_geojson
from eadrcc.appkeys import DATABASE_URL, HUB, METRICS, PARSER, POOL, SETTINGS
from eadrcc.config import Settings
from eadrcc.errors import EadrccError, TooSlowToRead, Unavailable
from eadrcc.events.hub import EventHub
from eadrcc.parsepool import ParsePool

log = structlog.get_logger(__name__)
q = db.queries("feeds")
DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)
READ_ERRORS = (TooSlowToRead, Unavailable)  # the parse pool: over budget, or a worker died
COUNTERS = (
    "polls",
    "not_modified",
    "failures",
    "consecutive_failures",
    "alerts_new",
    "alerts_duplicate",
    "alerts_rejected",
)


@dataclass(frozen=True)
class Feed:
    name: str
    url: str
    read: Callable[[bytes], list[FeedItem]]
    lock_key: int  # the advisory lock that makes one instance its poller


def configured(settings: Settings) -> list[Feed]:
    """The feeds with a URL set; none by default, as the hub may sit on a closed network."""
    feeds = [
        ("gdacs", settings.gdacs_url, read_gdacs_rss, 0x6561_6472_6664_0001),  # "eadrfd" 1
        ("usgs", settings.usgs_url, read_usgs_geojson, 0x6561_6472_6664_0002),
    ]
    return [Feed(name, url, read, key) for name, url, read, key in feeds if url]


def backoff(interval: float, cap: float, failures: int) -> float:
    """The wait before the next try: the interval, doubled per failure in a row, capped."""
    return min(interval * 2.0 ** min(failures, 32), max(cap, interval))


async def feed_pollers(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: a poller per configured feed, with its gauges in /metrics."""
    settings = app[SETTINGS]
    pollers = [
        FeedPoller(
            feed,
            pool=app[POOL],
            db_url=app[DATABASE_URL],
            hub=app[HUB],
            parser=app[PARSER],
            settings=settings,
        )
        for feed in configured(settings)
    ]
    for poller in pollers:
        poller.start()
        app[METRICS].add_gauges(
            f"eadrcc_feed_{poller.feed.name}", f"The {poller.feed.name} feed poller", poller.gauges
        )
    yield
    for poller in pollers:
        await poller.stop()


class FetchError(Exception):
    """The source answered, but not with a feed (an error status, too large a body)."""


class FeedPoller:
    def __init__(
        self,
        feed: Feed,
        *,
        pool: asyncpg.Pool,
        db_url: str,
        hub: EventHub,
        parser: ParsePool,
        settings: Settings,
    ) -> None:
        self.feed, self._pool, self._db_url, self._hub = feed, pool, db_url, hub
        self._parser = parser
        self._interval = settings.feed_interval_seconds
        self._max_backoff = settings.feed_max_backoff_seconds
        self._timeout = settings.feed_timeout_seconds
        self._max_bytes = settings.feed_max_bytes
        self._max_age = timedelta(hours=settings.alert_max_age_hours)
        self._lock_conn: asyncpg.Connection | None = None
        self._etag: str | None = None
        self._last_modified: str | None = None
        self._task: asyncio.Task[None] | None = None
        self.holding = False
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.last_success = 0.0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"feed-{self.feed.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def gauges(self) -> dict[str, float]:
        return {
            **self.counters,
            "last_success_unix": self.last_success,
            "holding_lock": float(self.holding),
            "next_poll_seconds": self.delay(),
        }

    def delay(self) -> float:
        return backoff(self._interval, self._max_backoff, self.counters["consecutive_failures"])

    # -- the loop ------------------------------------------------------------------

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        headers = {"User-Agent": f"eadrcc/{__version__} (feed poller)"}
        try:
            async with aiohttp.ClientSession(timeout=timeout, headers=headers) as http:
                while True:
                    if await self._hold_lock():
                        await self._poll_safely(http)
                    await asyncio.sleep(self.delay() if self.holding else self._interval)
        finally:
            await self._let_go()

    async def _hold_lock(self) -> bool:
        try:
            if self._lock_conn is None or self._lock_conn.is_closed():
                self.holding = False
                self._lock_conn = await db.connect(
                    self._db_url, name=f"eadrcc-feed-{self.feed.name}"
                )
            was = self.holding
            # Holding: prove the session (and so the lock) is alive. Else: try to take it.
            query = q.bind("holding" if was else "try_lock", key=self.feed.lock_key)
            self.holding = bool(await self._lock_conn.fetchval(*query, timeout=10))
        except DB_ERRORS as exc:
            log.warning("feed_lock_check_failed", feed=self.feed.name, error=type(exc).__name__)
            await self._let_go()
            return False
        if self.holding != was:
            log.info("feed_lock_taken" if self.holding else "feed_lock_lost", feed=self.feed.name)
        return self.holding

    async def _let_go(self) -> None:
        self.holding, conn, self._lock_conn = False, self._lock_conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # closing ends the session and frees the lock
                await conn.close(timeout=2)

    async def _poll_safely(self, http: aiohttp.ClientSession) -> None:
        self.counters["polls"] += 1
        try:
            await self._poll(http)
        except (aiohttp.ClientError, FetchError, FeedError, *READ_ERRORS, *DB_ERRORS) as exc:
            readable = isinstance(exc, FeedError | FetchError | TooSlowToRead | Unavailable)
            self._failed(type(exc).__name__, str(exc) if readable else "")
            return
        except Exception as exc:  # a bug must not end the poller: log it, back off, go on
            log.error("feed_poll_crashed", feed=self.feed.name, exc_info=exc)
            self._failed(type(exc).__name__, "")
            return
        self.counters["consecutive_failures"] = 0
        self.last_success = time.time()

    def _failed(self, error: str, detail: str) -> None:
        self.counters["failures"] += 1
        self.counters["consecutive_failures"] += 1
        # No URL in the log: a feed URL may carry an access key.
        log.warning(
            "feed_poll_failed",
            feed=self.feed.name,
            error=error,
            detail=detail[:300],
            retry_in=round(self.delay(), 3),
        )

    # -- one poll ------------------------------------------------------------------

    async def _poll(self, http: aiohttp.ClientSession) -> None:
        headers = {}
        if self._etag:
            headers["If-None-Match"] = self._etag
        if self._last_modified:
            headers["If-Modified-Since"] = self._last_modified
        async with http.get(self.feed.url, headers=headers) as resp:
            if resp.status == 304:
                self.counters["not_modified"] += 1
                return
            if resp.status == 204:  # an empty feed
                return
            if resp.status != 200:
                raise FetchError(f"HTTP {resp.status}")
            body = await self._read_body(resp)
            validators = resp.headers.get("ETag"), resp.headers.get("Last-Modified")
        items = await self._parser.run(self.feed.read, body)  # a large feed: off the loop
        await self._ingest(items)
        # Remembered only once everything is stored: after a failure, fetch it all again.
        self._etag, self._last_modified = validators

    async def _read_body(self, resp: aiohttp.ClientResponse) -> bytes:
        if resp.content_length is not None and resp.content_length > self._max_bytes:
            raise FetchError(f"body of {resp.content_length} bytes is over the limit")
        body = bytearray()
        async for chunk in resp.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > self._max_bytes:
                raise FetchError(f"body over the limit of {self._max_bytes} bytes")
        return bytes(body)

    async def _ingest(self, items: list[FeedItem]) -> None:
        created = 0
        try:
            for item in items:
                created += await self._ingest_one(item)
        finally:
            if created:  # consoles get the new alerts now, not at the hub's next poll
                self._hub.poke()

    async def _ingest_one(self, item: FeedItem) -> int:
        try:
            _, new = await service.ingest(
                pool=self._pool,
                alert=item.alert,
                actor=f"feed:{self.feed.name}",
                raw=item.raw,
                max_age=self._max_age,
            )
        except EadrccError as exc:  # the service refused this one alert; the rest go on
            self.counters["alerts_rejected"] += 1
            log.warning(
                "feed_alert_rejected",
                feed=self.feed.name,
                identifier=item.alert.identifier,
                error=exc.detail,
            )
            return 0
        self.counters["alerts_new" if new else "alerts_duplicate"] += 1
        return int(new)
