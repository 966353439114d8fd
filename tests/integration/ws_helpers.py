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
    return [json.loads(text) for text in await read_texts_until(ws, seq, timeout)]


async def read_texts_until(ws: ClientConnection, seq: int, timeout: float = 30) -> list[str]:
    """As read_until, each event's message as the server sent it (heartbeats skipped)."""
    texts: list[str] = []
    last: int | None = None
    async with asyncio.timeout(timeout):
        while last is None or last < seq:
            text = await ws.recv()
            assert isinstance(text, str), text  # a text frame
            message = json.loads(text)
            if message.get("type") == "heartbeat":
                continue
            assert message["type"] == "event", message
            texts.append(text)
            last = message["seq"]
    return texts


EVENT_KEYS = {"type", "seq", "kind", "emergency_id", "at", "data"}


def event_json(text: str) -> dict[str, Any]:
    """An event message parsed strictly: JSON (no NaN or Infinity), no key twice in
    any object (json.loads alone would keep the last), and exactly an event's keys."""

    def no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), f"a key twice: {keys}"
        return dict(pairs)

    def not_json(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    message: dict[str, Any] = json.loads(
        text, object_pairs_hook=no_repeats, parse_constant=not_json
    )
    assert message.keys() == EVENT_KEYS and message["type"] == "event", message
    return message
