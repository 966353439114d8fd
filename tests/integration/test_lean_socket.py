"""A live /ws after its handover to events/lean.py, against the `websockets`
library as the client (and raw frames it serializes, for what it would not send):
aiohttp lets the connection go, pings and pongs, the close handshake, fragmented
and oversized messages, unmasked frames and a peer that stops answering pings.
Revocation (4001), the slow-client cut-off (4008) and shutdown (1001) are in
test_revocation.py, test_websocket.py and test_tail_and_restarts.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from eadrcc.app import create_app
from eadrcc.appkeys import HUB, LIVE_SOCKETS
from eadrcc.config import Settings
from tests.conftest import TokenFactory
from tests.integration.ws_helpers import next_message, stream

Client = TestClient  # type: ignore[type-arg]
PING_SECONDS = 0.3


@pytest.fixture
async def client(db_url: str) -> AsyncIterator[Client]:
    settings = Settings(
        database_url=db_url,
        pool_min_size=1,
        pool_max_size=5,
        ws_ping_seconds=PING_SECONDS,
        ws_heartbeat_seconds=PING_SECONDS,
    )
    async with TestClient(TestServer(create_app(settings))) as c:
        yield c


async def until(condition: Callable[[], bool], timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def live(client: Client) -> int:
    return len(client.app[LIVE_SOCKETS])


def url(client: Client) -> str:
    return str(client.make_url(""))


async def test_a_live_socket_leaves_aiohttp_answers_pings_and_closes_cleanly(
    client: Client, make_token: TokenFactory
) -> None:
    token = await make_token("observer")
    async with stream(url(client), token) as (ws, _):
        await until(lambda: live(client) == 1)
        assert client.server.runner is not None
        assert client.server.runner.server is not None
        assert client.server.runner.server.connections == []  # aiohttp let it go
        await asyncio.wait_for(await ws.ping(b"are you there"), 30)
        await ws.send("dropped")  # a whole text message: read and ignored
        await ws.send(["frag", "mented"])  # a fragmented one, likewise
        await ws.send(b"\x00binary")
        await asyncio.wait_for(await ws.ping(), 30)
        # Several protocol pings later (the library answers them), still live.
        for _ in range(4):
            assert (await next_message(ws, heartbeats=True))["type"] == "heartbeat"
            await asyncio.sleep(PING_SECONDS)
        assert live(client) == 1
        await ws.close()
        rcvd = ws.protocol.close_rcvd
        assert rcvd is not None and rcvd.code == 1000  # echoed
    await until(lambda: live(client) == 0 and len(client.app[HUB].subscribers) == 0)


@pytest.mark.parametrize(
    "message",
    [
        pytest.param("x" * 2**20, id="one 1 MiB frame"),
        pytest.param(["y" * 40_000, "y" * 40_000], id="fragments over 64 KiB"),
    ],
)
async def test_an_oversized_message_is_closed_with_1009(
    client: Client, make_token: TokenFactory, message: str | list[str]
) -> None:
    token = await make_token("observer")
    async with stream(url(client), token) as (ws, _):
        await until(lambda: live(client) == 1)
        await ws.send(message)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    await until(lambda: live(client) == 0 and len(client.app[HUB].subscribers) == 0)


class RawClient:
    """A websocket client by hand, to send what the library would not (an unmasked
    frame) and not do what it always does (answer pings). Frames are the library's."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buffer = StreamReader()

    @classmethod
    async def welcomed(cls, base: str, token: str, *, then: Frame | None = None) -> RawClient:
        """Connected and welcomed; `then` goes in the same write as the hello."""
        parts = urlsplit(base)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(
            b"GET /ws HTTP/1.1\r\nHost: hub\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        assert head.startswith(b"HTTP/1.1 101"), head
        raw = cls(reader, writer)
        hello = Frame(Opcode.TEXT, json.dumps({"type": "hello", "token": token}).encode())
        raw.writer.write(hello.serialize(mask=True) + (then.serialize(mask=True) if then else b""))
        welcome = await raw.frame()
        assert json.loads(welcome.data)["type"] == "welcome"
        return raw

    def send(self, frame: Frame, *, mask: bool = True) -> None:
        self.writer.write(frame.serialize(mask=mask))

    async def frame(self) -> Frame:
        """The server's next frame, parsed by the library; EOFError once it hangs up."""
        parser = Frame.parse(self.buffer.read_exact, mask=False)
        async with asyncio.timeout(30):
            while True:
                try:
                    next(parser)
                except StopIteration as parsed:
                    frame: Frame = parsed.value
                    return frame
                data = await self.reader.read(65536)
                if data:
                    self.buffer.feed_data(data)
                else:
                    self.buffer.feed_eof()


async def test_an_unmasked_frame_is_closed_with_1002(
    client: Client, make_token: TokenFactory
) -> None:
    raw = await RawClient.welcomed(url(client), await make_token("observer"))
    await until(lambda: live(client) == 1)
    raw.send(Frame(Opcode.TEXT, b"not masked"), mask=False)
    frame = await raw.frame()
    while frame.opcode is not Opcode.CLOSE:  # heartbeats and pings may come first
        frame = await raw.frame()
    assert int.from_bytes(frame.data[:2], "big") == 1002
    with pytest.raises(EOFError):
        await raw.frame()
    raw.writer.close()
    await until(lambda: live(client) == 0)


async def test_a_peer_that_stops_answering_pings_is_dropped(
    client: Client, make_token: TokenFactory
) -> None:
    raw = await RawClient.welcomed(url(client), await make_token("observer"))
    await until(lambda: live(client) == 1)
    seen: list[Opcode] = []
    with pytest.raises(EOFError):
        while True:
            seen.append((await raw.frame()).opcode)
    raw.writer.close()
    assert Opcode.PING in seen
    await until(lambda: live(client) == 0 and len(client.app[HUB].subscribers) == 0)


async def test_a_ping_aiohttp_read_before_the_handover_is_answered(
    client: Client, make_token: TokenFactory
) -> None:
    # Sent with the hello, the ping waits in aiohttp's queue (only the hello is
    # received there); the LeanSocket answers it when it takes the connection.
    token = await make_token("observer")
    raw = await RawClient.welcomed(url(client), token, then=Frame(Opcode.PING, b"early"))
    frame = await raw.frame()
    while frame.opcode is not Opcode.PONG:  # heartbeats and pings may come first
        frame = await raw.frame()
    assert frame.data == b"early"
    raw.writer.close()
    await until(lambda: live(client) == 0)
