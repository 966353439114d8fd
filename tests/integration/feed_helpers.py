"""A stand-in for GDACS and USGS on loopback: serves the recorded samples with
validators, fails on demand, and records every request it gets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web
from aiohttp.test_utils import TestClient
from multidict import CIMultiDictProxy
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import TESTDATA

FEEDS = TESTDATA / "feeds"
SAMPLES = {
    "gdacs": (FEEDS / "aio-georss-gdacs_fixture_gdacs-1.rss.xml").read_bytes(),
    "usgs": (FEEDS / "usgs_significant_month_20231011.geojson").read_bytes(),
}
LAST_MODIFIED = "Wed, 11 Oct 2023 20:16:31 GMT"
Mode = Literal["ok", "500", "hang", "truncated", "cut", "204"]


@dataclass
class Hit:
    feed: str
    headers: CIMultiDictProxy[str]
    at: float


@dataclass
class FakeFeeds:
    """`/gdacs` answers with an ETag, `/usgs` with Last-Modified; both honour them."""

    base: str = ""  # the server's URL, once it listens
    mode: dict[str, Mode] = field(default_factory=lambda: {"gdacs": "ok", "usgs": "ok"})
    etag: str = '"v1"'
    hits: list[Hit] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)  # lets "hang" answer
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{feed:gdacs|usgs}", self._serve)
        return app

    def count(self, feed: str) -> int:
        return sum(hit.feed == feed for hit in self.hits)

    async def wait_hits(self, feed: str, n: int, timeout: float = 30) -> list[Hit]:
        """Wait until `feed` has had at least `n` requests; return them."""
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: self.count(feed) >= n), timeout)
        return [hit for hit in self.hits if hit.feed == feed]

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        feed = request.match_info["feed"]
        async with self._arrived:
            self.hits.append(Hit(feed, request.headers, time.monotonic()))
            self._arrived.notify_all()
        body, mode = SAMPLES[feed], self.mode[feed]
        if mode == "500":
            return web.Response(status=500, text="upstream trouble")
        if mode == "204":
            return web.Response(status=204)
        if mode == "hang":  # longer than the client's timeout, until the test lets go
            await self.release.wait()
        if mode == "cut":  # a complete HTTP answer holding half a document
            return web.Response(body=body[: len(body) // 2])
        if mode == "truncated":  # the connection drops before Content-Length bytes came
            return await self._truncated(request, body)
        return self._conditional(feed, request, body)

    def _conditional(self, feed: str, request: web.Request, body: bytes) -> web.Response:
        if feed == "gdacs":
            if request.headers.get("If-None-Match") == self.etag:
                return web.Response(status=304)
            return web.Response(body=body, headers={"ETag": self.etag})
        if request.headers.get("If-Modified-Since") == LAST_MODIFIED:
            return web.Response(status=304)
        return web.Response(body=body, headers={"Last-Modified": LAST_MODIFIED})

    async def _truncated(self, request: web.Request, body: bytes) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = len(body)
        response.force_close()
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        assert request.transport is not None
        request.transport.close()
        return response


async def feed_gauges(
    client: TestClient[web.Request, web.Application], feed: str
) -> dict[str, float]:
    """The feed's gauges as the hub's /metrics shows them."""
    text = await (await client.get("/metrics")).text()
    return {
        sample.labels["name"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == f"eadrcc_feed_{feed}"
        for sample in family.samples
    }


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30) -> None:
    """Wait until `check()` holds, looking again every 20 ms; fail after `timeout`
    (generous: a loaded CI machine may take seconds where a quiet one takes ms)."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)
