"""A websocket client for the tests, built on the `websockets` library: an
implementation independent of our server's.

The timeouts only bound waits for what does come, so they are generous: CI runs
on a small machine that other suites load."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://").rstrip("/") + "/ws"


@asynccontextmanager
async def stream(
    url: str, token: str, since: int | None = None, **options: Any
) -> AsyncIterator[tuple[ClientConnection, dict[str, Any]]]:
    """Connect, say hello, and yield the socket with the welcome message."""
    async with connect(ws_url(url), open_timeout=30, **options) as ws:
        hello: dict[str, Any] = {"type": "hello", "token": token}
        if since is not None:
            hello["since"] = since
        await ws.send(json.dumps(hello))
        welcome = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert welcome["type"] == "welcome", welcome
        yield ws, welcome


async def next_message(
    ws: ClientConnection, timeout: float = 30, *, heartbeats: bool = False
) -> dict[str, Any]:
    """The next message; heartbeats are skipped unless asked for (a client may ignore them)."""
    async with asyncio.timeout(timeout):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if heartbeats or message.get("type") != "heartbeat":
                return message


async def read_until(ws: ClientConnection, seq: int, timeout: float = 30) -> list[dict[str, Any]]:
    """Events until one with seq >= `seq` arrives (events the caller may not see
    never arrive, so pass the last seq it may see)."""
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while not got or got[-1]["seq"] < seq:
            message = await next_message(ws, timeout)
            assert message["type"] == "event", message
            got.append(message)
    return got
