"""A live console's websocket without aiohttp: one small object per idle socket.

Why: an idle aiohttp websocket costs ~17 KB (the connection's RequestHandler with
its HTTP parser and the parsed request head, the WebSocketResponse's reader, queue
and writer, the connection's task and the handler's task with its frames through
the middleware). Once a console is live it needs none of that: the hub writes
pre-encoded frames straight to the transport (events/fanout.py), and the client
only sends pings, pongs and a close. So when its backlog is out, socket.py hands
the connection to a `LeanSocket` (`hand_over`), and aiohttp's objects for it are
let go (`_detach`; the handler returns `HandedOver`, whose prepare and
write_eof do nothing, so aiohttp's start() ends without closing the connection).

What it covers (RFC 6455, server side, no extensions):
- client frames must be masked and use no reserved bit or opcode: else close 1002;
- text and binary messages (fragmented or not) are read and dropped as their bytes
  come (nothing of a payload is held); one of MAX_MESSAGE bytes or more (aiohttp's
  bound): close 1009 as soon as its header says so; a text message that is not
  UTF-8: close 1007 as soon as a byte says so (as aiohttp would, whole);
- a ping gets its pong; a client's close is echoed (1007 if its reason is not
  UTF-8), then the connection closes
  (aborted after CLOSE_TIMEOUT if the client no longer reads what we still hold);
- our own close (4001 revoked, 4008 too slow, 1001 shutting down) is a close frame,
  then the connection closes when the client echoes it, or after CLOSE_TIMEOUT;
- dead peers: `LiveSockets` pings every socket from one timer for all, and drops
  a socket that sent nothing during the interval since the previous ping;
- flow control: the transport's pause_writing/resume_writing, which the fan-out
  reads through `paused()` and `drained()` (its per-socket bound and 4008 cut-off).
  While the transport is paused we add nothing of our own to it: no ping, and only
  the latest ping's pong, sent when it resumes (RFC 6455 §5.5.3 allows it), so a
  client that sends but never reads cannot make the hub hold more than the
  transport's high-water mark, one write and the fan-out's bound;
- connection lost: the socket leaves the hub, its token's sockets and the registry.

The handover loses no byte: from the upgrade on, a `Shadow` reads every byte aiohttp's
reader gets (`ShadowedWebSocket`), so a frame or message aiohttp had half-read is
finished by the LeanSocket from where the Shadow stands; messages aiohttp had fully
read are taken over from its queue (pings answered, a close echoed). A socket whose
reader failed (its error is sent by aiohttp) or stalled (more queued than a client
may send) is not handed over.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from eadrcc.events.fanout import Subscriber
    from eadrcc.events.hub import EventHub
    from eadrcc.events.socket import TokenSockets

MAX_MESSAGE = 64 * 1024
CLOSE_TIMEOUT = 5.0
NORMAL, GOING_AWAY, PROTOCOL_ERROR, NOT_UTF8, TOO_BIG, TOO_SLOW = 1000, 1001, 1002, 1007, 1009, 4008
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0, 1, 2, 8, 9, 10
OPEN, CLOSING, DONE = 0, 1, 2  # CLOSING: our close frame is out, awaiting the echo
_utf8 = codecs.getincrementaldecoder("utf-8")


def control_frame(opcode: int, payload: bytes = b"") -> bytes:
    """An unmasked, final control frame (payload ≤ 125 bytes, RFC 6455 §5.5)."""
    return bytes((0x80 | opcode, len(payload))) + payload


def close_frame(code: int, reason: bytes = b"") -> bytes:
    """A close frame; the reason cut to 123 bytes on a character (it must stay UTF-8)."""
    reason = reason[:123].decode("utf-8", errors="ignore").encode()
    return control_frame(CLOSE, struct.pack("!H", code) + reason)


def _unmask(payload: bytes, key: bytes) -> bytes:
    size = len(payload)
    mask = int.from_bytes((key * (size // 4 + 1))[:size], "big")
    return (int.from_bytes(payload, "big") ^ mask).to_bytes(size, "big")


def _valid_close_code(code: int) -> bool:
    return (1000 <= code <= 1014 and code not in (1004, 1005, 1006)) or 3000 <= code < 5000


class FrameReader:
    """Client-to-server frames (RFC 6455 §5.2), read as their bytes come, however
    the reads split them. A data frame's payload is never held: it is read through
    (and, in a text message, its UTF-8 checked) chunk by chunk; only a header or a
    control frame not all here yet waits, in `_buffer` (at most 2+8+4+125 bytes).
    Subclasses say what a control frame and a failure do."""

    __slots__ = ("_buffer", "_final", "_left", "_mask", "_message_size", "_state", "_text")

    def __init__(self) -> None:
        self._buffer = b""
        self._state = OPEN
        self._message_size = -1  # bytes of a message so far, over its frames; -1: none under way
        self._text: codecs.IncrementalDecoder | None = None  # a text message's UTF-8 so far
        self._left = 0  # payload bytes of the current data frame still to come
        self._mask = b""  # its masking key, turned to the next byte's place
        self._final = False  # it ends its message

    def _control(self, opcode: int, payload: bytes) -> None:
        raise NotImplementedError

    def _fail(self, code: int, reason: bytes) -> None:
        raise NotImplementedError

    def carry_on(self, other: FrameReader) -> None:
        """Read on from where `other` stands in the same stream."""
        self._buffer, self._message_size, self._text = (
            other._buffer,
            other._message_size,
            other._text,
        )
        self._left, self._mask, self._final = other._left, other._mask, other._final

    def frames_received(self, data: bytes) -> None:
        if self._state == DONE:
            return
        if self._buffer:  # a few bytes at most: no read copies a growing buffer
            data, self._buffer = self._buffer + data, b""
        at, size = 0, len(data)
        while at < size and self._state != DONE:
            if self._left:
                at = self._payload(data, at)
                continue
            end = self._frame(data, at)
            if end is None:
                if self._state != DONE:
                    self._buffer = data[at:]
                return
            at = end

    def _frame(self, buf: bytes, at: int) -> int | None:
        """Read the header at `at` (and all of a control frame): where what follows
        starts, or None if it is not all here yet (or the frame was refused)."""
        if len(buf) - at < 2:
            return None
        first, second = buf[at], buf[at + 1]
        final, opcode, size = first & 0x80, first & 0x0F, second & 0x7F
        if first & 0x70 or not second & 0x80:
            self._fail(PROTOCOL_ERROR, b"frames must be masked, with no reserved bit")
            return None
        if opcode >= CLOSE:
            if opcode > PONG or not final or size > 125:
                self._fail(PROTOCOL_ERROR, b"bad control frame")
                return None
        elif opcode > BINARY or (opcode == CONTINUATION) != (self._message_size >= 0):
            self._fail(PROTOCOL_ERROR, b"bad opcode or fragment")
            return None
        head = at + 2
        if size >= 126:
            width = 2 if size == 126 else 8
            if len(buf) < head + width:
                return None
            size = int.from_bytes(buf[head : head + width], "big")
            head += width
        if opcode < CLOSE and max(self._message_size, 0) + size >= MAX_MESSAGE:
            self._fail(TOO_BIG, b"message too big")  # aiohttp's bound, too
            return None
        if len(buf) < head + 4:
            return None
        key = buf[head : head + 4]
        head += 4
        if opcode >= CLOSE:
            if len(buf) < head + size:
                return None
            self._control(opcode, _unmask(buf[head : head + size], key))
            return head + size
        if opcode != CONTINUATION:
            self._message_size = 0
            self._text = _utf8() if opcode == TEXT else None
        self._message_size += size
        self._left, self._mask, self._final = size, key, bool(final)
        if not size:
            self._frame_read()
        return head

    def _payload(self, data: bytes, at: int) -> int:
        """Read through the current data frame's bytes from `at`; where they end."""
        end = min(len(data), at + self._left)
        if self._text is not None:
            try:
                self._text.decode(_unmask(data[at:end], self._mask))
            except UnicodeDecodeError:
                self._fail(NOT_UTF8, b"text message is not UTF-8")
                return end
            turn = (end - at) % 4
            self._mask = self._mask[turn:] + self._mask[:turn]
        self._left -= end - at
        if not self._left:
            self._frame_read()
        return end

    def _frame_read(self) -> None:
        self._mask = b""
        if not self._final:
            return
        text, self._text, self._message_size = self._text, None, -1
        if text is not None:
            try:
                text.decode(b"", final=True)
            except UnicodeDecodeError:
                self._fail(NOT_UTF8, b"text message is not UTF-8")


class LeanSocket(FrameReader, asyncio.Protocol):
    """One live websocket: the fan-out's `Line`, and the transport's protocol."""

    __slots__ = (
        "_close_timer",
        "_drain",
        "_home",
        "_hub",
        "_paused",
        "_pong",
        "_sub",
        "_token_id",
        "_transport",
        "heard",
    )

    def __init__(
        self,
        transport: asyncio.Transport,
        home: LiveSockets,
        hub: EventHub,
        sub: Subscriber,
        token_id: str,
        paused: bool,
    ) -> None:
        super().__init__()
        self._transport, self._home, self._hub, self._sub = transport, home, hub, sub
        self._token_id = token_id
        self._paused = paused
        self._pong: bytes | None = None  # the latest ping's payload, while paused
        self._drain: asyncio.Future[None] | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self.heard = True  # anything received since the last ping

    # -- the fan-out's Line ---------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self._state == OPEN:
            self._transport.write(data)

    def paused(self) -> bool:
        # Closing, writes are dropped: nothing should wait (nor count as too slow).
        return self._paused and self._state == OPEN

    async def drained(self) -> None:
        if self._state == OPEN and self._paused:
            if self._drain is None:
                self._drain = asyncio.get_running_loop().create_future()
            await self._drain

    async def cut_off(self) -> None:
        self.shut(TOO_SLOW, b"too far behind; resume with since")

    # -- closing --------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._state != OPEN

    async def close(self, *, code: int, message: bytes = b"", drain: bool = False) -> bool:
        """WebSocketResponse.close's shape, for TokenSockets and shutdown."""
        self.shut(code, message)
        return True

    def shut(self, code: int, reason: bytes = b"") -> None:
        """Our close: the frame now, the connection once echoed (or CLOSE_TIMEOUT)."""
        if self._state != OPEN:
            return
        self._state = CLOSING
        self._transport.write(close_frame(code, reason))
        self._close_timer = asyncio.get_running_loop().call_later(
            CLOSE_TIMEOUT, self._transport.abort
        )

    def _fail(self, code: int, reason: bytes) -> None:
        """The client broke the protocol: say why, and stop reading it."""
        if self._state == OPEN:
            self._transport.write(close_frame(code, reason))
        self._end()

    def _end(self) -> None:
        self._state = DONE
        self._buffer, self._text = b"", None
        self._transport.close()  # sends what it holds first...
        if self._close_timer is None:  # ...which a client that stopped reading never takes
            self._close_timer = asyncio.get_running_loop().call_later(
                CLOSE_TIMEOUT, self._transport.abort
            )

    def ping(self) -> None:
        """From LiveSockets' timer: drop a peer silent since the last ping, else ping
        (unless the transport is paused: the client is not reading what it has)."""
        if self._state != OPEN:
            return
        if not self.heard:
            self._state = DONE
            self._transport.abort()
            return
        self.heard = False
        if not self._paused:
            self._transport.write(control_frame(PING))

    # -- asyncio.Protocol -----------------------------------------------------------

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._pong is not None:
            pong, self._pong = self._pong, None
            if self._state == OPEN:
                self._transport.write(control_frame(PONG, pong))
        if self._drain is not None:
            if not self._drain.done():
                self._drain.set_result(None)
            self._drain = None

    def connection_lost(self, exc: BaseException | None) -> None:
        self._state = DONE
        if self._close_timer is not None:
            self._close_timer.cancel()
        if self._drain is not None and not self._drain.done():
            self._drain.set_exception(ConnectionResetError("socket closed"))
            self._drain.exception()  # retrieved: a flush may not be waiting on it
        self._home.gone(self)
        self._hub.unsubscribe(self._sub)

    def data_received(self, data: bytes) -> None:
        self.heard = True
        self.frames_received(data)

    def _control(self, opcode: int, payload: bytes) -> None:
        if opcode == PING:
            if self._state != OPEN:
                return
            if self._paused:  # a pong would wait behind what the client does not read
                self._pong = payload
            else:
                self._transport.write(control_frame(PONG, payload))
        elif opcode == CLOSE:
            self.closing_received(payload)

    def closing_received(self, payload: bytes) -> None:
        """The client's close: echo its code (if ours is not out already), then end."""
        if len(payload) == 1 or (
            len(payload) >= 2 and not _valid_close_code(int.from_bytes(payload[:2], "big"))
        ):
            self._fail(PROTOCOL_ERROR, b"bad close frame")
            return None
        try:
            payload[2:].decode()  # a close reason is UTF-8 (RFC 6455 §5.5.1)
        except UnicodeDecodeError:
            self._fail(NOT_UTF8, b"close reason is not UTF-8")
            return None
        if self._state == OPEN:
            self._transport.write(control_frame(CLOSE, payload[:2]))
        self._end()


class Shadow(FrameReader):
    """The parser aiohttp's connection feeds until the handover: every byte goes to
    aiohttp's reader, and is read here too, so that at the handover the LeanSocket
    knows where the stream stands (inside a frame, inside a fragmented message, how
    much of a text message's UTF-8 is pending), which aiohttp's compiled reader
    does not show. Control frames are aiohttp's (they wait on its queue); a frame
    aiohttp took but RFC 6455 refuses (an unmasked one) is kept in `failure`."""

    __slots__ = ("_reader", "failure")

    def __init__(self, reader: Any) -> None:
        super().__init__()
        self._reader = reader
        self.failure: tuple[int, bytes] | None = None

    def feed_data(self, data: bytes) -> Any:
        self.frames_received(data)
        return self._reader.feed_data(data)

    def feed_eof(self) -> None:
        self._reader.feed_eof()

    def _control(self, opcode: int, payload: bytes) -> None:
        if opcode == CLOSE:
            self._state = DONE  # nothing after a close is read (aiohttp queued it)

    def _fail(self, code: int, reason: bytes) -> None:
        self.failure = (code, reason)
        self._state = DONE


class ShadowedWebSocket(web.WebSocketResponse):
    """aiohttp's websocket, with a `Shadow` reading the same bytes as its reader from
    the first one on (those that came with the upgrade request included)."""

    shadow: Shadow | None = None

    def _post_start(self, request: web.BaseRequest, *args: Any, **kwargs: Any) -> None:
        conn: Any = request.protocol
        early, conn._message_tail = conn._message_tail, b""  # set_parser would feed them
        super()._post_start(request, *args, **kwargs)
        self.shadow = Shadow(conn._payload_parser)
        conn._payload_parser = self.shadow
        if early:
            self.shadow.feed_data(early)  # as set_parser does, its result unread


class LiveSockets:
    """This instance's handed-over sockets: one ping timer for all, and shutdown."""

    def __init__(self, ping_seconds: float, tokens: TokenSockets) -> None:
        self._ping_seconds = ping_seconds
        self._tokens = tokens
        self._sockets: set[LeanSocket] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._emptied: asyncio.Event | None = None
        self.closing: tuple[int, bytes] | None = None  # close_all's code and reason

    def __len__(self) -> int:
        return len(self._sockets)

    def __iter__(self) -> Iterator[LeanSocket]:
        return iter(list(self._sockets))

    def add(self, sock: LeanSocket, token_id: str) -> None:
        self._sockets.add(sock)
        self._tokens.add(token_id, sock)
        if self.closing is not None:  # live during shutdown: close_all has passed it by
            sock.shut(*self.closing)
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._ping_seconds, self._ping)

    def gone(self, sock: LeanSocket) -> None:
        self._sockets.discard(sock)
        self._tokens.discard(sock._token_id, sock)
        if not self._sockets and self._emptied is not None:
            self._emptied.set()

    def _ping(self) -> None:
        # Re-armed first: a ping that raises must not stop the pings of all.
        self._timer = asyncio.get_running_loop().call_later(self._ping_seconds, self._ping)
        for sock in list(self._sockets):
            sock.ping()
        if not self._sockets:
            self._timer.cancel()
            self._timer = None

    async def close_all(self, code: int, reason: bytes, timeout: float = 2.0) -> None:
        """Close every socket, wait up to `timeout` for the echoes, abort the rest."""
        self.closing = (code, reason)
        self._emptied = asyncio.Event()
        for sock in list(self._sockets):
            sock.shut(code, reason)
        if self._sockets:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._emptied.wait()
        for sock in list(self._sockets):
            sock._transport.abort()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class HandedOver(web.StreamResponse):
    """What the /ws handler returns once a LeanSocket has the connection: aiohttp's
    finish_response calls prepare and write_eof, which must not touch it."""

    def __init__(self) -> None:
        super().__init__(status=101)

    async def prepare(self, request: web.BaseRequest) -> Any:
        return None

    async def write_eof(self, data: bytes = b"") -> None:
        return None


def _detach(protocol: Any) -> None:
    """Make aiohttp's RequestHandler (or readtimeouts' TimedRequestHandler, whose
    deadlines stopped at the upgrade) let go of its connection without closing it:
    no keep-alive timer, the server forgets it, and start() ends once the handler
    returns (it closes the transport only when not force-closed; it has none)."""
    if protocol._keepalive_handle is not None:
        protocol._keepalive_handle.cancel()
        protocol._keepalive_handle = None
    if protocol._manager is not None:
        protocol._manager.connection_lost(protocol, None)
    protocol._force_close = True
    protocol.transport = None
    protocol._payload_parser = None


def hand_over(
    request: web.Request,
    ws: ShadowedWebSocket,
    home: LiveSockets,
    hub: EventHub,
    sub: Subscriber,
    token_id: str,
) -> LeanSocket | None:
    """Move a welcomed websocket from aiohttp to a LeanSocket; None if it is closing,
    or if aiohttp's reader failed (aiohttp dropped what followed; its receive sends the
    error's close code) or stalled (it holds unparsed bytes, and the Shadow, which
    read them, stands past it)."""
    protocol: Any = request.protocol
    transport = protocol.transport
    reader = ws._reader
    shadow = ws.shadow
    assert reader is not None and shadow is not None  # prepared
    if (
        ws.closed
        or transport is None
        or transport.is_closing()
        or reader.exception() is not None
        or reader._stalled_reader is not None
    ):
        return None
    paused = protocol.writing_paused
    _detach(protocol)
    ws._set_closed()  # no heartbeat, and a later ws.close never writes on our transport
    sock = LeanSocket(transport, home, hub, sub, token_id, paused)
    sock.carry_on(shadow)  # a frame or message aiohttp had half-read goes on here
    transport.set_protocol(sock)
    if not transport.is_reading():
        transport.resume_reading()
    home.add(sock, token_id)
    sub.go_live(sock)
    if shadow.failure is not None:  # a frame aiohttp let by (unmasked): refused now
        sock._fail(*shadow.failure)
        return sock
    # What aiohttp had read but nobody received (the client's pings, its close).
    for message, _size in list(reader._buffer):
        if message.type == WSMsgType.PING:
            sock._control(PING, message.data)
        elif message.type == WSMsgType.CLOSE:
            sock.closing_received(struct.pack("!H", message.data or NORMAL))
    return sock
