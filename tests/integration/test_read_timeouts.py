"""Read deadlines over real sockets: a client trickling a request head or body is cut
off (408, then closed) while other clients are served; a quiet websocket and an
idle keep-alive connection are not."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from eadrcc.app import create_app
from eadrcc.config import Settings
from tests.conftest import HubTestServer, TokenFactory, bearer
from tests.integration.ws_helpers import stream

Client = TestClient[web.Request, web.Application]
HEAD_TIMEOUT, BODY_TIMEOUT = 1.5, 2.0  # short, so the tests are quick
LIMIT = 30.0  # what "never" means here: far beyond either deadline


@pytest.fixture
async def hub(db_url: str) -> AsyncIterator[Client]:
    settings = Settings(
        database_url=db_url,
        pool_max_size=4,
        header_timeout_seconds=HEAD_TIMEOUT,
        body_timeout_seconds=BODY_TIMEOUT,
    )
    async with TestClient(HubTestServer(create_app(settings))) as client:
        yield client


async def trickle(hub: Client, start: bytes, then: bytes, every: float = 0.25) -> bytes:
    """Connect, send `start`, then `then` a byte at a time until the hub answers or
    closes; everything the hub sent before closing."""
    reader, writer = await asyncio.open_connection(hub.host, hub.port)
    try:
        async with asyncio.timeout(LIMIT):
            writer.write(start)
            for byte in itertools.cycle(then):
                try:
                    got = await asyncio.wait_for(reader.read(65536), every)
                except TimeoutError:
                    writer.write(bytes([byte]))
                    continue
                return got + await reader.read()  # the rest, up to the hub's close
    finally:
        writer.close()
    raise AssertionError("unreachable")


def problem(answer: bytes) -> dict[str, object]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"application/problem+json" in head, head
    parsed: dict[str, object] = json.loads(body)
    return parsed


async def test_a_trickled_head_is_cut_off_while_others_are_served(hub: Client) -> None:
    began = time.monotonic()
    slow = asyncio.create_task(
        trickle(hub, b"GET /healthz HTTP/1.1\r\nHost: hub\r\nX-Slow: ", then=b"a")
    )
    for _ in range(3):
        assert (await hub.get("/healthz")).status == 200
    answer = await slow
    assert time.monotonic() - began >= HEAD_TIMEOUT - 0.05
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert problem(answer)["status"] == 408


async def test_a_connection_that_sends_nothing_is_closed(hub: Client) -> None:
    reader, writer = await asyncio.open_connection(hub.host, hub.port)
    try:
        assert await asyncio.wait_for(reader.read(), LIMIT) == b""  # closed, no answer
    finally:
        writer.close()


async def test_a_trickled_body_gets_408_and_the_connection_closes(
    hub: Client, make_token: TokenFactory
) -> None:
    token = await make_token("duty_officer")
    head = (
        "POST /api/v1/emergencies HTTP/1.1\r\nHost: hub\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
    ).encode()
    slow = asyncio.create_task(trickle(hub, head + b'{"title": "', then=b"a"))
    for _ in range(3):
        assert (await hub.get("/api/v1/partners", headers=bearer(token))).status == 200
    answer = await slow
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert problem(answer)["status"] == 408
    listed = await (await hub.get("/api/v1/emergencies", headers=bearer(token))).json()
    assert not [e for e in listed if e["title"].startswith("a")]  # nothing made


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), LIMIT)
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await asyncio.wait_for(reader.readexactly(length), LIMIT)
    return head


async def test_a_quiet_websocket_and_an_idle_keep_alive_connection_stay_open(
    hub: Client, make_token: TokenFactory
) -> None:
    token = await make_token("duty_officer")
    reader, writer = await asyncio.open_connection(hub.host, hub.port)
    try:
        assert (await _get(reader, writer)).startswith(b"HTTP/1.1 200 ")
        async with stream(str(hub.make_url("")), token) as (ws, _):
            # The clock: a head trickled from now on is cut off after HEAD_TIMEOUT.
            assert (await trickle(hub, b"GET /", then=b"a")).startswith(b"HTTP/1.1 408 ")
            pong = await ws.ping()
            await asyncio.wait_for(pong, LIMIT)  # the websocket is still open both ways
        assert (await _get(reader, writer)).startswith(b"HTTP/1.1 200 ")  # so is this one
    finally:
        writer.close()
