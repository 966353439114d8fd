"""A live /ws after its handover to events/lean.py, against the `websockets`
library as the client (and raw frames it serializes, for what it would not send):
aiohttp lets the connection go, pings and pongs, the close handshake, fragmented
and oversized messages, unmasked frames, text that is not UTF-8, a frame half-read
at the handover, a peer that stops answering pings and a console that stops
reading (4008 at the bound, the hub's buffer bounded). Byte-level parsing is in
tests/unit/test_lean_frames.py. Revocation (4001), the slow client of the
`websockets` library (4008) and shutdown (1001) are in test_revocation.py,
test_websocket.py and test_tail_and_restarts.py."""

from __future__ import annotations

import asyncio
import fcntl
import json
import socket
import struct
import termios
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close, Frame, Opcode
from websockets.streams import StreamReader

from eadrcc import auth, db
from eadrcc.app import create_app
from eadrcc.appkeys import HUB, LIVE_SOCKETS, TOKEN_SOCKETS
from eadrcc.config import Settings
from eadrcc.events import lean
from eadrcc.events import socket as socket_module
from eadrcc.events.fanout import Outgoing, text_frame
from eadrcc.events.lean import CLOSE_TIMEOUT
from tests.conftest import TokenFactory
from tests.integration.ops_helpers import until
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


@pytest.fixture
async def quiet(db_url: str) -> AsyncIterator[Client]:
    """No pings nor heartbeats during a test: a raw client need not answer them."""
    settings = Settings(
        database_url=db_url,
        pool_min_size=1,
        pool_max_size=5,
        ws_ping_seconds=600,
        ws_heartbeat_seconds=600,
    )
    async with TestClient(TestServer(create_app(settings))) as c:
        yield c


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
        server = client.server.runner.server
        await until(lambda: server.connections == [])  # aiohttp let it go (a few turns on)
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
        pytest.param("z" * 65_536, id="exactly 64 KiB, as aiohttp refuses"),
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
            async with asyncio.timeout(30):  # heartbeats come meanwhile
                while True:
                    await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    await until(lambda: live(client) == 0 and len(client.app[HUB].subscribers) == 0)


UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: hub\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def hello_frame(token: str, since: int | None = None) -> bytes:
    said: dict[str, Any] = {"type": "hello", "token": token}
    if since is not None:
        said["since"] = since
    return Frame(Opcode.TEXT, json.dumps(said).encode()).serialize(mask=True)


async def next_frame(buffer: StreamReader, read: Callable[[], Awaitable[bytes]]) -> Frame:
    """The server's next frame, parsed by the library from `buffer`, fed by `read`
    (b"": the server hung up; EOFError once nothing is left)."""
    parser = Frame.parse(buffer.read_exact, mask=False)
    async with asyncio.timeout(30):
        while True:
            try:
                next(parser)
            except StopIteration as parsed:
                frame: Frame = parsed.value
                return frame
            data = await read()
            if data:
                buffer.feed_data(data)
            else:
                buffer.feed_eof()


class RawClient:
    """A websocket client by hand, to send what the library would not (an unmasked
    frame) and not do what it always does (answer pings). Frames are the library's."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buffer = StreamReader()

    @classmethod
    async def welcomed(
        cls,
        base: str,
        token: str,
        *,
        then: Frame | None = None,
        since: int | None = None,
        early: bytes = b"",
        one_write: bool = False,
    ) -> RawClient:
        """Connected and welcomed; `then` (a frame) and `early` (any bytes) go in the
        same write as the hello, and with `one_write` the upgrade request too."""
        parts = urlsplit(base)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        hello = hello_frame(token, since) + (then.serialize(mask=True) if then else b"") + early
        writer.write(UPGRADE + hello if one_write else UPGRADE)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        assert head.startswith(b"HTTP/1.1 101"), head
        raw = cls(reader, writer)
        if not one_write:
            raw.writer.write(hello)
        welcome = await raw.frame()
        assert json.loads(welcome.data)["type"] == "welcome"
        return raw

    def send(self, frame: Frame, *, mask: bool = True) -> None:
        self.writer.write(frame.serialize(mask=mask))

    async def frame(self) -> Frame:
        """The server's next frame, parsed by the library; EOFError once it hangs up."""
        return await next_frame(self.buffer, lambda: self.reader.read(65536))

    async def frames_until_eof(self) -> list[Frame]:
        """Every frame until the server hangs up, answering pings (never a close)."""
        frames: list[Frame] = []
        # Pings keep coming while the server holds on: bound the whole wait.
        async with asyncio.timeout(60):
            with pytest.raises(EOFError):
                while True:
                    frames.append(await self.frame())
                    if frames[-1].opcode is Opcode.PING:
                        self.send(Frame(Opcode.PONG, frames[-1].data))
        self.writer.close()
        return frames

    async def close_code(self) -> int:
        """The code of the server's close frame (skipping pings and heartbeats)."""
        frame = await self.frame()
        while frame.opcode is not Opcode.CLOSE:
            frame = await self.frame()
        return Close.parse(frame.data).code


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


async def test_a_close_reason_that_is_not_utf8_is_closed_with_1007(
    client: Client, make_token: TokenFactory
) -> None:
    raw = await RawClient.welcomed(url(client), await make_token("observer"))
    await until(lambda: live(client) == 1)
    raw.send(Frame(Opcode.CLOSE, b"\x03\xe8\xff"))  # 1000, then a byte UTF-8 never has
    assert await raw.close_code() == 1007
    await raw.frames_until_eof()
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


async def test_a_close_aiohttp_read_before_the_handover_is_echoed(
    client: Client, make_token: TokenFactory
) -> None:
    close = Frame(Opcode.CLOSE, Close(1000, "bye").serialize())
    raw = await RawClient.welcomed(url(client), await make_token("observer"), then=close)
    assert await raw.close_code() == 1000
    await raw.frames_until_eof()
    await until(lambda: live(client) == 0 and len(client.app[HUB].subscribers) == 0)


async def test_a_message_aiohttp_refused_before_the_handover_is_closed_with_its_code(
    client: Client, make_token: TokenFactory
) -> None:
    # aiohttp's reader fails on the 70 KB frame's header and drops what follows;
    # that socket must not go live (a LeanSocket would read from mid-frame).
    big = Frame(Opcode.TEXT, b"x" * 70_000)
    raw = await RawClient.welcomed(url(client), await make_token("observer"), then=big)
    assert await raw.close_code() == 1009
    await raw.frames_until_eof()
    await until(lambda: live(client) == 0 and len(client.app[HUB].subscribers) == 0)


async def test_a_token_revoked_just_before_the_handover_is_closed_and_sent_nothing_more(
    client: Client, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with db.transaction(pool) as conn:
        issued = await auth.create(conn=conn, role=auth.Role("observer"), name="doomed")
    backlog = socket_module._backlog

    async def backlog_then_revoked(request: Any, *args: Any) -> None:
        await backlog(request, *args)
        # The hub reads the revocation now: its close runs on a later loop turn,
        # after this handler's next lines (the handover) have run.
        request.app[TOKEN_SOCKETS].act(auth.TOKEN_REVOKED, {"token_id": str(issued.id)})

    monkeypatch.setattr(socket_module, "_backlog", backlog_then_revoked)
    raw = await RawClient.welcomed(url(client), issued.token, since=0)
    frames = await raw.frames_until_eof()  # pongs, never echoes the close
    closes = [i for i, frame in enumerate(frames) if frame.opcode is Opcode.CLOSE]
    assert closes and Close.parse(frames[closes[0]].data).code == 4001, frames
    assert closes[0] == len(frames) - 1, frames  # nothing after the close frame
    await until(lambda: live(client) == 0 and len(client.app[HUB].subscribers) == 0)


async def test_a_closed_socket_whose_client_stopped_reading_is_let_go(
    quiet: Client, make_token: TokenFactory
) -> None:
    raw = await RawClient.welcomed(url(quiet), await make_token("observer"))
    await until(lambda: live(quiet) == 1)
    # 30 MB the client never reads (its own buffers stop taking them at a few MB):
    # the server's transport holds most of it.
    (sub,) = quiet.app[HUB].subscribers
    quiet.app[HUB].subscribers.beat(text_frame("x" * 30_000_000))
    raw.send(Frame(Opcode.CLOSE, Close(1000, "").serialize()))
    (sock,) = quiet.app[LIVE_SOCKETS]
    await until(lambda: sock.closed)
    quiet.app[HUB].subscribers.beat(text_frame("late"))
    assert not sub.pending  # dropped: a closing socket is not a slow one
    # Its buffer never empties: the connection is aborted, not held forever.
    await until(
        lambda: live(quiet) == 0 and len(quiet.app[HUB].subscribers) == 0,
        timeout=CLOSE_TIMEOUT + 10,
    )
    raw.writer.close()


async def test_a_socket_going_live_during_shutdown_is_closed_with_1001(
    client: Client, make_token: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    backlog, gate = socket_module._backlog, asyncio.Event()

    async def held_backlog(*args: Any) -> None:
        await gate.wait()
        await backlog(*args)

    monkeypatch.setattr(socket_module, "_backlog", held_backlog)
    first = await RawClient.welcomed(url(client), await make_token("observer"))
    await until(lambda: live(client) == 1)
    async with stream(url(client), await make_token("observer"), since=0) as (late, _):
        closing = asyncio.ensure_future(client.close())
        # Shutdown is under way once the live socket has its 1001 (it does not echo
        # yet, so shutdown waits on it); the other one finishes its backlog now.
        assert await first.close_code() == 1001
        gate.set()
        with pytest.raises(ConnectionClosed) as closed:
            while True:  # its backlog, then the close
                await next_message(late)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        first.send(Frame(Opcode.CLOSE, Close(1001, "").serialize()))
        await asyncio.wait_for(closing, 30)
    first.writer.close()


async def test_shutdown_does_not_wait_on_echoes_it_cannot_read(
    client: Client, make_token: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sockets still in their backlog are aiohttp's, which drops what clients send
    # once shutdown begins: their echoes never arrive. Shutdown bounds that wait
    # at 2 s for all together; it was 10 s each, one after the other.
    gate = asyncio.Event()

    async def stuck_backlog(*args: Any) -> None:
        await gate.wait()

    monkeypatch.setattr(socket_module, "_backlog", stuck_backlog)
    token = await make_token("observer")
    async with stream(url(client), token, since=0) as (one, _):
        async with stream(url(client), token, since=0) as (two, _):
            loop = asyncio.get_running_loop()
            started = loop.time()
            await asyncio.wait_for(client.close(), 60)
            took = loop.time() - started
            gate.set()
            for ws in (one, two):
                with pytest.raises(ConnectionClosed) as closed:
                    await next_message(ws)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert took < 8, took  # 2 s by design; 20 s before


async def first_answer(raw: RawClient) -> tuple[Opcode, bytes]:
    """The server's first pong or close (skipping events, heartbeats and pings)."""
    frame = await raw.frame()
    while frame.opcode not in (Opcode.PONG, Opcode.CLOSE):
        frame = await raw.frame()
    return frame.opcode, frame.data


def _queued(fd: int, request: int) -> int:
    return int(struct.unpack("i", fcntl.ioctl(fd, request, b"\0\0\0\0"))[0])


def all_read(client: socket.socket | Any, server: Any) -> bool:
    """Has the server's protocol had every byte the client sent? Nothing left in the
    client's send queue nor in the server's receive queue (asyncio hands a read to
    the protocol in the same callback that takes it from the kernel)."""
    return (
        _queued(client.fileno(), termios.TIOCOUTQ) == 0
        and _queued(server.fileno(), termios.FIONREAD) == 0
    )


@pytest.mark.parametrize(
    "message",
    [
        pytest.param([Frame(Opcode.TEXT, b"\xff not UTF-8")], id="one frame"),
        pytest.param(
            [Frame(Opcode.TEXT, b"caf\xc3", fin=False), Frame(Opcode.CONT, b"")],
            id="fragments ending mid-character",
        ),
        pytest.param(
            [Frame(Opcode.TEXT, b"ok", fin=False), Frame(Opcode.CONT, b"\xed\xa0\x80")],
            id="a surrogate in a later fragment",
        ),
    ],
)
async def test_a_text_message_that_is_not_utf8_is_closed_with_1007(
    quiet: Client, make_token: TokenFactory, message: list[Frame]
) -> None:
    # Dropped unread once live, it is still checked, as aiohttp checks it before.
    raw = await RawClient.welcomed(url(quiet), await make_token("observer"))
    await until(lambda: live(quiet) == 1)
    for frame in message:
        raw.send(frame)
    raw.send(Frame(Opcode.PING, b"after"))  # never read: the connection failed first
    opcode, data = await first_answer(raw)
    assert opcode is Opcode.CLOSE and Close.parse(data).code == 1007
    await raw.frames_until_eof()
    await until(lambda: live(quiet) == 0 and len(quiet.app[HUB].subscribers) == 0)


PING = Frame(Opcode.PING, b"early!").serialize(mask=True)
FIRST = Frame(Opcode.TEXT, b"caf" + "é".encode()[:1], fin=False).serialize(mask=True)
LONG = Frame(Opcode.TEXT, "é".encode() * 150).serialize(mask=True)  # a 16-bit length
AFTER = Frame(Opcode.PING, b"after").serialize(mask=True)
HALF_READ = [
    *(
        pytest.param(PING[:at], PING[at:], (Opcode.PONG, b"early!"), False, id=f"ping cut at {at}")
        for at in range(1, len(PING))
    ),
    pytest.param(PING[:3], PING[3:], (Opcode.PONG, b"early!"), True, id="with the upgrade request"),
    pytest.param(
        FIRST,
        Frame(Opcode.CONT, "é".encode()[1:] + b"!").serialize(mask=True) + AFTER,
        (Opcode.PONG, b"after"),
        False,
        id="a message's first fragment, a character cut",
    ),
    pytest.param(
        FIRST,
        Frame(Opcode.CONT, b"\xff").serialize(mask=True) + AFTER,
        (Opcode.CLOSE, (1007).to_bytes(2, "big")),
        False,
        id="the same, then a byte UTF-8 never has",
    ),
    pytest.param(
        LONG[:150], LONG[150:] + AFTER, (Opcode.PONG, b"after"), False, id="in a long payload"
    ),
]


@pytest.mark.parametrize(("before", "after", "answer", "one_write"), HALF_READ)
async def test_a_frame_half_read_at_the_handover_is_read_on(
    quiet: Client,
    make_token: TokenFactory,
    monkeypatch: pytest.MonkeyPatch,
    before: bytes,
    after: bytes,
    answer: tuple[Opcode, bytes],
    one_write: bool,
) -> None:
    # `before` goes with the hello; the handover waits (its backlog held) until
    # aiohttp's reader has had every byte of it; `after` goes once the socket is live.
    backlog, gate, held = socket_module._backlog, asyncio.Event(), []

    async def held_backlog(request: Any, *args: Any) -> None:
        held.append(request.transport.get_extra_info("socket"))
        await gate.wait()
        await backlog(request, *args)

    monkeypatch.setattr(socket_module, "_backlog", held_backlog)
    token = await make_token("observer")
    raw = await RawClient.welcomed(url(quiet), token, since=0, early=before, one_write=one_write)
    client = raw.writer.get_extra_info("socket")
    await until(lambda: bool(held) and all_read(client, held[0]))
    gate.set()
    await until(lambda: live(quiet) == 1)
    raw.writer.write(after)
    opcode, data = await first_answer(raw)
    assert (opcode, data[:2] if opcode is Opcode.CLOSE else data) == answer
    raw.writer.close()
    await until(lambda: live(quiet) == 0)


@pytest.fixture
async def bounded(db_url: str) -> AsyncIterator[Client]:
    """The smallest queue bound, and no pings nor heartbeats of the hub's own."""
    settings = Settings(
        database_url=db_url,
        pool_min_size=1,
        pool_max_size=5,
        ws_ping_seconds=600,
        ws_heartbeat_seconds=600,
        ws_queue_bound=BOUND,
    )
    async with TestClient(TestServer(create_app(settings))) as c:
        yield c


BOUND = 10


class SilentConsole:
    """A console that says hello and then reads nothing: a raw socket whose receive
    buffer is set small before it connects (so TCP's window stays small), read only
    when the test says so."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.stream = StreamReader()

    @classmethod
    async def welcomed(cls, base: str, token: str) -> SilentConsole:
        loop = asyncio.get_running_loop()
        parts = urlsplit(base)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await loop.sock_connect(sock, (parts.hostname, parts.port))
        await loop.sock_sendall(sock, UPGRADE + hello_frame(token))
        console = cls(sock)
        head = b""
        async with asyncio.timeout(30):
            while b"\r\n\r\n" not in head:
                head += await loop.sock_recv(sock, 1)  # not a byte past the head
        assert head.startswith(b"HTTP/1.1 101"), head
        welcome = await console.frame()
        assert json.loads(welcome.data)["type"] == "welcome"
        return console

    async def send(self, data: bytes) -> None:
        await asyncio.get_running_loop().sock_sendall(self.sock, data)

    async def frame(self) -> Frame:
        """Read until the next whole frame; EOFError once the server hangs up."""
        loop = asyncio.get_running_loop()
        return await next_frame(self.stream, lambda: loop.sock_recv(self.sock, 65536))


async def test_a_console_that_stops_reading_is_cut_off_with_4008_at_the_bound(
    bounded: Client, make_token: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing is timed here: the close waits for this test to read it.
    monkeypatch.setattr(lean, "CLOSE_TIMEOUT", 600)
    console = await SilentConsole.welcomed(url(bounded), await make_token("observer"))
    await until(lambda: live(bounded) == 1)
    app = bounded.app
    fan = app[HUB].subscribers
    (sock,), (sub,) = list(app[LIVE_SOCKETS]), list(fan)
    transport = sock._transport
    server = transport.get_extra_info("socket")
    high = transport.get_write_buffer_limits()[1]
    event = text_frame(json.dumps({"type": "event", "pad": "x" * 16_000}))
    published, most = 0, 0

    def publish() -> None:
        nonlocal published, most
        fan.publish([Outgoing(published, frozenset({"*"}), event)])
        published += 1
        held = transport.get_write_buffer_size() + sum(map(len, sub.pending))
        most = max(most, held)

    # Events until the kernel's buffers are full and the transport's passes its
    # high-water mark: the transport pauses.
    async with asyncio.timeout(60):
        while not sock.paused():
            publish()
            await asyncio.sleep(0)  # a turn of the loop: the transport sends what it can
    # Stalled, the console still sends: 2,000 pings (250 KB of pongs) and the hub
    # 100 heartbeats. None of it may wait on the hub for a console that reads nothing.
    size, pending = transport.get_write_buffer_size(), list(sub.pending)
    pings = [Frame(Opcode.PING, b"%04d" % i + b"p" * 121) for i in range(2000)]
    await console.send(b"".join(ping.serialize(mask=True) for ping in pings))
    for _ in range(100):
        fan.beat(text_frame(json.dumps({"type": "heartbeat", "head": 0})))
    await until(lambda: all_read(console.sock, server))
    assert sock.paused() and transport.get_write_buffer_size() <= size
    assert sub.pending == pending
    # More events: BOUND of them wait, the next one cuts the socket off.
    async with asyncio.timeout(60):
        while not sub.overflowed:
            publish()
            await asyncio.sleep(0)
    await until(lambda: sock.closed)
    assert most <= high + (BOUND + 1) * len(event), (most, high)
    size = transport.get_write_buffer_size()
    for _ in range(5):
        publish()  # a socket closing takes nothing more
    assert transport.get_write_buffer_size() == size and not sub.pending
    # The console reads at last: every event the hub wrote, then the close.
    frames = [await console.frame()]
    while frames[-1].opcode is not Opcode.CLOSE:
        frames.append(await console.frame())
    close = Close.parse(frames[-1].data)
    assert (close.code, close.reason) == (4008, "too far behind; resume with since")
    assert all(frame.opcode is Opcode.TEXT for frame in frames[:-1])  # no pong, no ping
    assert len(frames) - 1 == published - 5 - BOUND - 1  # all but those waiting at the cut
    await console.send(Frame(Opcode.CLOSE, close.serialize()).serialize(mask=True))
    with pytest.raises(EOFError):
        await console.frame()
    console.sock.close()
    await until(lambda: live(bounded) == 0 and len(fan) == 0)


async def test_an_unmasked_frame_aiohttp_let_by_before_the_handover_is_closed_with_1002(
    quiet: Client, make_token: TokenFactory
) -> None:
    # aiohttp's reader takes unmasked client frames; RFC 6455 §5.1 does not.
    unmasked = Frame(Opcode.TEXT, b"not masked").serialize(mask=False)
    raw = await RawClient.welcomed(url(quiet), await make_token("observer"), early=unmasked)
    assert await raw.close_code() == 1002
    await raw.frames_until_eof()
    await until(lambda: live(quiet) == 0 and len(quiet.app[HUB].subscribers) == 0)
