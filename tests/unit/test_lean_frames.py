"""The LeanSocket's reading of client frames, byte by byte (RFC 6455 §5): what it
answers and how it closes, whatever the reads split the stream into.

Frames are built by the `websockets` library where it would build them, by hand
(masked with its `apply_mask`) where it would refuse to; what the socket writes
back is read by the library's parser. The transport is a recording one; the same
socket over real connections is in tests/integration/test_lean_socket.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from websockets.frames import Close, Frame, Opcode
from websockets.streams import StreamReader
from websockets.utils import apply_mask

from eadrcc.events.lean import MAX_MESSAGE, LeanSocket, Shadow

KEY = b"\x37\xfa\x21\x3d"
HEADER_MAX = 2 + 8 + 4 + 125  # the most a socket may hold: a whole control frame


@dataclass
class RecordingTransport:
    written: bytearray = field(default_factory=bytearray)
    closing: bool = False
    aborted: bool = False

    def write(self, data: bytes) -> None:
        assert not self.closing, "written after close"
        self.written += data

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.aborted = True


def socket() -> tuple[LeanSocket, RecordingTransport]:
    transport = RecordingTransport()
    none = cast(Any, None)  # the hub and registry: only a lost connection reaches them
    return LeanSocket(cast(Any, transport), none, none, none, "token", False), transport


def frame(opcode: Opcode, data: bytes, *, fin: bool = True) -> bytes:
    """A client frame as the library writes it (masked, shortest length)."""
    return Frame(opcode, data, fin=fin).serialize(mask=True)


def raw(first: int, payload: bytes, *, mask: bool = True, width: int | None = None) -> bytes:
    """A frame by hand: `first` is the whole first byte (FIN, RSV, opcode); `width`
    forces the length's form (0: 7 bits, 2: 16 bits, 8: 64 bits)."""
    size = len(payload)
    if width is None:
        width = 0 if size < 126 else 2 if size < 65536 else 8
    flag = 0x80 if mask else 0
    if width == 0:
        head = bytes((first, flag | size))
    else:
        head = bytes((first, flag | (126 if width == 2 else 127))) + size.to_bytes(width, "big")
    return head + (KEY + apply_mask(payload, KEY) if mask else payload)


def written(transport: RecordingTransport) -> list[tuple[Opcode, bytes]]:
    """The frames the socket wrote, as the library reads them (server frames: unmasked)."""
    stream = StreamReader()
    stream.feed_data(bytes(transport.written))
    stream.feed_eof()
    frames = []
    while True:
        parser = Frame.parse(stream.read_exact, mask=False)
        try:
            next(parser)
        except StopIteration as parsed:
            frames.append((parsed.value.opcode, parsed.value.data))
        except EOFError:
            return frames


def splits(frames: list[bytes]) -> Iterator[list[bytes]]:
    """The frames in one read, cut in two at every byte boundary (in a long stream:
    at every byte near a frame's start or end, and every 1,000th byte between),
    and one byte per read."""
    data = b"".join(frames)
    cuts: set[int] = set(range(1, len(data)))
    if len(data) > 4096:
        edges = [0]
        for one in frames:
            edges.append(edges[-1] + len(one))
        cuts = {at for at in cuts if at % 1000 == 0 or min(abs(at - e) for e in edges) <= 20}
    yield [data]
    for at in sorted(cuts):
        yield [data[:at], data[at:]]
    yield [data[i : i + 1] for i in range(len(data))]


def feed(reads: list[bytes]) -> tuple[LeanSocket, RecordingTransport, int]:
    """Feed the reads; also the most the socket held between two of them."""
    sock, transport = socket()
    held = 0
    for data in reads:
        sock.data_received(data)
        held = max(held, len(sock._buffer))
    return sock, transport, held


# A conversation a client may have once live: every kind of frame it may send.
E_ACUTE = "é".encode()
FRAMES = [
    frame(Opcode.TEXT, b"dropped"),
    frame(Opcode.BINARY, b"\x00\xff\xfe binary is not UTF-8"),
    frame(Opcode.TEXT, b"", fin=True),  # empty message
    # A fragmented text message, a character cut between two fragments, and
    # control frames between fragments (RFC 6455 §5.4).
    frame(Opcode.TEXT, b"caf" + E_ACUTE[:1], fin=False),
    frame(Opcode.PING, b"between"),
    frame(Opcode.CONT, E_ACUTE[1:] + b" au lait", fin=False),
    frame(Opcode.PONG, b"unsolicited"),
    frame(Opcode.CONT, b"", fin=False),
    frame(Opcode.CONT, b"!", fin=True),
    frame(Opcode.TEXT, "é".encode() * 150),  # 300 bytes: a 16-bit length
    raw(0x81, b"16-bit length, not the shortest: allowed", width=2),
    raw(0x82, b"x" * 3000, width=8),  # a 64-bit length, not the shortest: allowed
    raw(0x82, b"x" * 3000),
    frame(Opcode.PING, b"last"),
]
CONVERSATION = b"".join(FRAMES)


async def test_every_split_of_a_conversation_is_read_alike() -> None:
    for reads in splits(FRAMES):
        sock, transport, held = feed(reads)
        assert written(transport) == [(Opcode.PONG, b"between"), (Opcode.PONG, b"last")], reads
        assert not sock.closed and not transport.closing
        assert held <= HEADER_MAX  # no payload is held, whatever the reads


async def test_a_payload_is_read_through_not_held() -> None:
    # 60 KB of text arriving in 1 KB reads: nothing past a header is ever kept.
    data = frame(Opcode.TEXT, "é".encode() * 30_000) + frame(Opcode.PING, b"p")
    _, transport, held = feed([data[i : i + 1000] for i in range(0, len(data), 1000)])
    assert held < 14
    assert written(transport) == [(Opcode.PONG, b"p")]


@pytest.mark.parametrize("opcode", [Opcode.TEXT, Opcode.BINARY])
async def test_the_largest_message_is_read_in_one_frame_or_many(opcode: Opcode) -> None:
    data = b"x" * (MAX_MESSAGE - 1)  # aiohttp's bound too: 64 KiB refused, one less read
    whole = frame(opcode, data)
    fragmented = frame(opcode, data[:30_000], fin=False) + frame(Opcode.CONT, data[30_000:])
    for stream in (whole, fragmented):
        stream += frame(Opcode.PING, b"p")
        for reads in ([stream], [stream[i : i + 1] for i in range(len(stream))]):
            sock, transport, _ = feed(reads)
            assert written(transport) == [(Opcode.PONG, b"p")] and not sock.closed


def close(code: int, reason: bytes = b"") -> bytes:
    return frame(Opcode.CLOSE, code.to_bytes(2, "big") + reason)


REFUSED = [
    pytest.param(raw(0x81, b"not masked", mask=False), 1002, id="unmasked text"),
    pytest.param(raw(0x89, b"", mask=False), 1002, id="unmasked ping"),
    pytest.param(raw(0xC1, b"rsv1"), 1002, id="RSV1"),
    pytest.param(raw(0xA1, b"rsv2"), 1002, id="RSV2"),
    pytest.param(raw(0x91, b"rsv3"), 1002, id="RSV3"),
    pytest.param(raw(0x83, b""), 1002, id="reserved data opcode 3"),
    pytest.param(raw(0x87, b""), 1002, id="reserved data opcode 7"),
    pytest.param(raw(0x8B, b""), 1002, id="reserved control opcode 11"),
    pytest.param(raw(0x8F, b""), 1002, id="reserved control opcode 15"),
    pytest.param(raw(0x09, b"frag"), 1002, id="fragmented ping"),
    pytest.param(raw(0x89, b"p" * 126), 1002, id="ping of 126 bytes"),
    pytest.param(raw(0x88, b"\x03\xe8", width=2), 1002, id="close with a 16-bit length"),
    pytest.param(frame(Opcode.CONT, b"orphan"), 1002, id="continuation of nothing"),
    pytest.param(
        [frame(Opcode.TEXT, b"a", fin=False), frame(Opcode.TEXT, b"b")],
        1002,
        id="new message inside a fragmented one",
    ),
    pytest.param(raw(0x82, b"x" * MAX_MESSAGE), 1009, id="one frame of 64 KiB"),
    pytest.param(
        [frame(Opcode.BINARY, b"x" * 40_000, fin=False), frame(Opcode.CONT, b"y" * 25_536)],
        1009,
        id="fragments reaching 64 KiB",
    ),
    pytest.param(
        [frame(Opcode.BINARY, b"x" * (MAX_MESSAGE - 1), fin=False), frame(Opcode.CONT, b"y")],
        1009,
        id="a one-byte fragment over the bound",
    ),
    pytest.param(bytes((0x82, 0xFF)) + (2**63).to_bytes(8, "big"), 1009, id="64-bit top bit"),
    pytest.param(frame(Opcode.TEXT, b"\xff"), 1007, id="text not UTF-8"),
    pytest.param(frame(Opcode.TEXT, b"ok " + b"\xed\xa0\x80"), 1007, id="text with a surrogate"),
    pytest.param(frame(Opcode.TEXT, b"\xc0\xaf"), 1007, id="text overlong"),
    pytest.param(frame(Opcode.TEXT, b"cut " + E_ACUTE[:1]), 1007, id="text ends mid-character"),
    pytest.param(
        [frame(Opcode.TEXT, b"fine", fin=False), frame(Opcode.CONT, b"\xf4\x90\x80\x80")],
        1007,
        id="second fragment not UTF-8",
    ),
    pytest.param(
        [frame(Opcode.TEXT, b"cut " + E_ACUTE[:1], fin=False), frame(Opcode.CONT, b"")],
        1007,
        id="fragmented text ends mid-character",
    ),
    pytest.param(frame(Opcode.CLOSE, b"\x03"), 1002, id="close of one byte"),
    pytest.param(close(999), 1002, id="close code 999"),
    pytest.param(close(1005), 1002, id="close code 1005"),
    pytest.param(close(5000), 1002, id="close code 5000"),
    pytest.param(close(1000, b"\xff"), 1007, id="close reason not UTF-8"),
]


@pytest.mark.parametrize(("stream", "code"), REFUSED)
async def test_a_refused_frame_closes_with_its_code_however_split(
    stream: bytes | list[bytes], code: int
) -> None:
    # What follows a refused frame is not read: the ping gets no pong.
    frames = [*(stream if isinstance(stream, list) else [stream]), frame(Opcode.PING, b"after")]
    for reads in splits(frames):
        sock, transport, held = feed(reads)
        frames = written(transport)
        assert len(frames) == 1 and frames[0][0] is Opcode.CLOSE, (reads, frames)
        assert Close.parse(frames[0][1]).code == code, reads
        assert sock.closed and transport.closing
        assert held <= HEADER_MAX


async def test_an_oversized_frame_is_refused_on_its_header() -> None:
    sock, transport = socket()
    sock.data_received(raw(0x81, b"x" * 100_000)[:10])  # the header alone
    assert [(op, Close.parse(data).code) for op, data in written(transport)] == [
        (Opcode.CLOSE, 1009)
    ]


async def test_bad_utf8_is_refused_at_its_byte_not_at_the_end_of_the_message() -> None:
    sock, transport = socket()
    sock.data_received(frame(Opcode.TEXT, b"\xff" + b"x" * 60_000)[:20])
    assert [(op, Close.parse(data).code) for op, data in written(transport)] == [
        (Opcode.CLOSE, 1007)
    ]


@pytest.mark.parametrize("reason", [b"", b"bye", "au revoir é".encode()])
async def test_a_close_is_echoed_however_split(reason: bytes) -> None:
    for reads in splits([close(1000, reason), frame(Opcode.PING, b"after")]):
        _, transport, _ = feed(reads)
        assert written(transport) == [(Opcode.CLOSE, b"\x03\xe8")], reads
        assert transport.closing


async def test_while_paused_only_the_latest_ping_is_answered_once_resumed() -> None:
    # A client that sends but does not read: pongs must not pile up behind what it
    # does not read (RFC 6455 §5.5.3 allows answering only the most recent ping).
    sock, transport = socket()
    sock.pause_writing()
    for i in range(1000):
        sock.data_received(frame(Opcode.PING, b"%d" % i))
    sock.ping()  # the timer's own ping waits too
    assert transport.written == b""
    sock.resume_writing()
    assert written(transport) == [(Opcode.PONG, b"999")]
    sock.resume_writing()
    assert written(transport) == [(Opcode.PONG, b"999")]  # once


async def test_a_socket_silent_while_paused_is_still_dropped() -> None:
    sock, transport = socket()
    sock.pause_writing()
    sock.ping()  # heard since the handover: marked, nothing written
    assert not transport.aborted
    sock.ping()  # nothing heard since
    assert transport.aborted


async def test_a_lean_socket_reads_on_from_where_the_shadow_stands() -> None:
    # The handover at every byte of the conversation: mid-header, mid-payload, in a
    # fragmented message with half a character pending. The pings the Shadow read
    # whole are aiohttp's to answer (they wait on its queue); the rest are ours.
    ends = {b"between": len(b"".join(FRAMES[:5])), b"last": len(CONVERSATION)}
    for at in range(len(CONVERSATION) + 1):
        shadow = Shadow(AiohttpReader())
        shadow.feed_data(CONVERSATION[:at])
        sock, transport = socket()
        sock.carry_on(shadow)
        sock.data_received(CONVERSATION[at:])
        ours = [(Opcode.PONG, ping) for ping, end in ends.items() if end > at]
        assert written(transport) == ours, at
        assert shadow.failure is None and not sock.closed


async def test_a_shadow_keeps_what_aiohttp_let_by() -> None:
    shadow = Shadow(AiohttpReader())
    shadow.feed_data(frame(Opcode.TEXT, b"hello") + raw(0x81, b"unmasked", mask=False))
    assert shadow.failure is not None and shadow.failure[0] == 1002


class AiohttpReader:
    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        return False, b""
