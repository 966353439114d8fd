"""Feed pollers against a stand-in source on loopback: conditional GETs, alerts
stored once, back-off after every kind of failure, metrics, and one poller per
feed across instances with a takeover when the holder stops."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from itertools import pairwise
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs

from eadrcc.app import create_app
from eadrcc.config import Settings
from tests.integration.feed_helpers import (
    LAST_MODIFIED,
    SAMPLES,
    FakeFeeds,
    eventually,
    feed_gauges,
)

Client = TestClient[web.Request, web.Application]
GDACS_IDS = ["DR1013588-1", "DR1013682-1", "EQ1199929-1287798", "TC1000643-1"]


@pytest.fixture
async def fake() -> AsyncIterator[FakeFeeds]:
    feeds = FakeFeeds()
    server = TestServer(feeds.app(), host="127.0.0.1")
    await server.start_server()
    feeds.base = str(server.make_url("")).rstrip("/")
    yield feeds
    feeds.release.set()
    await server.close()


def hub_settings(db_url: str, fake: FakeFeeds, *feeds: str, **extra: Any) -> Settings:
    urls = {f"{feed}_url": f"{fake.base}/{feed}" for feed in feeds}
    options: dict[str, Any] = {
        "database_url": db_url,
        "pool_min_size": 1,
        "pool_max_size": 5,
        "feed_interval_seconds": 0.05,
        "feed_timeout_seconds": 0.5,
        "feed_max_backoff_seconds": 0.4,
    }
    return Settings(**(options | urls | extra))


async def start_hub(settings: Settings) -> Client:
    client: Client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    return client


async def stored(pool: asyncpg.Pool, sender: str) -> list[str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT identifier FROM alerts WHERE sender = $1 ORDER BY identifier", sender
        )
    return [r["identifier"] for r in rows]


async def test_gdacs_alerts_are_stored_once_and_polled_conditionally(
    db_url: str, pool: asyncpg.Pool, fake: FakeFeeds
) -> None:
    # A slow hub poll: only the poller's poke can bring the events to the hub quickly.
    hub = await start_hub(hub_settings(db_url, fake, "gdacs", event_poll_seconds=60))
    started = time.time()
    try:
        hits = await fake.wait_hits("gdacs", 4)
        assert "If-None-Match" not in hits[0].headers
        assert all(hit.headers["If-None-Match"] == '"v1"' for hit in hits[1:])
        assert await stored(pool, "gdacs.org") == GDACS_IDS
        # The fourth request has arrived; the poller may not have read its 304 yet.
        await eventually(lambda: _gauge(hub, "gdacs", "not_modified", 3))
        gauges = await feed_gauges(hub, "gdacs")
        assert gauges["alerts_new"] == 4 and gauges["alerts_duplicate"] == 0
        assert gauges["polls"] >= 4
        assert gauges["failures"] == 0 and gauges["holding_lock"] == 1
        assert gauges["last_success_unix"] >= started

        async def hub_has_read_them() -> bool:
            text = await (await hub.get("/metrics")).text()
            read = [float(line.split()[-1]) for line in text.splitlines()
                    if line.startswith('eadrcc_event_hub{name="events_read"}')]  # fmt: skip
            return read[0] >= 4

        await eventually(hub_has_read_them, timeout=30)  # before the 60 s poll could

        fake.etag = '"v2"'  # the same items again under a new validator
        await eventually(lambda: _gauge(hub, "gdacs", "alerts_duplicate", 4))
        assert await stored(pool, "gdacs.org") == GDACS_IDS
        async with pool.acquire() as conn:
            received = await conn.fetch(
                "SELECT received_by, raw FROM alerts WHERE sender = 'gdacs.org'"
            )
            kinds = await conn.fetch("SELECT kind, actor FROM events WHERE kind LIKE 'alert.%'")
        assert {r["received_by"] for r in received} == {"feed:gdacs"}
        assert all(r["raw"].startswith("<item") for r in received)
        assert [(k["kind"], k["actor"]) for k in kinds] == [("alert.received", "feed:gdacs")] * 4
    finally:
        await hub.close()


async def _gauge(hub: Client, feed: str, name: str, at_least: float) -> bool:
    return (await feed_gauges(hub, feed)).get(name, 0) >= at_least


async def test_both_feeds_usgs_by_last_modified(
    db_url: str, pool: asyncpg.Pool, fake: FakeFeeds
) -> None:
    hub = await start_hub(hub_settings(db_url, fake, "gdacs", "usgs"))
    try:
        hits = await fake.wait_hits("usgs", 3)
        await fake.wait_hits("gdacs", 3)
        assert "If-Modified-Since" not in hits[0].headers
        assert all(hit.headers["If-Modified-Since"] == LAST_MODIFIED for hit in hits[1:])
        assert len(await stored(pool, "earthquake.usgs.gov")) == 18
        assert await stored(pool, "gdacs.org") == GDACS_IDS
        async with pool.acquire() as conn:
            raw = await conn.fetchval("SELECT raw FROM alerts WHERE identifier = 'us6000len8'")
        assert json.loads(raw) == json.loads(SAMPLES["usgs"])["features"][0]
        usgs = await feed_gauges(hub, "usgs")
        assert (usgs["alerts_new"], usgs["alerts_duplicate"], usgs["failures"]) == (18, 0, 0)
    finally:
        await hub.close()


async def test_failures_back_off_and_the_poller_recovers(
    db_url: str, pool: asyncpg.Pool, fake: FakeFeeds
) -> None:
    fake.mode["gdacs"] = "500"
    hub = await start_hub(hub_settings(db_url, fake, "gdacs", feed_timeout_seconds=0.3))
    try:
        with capture_logs() as logs:
            hits = await fake.wait_hits("gdacs", 5)
            gaps = [later.at - earlier.at for earlier, later in pairwise(hits)]
            # Waits of 0.1, 0.2, 0.4 and then 0.4 again (the cap), never less.
            assert all(
                gap >= want * 0.95 for gap, want in zip(gaps, [0.1, 0.2, 0.4, 0.4], strict=True)
            )
            gauges = await feed_gauges(hub, "gdacs")
            assert gauges["failures"] >= 4 and gauges["next_poll_seconds"] == 0.4

            for mode in ("hang", "truncated", "cut"):
                fake.mode["gdacs"] = mode
                # The next request meets this mode; the one after shows it was dealt with.
                await fake.wait_hits("gdacs", fake.count("gdacs") + 2)
            assert (await feed_gauges(hub, "gdacs"))["failures"] >= 4 + 3

            fake.mode["gdacs"] = "204"
            await eventually(lambda: _consecutive_failures(hub, 0))
            assert await stored(pool, "gdacs.org") == []

            fake.mode["gdacs"] = "ok"
            await eventually(lambda: _gauge(hub, "gdacs", "alerts_new", 4))
        assert await stored(pool, "gdacs.org") == GDACS_IDS
        errors = {
            (e.get("error"), e.get("detail")) for e in logs if e["event"] == "feed_poll_failed"
        }
        assert {("FetchError", "HTTP 500"), ("ClientPayloadError", "")} <= errors
        assert any(error == "TimeoutError" for error, _ in errors)
        assert (
            "FeedError",
            "not well-formed XML: ParseError: no element found: line 337, column 2",
        ) in errors
        assert not any("127.0.0.1" in json.dumps(e) for e in logs)  # no URLs in the logs
    finally:
        fake.release.set()
        await hub.close()


async def _consecutive_failures(hub: Client, n: int) -> bool:
    return (await feed_gauges(hub, "gdacs"))["consecutive_failures"] == n


async def test_one_instance_polls_and_another_takes_over_when_it_stops(
    db_url: str, pool: asyncpg.Pool, fake: FakeFeeds
) -> None:
    settings = hub_settings(db_url, fake, "gdacs")
    hubs = [await start_hub(settings), await start_hub(settings)]
    try:
        await fake.wait_hits("gdacs", 5)
        gauges = [await feed_gauges(hub, "gdacs") for hub in hubs]
        assert sorted(g["holding_lock"] for g in gauges) == [0, 1]
        holder, other = (0, 1) if gauges[0]["holding_lock"] else (1, 0)
        assert gauges[other]["polls"] == 0  # every request came from the holder
        assert gauges[holder]["polls"] >= 5
        assert await stored(pool, "gdacs.org") == GDACS_IDS
        async with pool.acquire() as conn:
            pollers = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'eadrcc-feed-gdacs'"
            )
        assert pollers == 2  # both instances are connected, one of them waiting

        await hubs[holder].close()
        before = fake.count("gdacs")
        await eventually(lambda: _gauge(hubs[other], "gdacs", "holding_lock", 1))
        await fake.wait_hits("gdacs", before + 3)
        taken_over = await feed_gauges(hubs[other], "gdacs")
        assert taken_over["polls"] >= 3
        # The newcomer starts without validators: one full fetch, every item a duplicate.
        assert taken_over["alerts_new"] == 0 and taken_over["alerts_duplicate"] == 4
        assert await stored(pool, "gdacs.org") == GDACS_IDS
    finally:
        for hub in hubs:
            await hub.close()


async def test_no_feed_is_polled_unless_configured(db_url: str, fake: FakeFeeds) -> None:
    hub = await start_hub(hub_settings(db_url, fake))
    try:
        assert await feed_gauges(hub, "gdacs") == {} and await feed_gauges(hub, "usgs") == {}
        assert (await hub.get("/readyz")).status == 200
        assert fake.hits == []
    finally:
        await hub.close()
