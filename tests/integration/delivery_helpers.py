"""Real webhook receivers on loopback (aiohttp servers) for the delivery tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from eadrcc.alerts.signature import verify

# What a receiver answers to the n-th request it gets (0-based): a status, or
# "hang" (never answer) or "reset" (drop the connection).
Behaviour = Callable[[int], int | str]


def always(status: int) -> Behaviour:
    return lambda _n: status


@dataclass
class Received:
    delivery: str
    body: str
    headers: dict[str, str]

    @property
    def seq(self) -> int:
        return int(self.delivery.rsplit(":", 1)[1])


@dataclass
class Receiver:
    behaviour: Behaviour = field(default_factory=lambda: always(204))
    secret: str | None = None
    delay: float = 0.0  # a slow receiver: seconds it takes before answering
    requests: list[Received] = field(default_factory=list)  # every request, answered or not
    acknowledged: list[Received] = field(default_factory=list)  # those answered 2xx
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self, path: str = "/hook") -> Receiver:
        app = web.Application()
        app.router.add_post(path, self._handle)
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}{path}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        got = Received(
            request.headers.get("X-EADRCC-Delivery", ""), body.decode(), dict(request.headers)
        )
        if self.secret is not None:  # checked as a nation's receiver would
            verify(
                secrets=(self.secret,),
                timestamp=request.headers.get("X-EADRCC-Timestamp"),
                signature=request.headers.get("X-EADRCC-Signature"),
                body=body,
                window_seconds=300,
            )
        n = len(self.requests)
        self.requests.append(got)
        if self.delay:
            await asyncio.sleep(self.delay)
        answer = self.behaviour(n)
        if answer == "hang":
            await asyncio.sleep(3600)
        if answer == "reset":
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=500)
        assert isinstance(answer, int)
        if 200 <= answer < 300:
            async with self.changed:
                self.acknowledged.append(got)
                self.changed.notify_all()
        if 300 <= answer < 400:
            return web.Response(status=answer, headers={"Location": "http://169.254.169.254/"})
        return web.Response(status=answer)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 30) -> None:
        async with asyncio.timeout(timeout), self.changed:
            await self.changed.wait_for(predicate)

    def first_receipts(self) -> list[Received]:
        """Each delivery id once, as first acknowledged (the receiver's de-duplication)."""
        seen: dict[str, Received] = {}
        for got in self.acknowledged:
            seen.setdefault(got.delivery, got)
        return list(seen.values())

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(r.body) for r in self.first_receipts()]


async def wait_until(check: Callable[[], Any], timeout: float = 30, every: float = 0.05) -> Any:
    """Poll an async or plain condition until it is truthy (a database state, say)."""
    async with asyncio.timeout(timeout):
        while True:
            value = check()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
            await asyncio.sleep(every)
