"""Fan-out: frames encoded once, the same bytes for every socket of an audience,
one write for a socket that was behind, and the cut-off past the bound.

The sockets here are recording lines (the fan-out's own small interface); the
real sockets, the 4008 close and the no-seam stream are in
tests/integration/test_websocket.py."""

from __future__ import annotations

import asyncio
import json
import struct
from datetime import UTC, datetime

import pytest
from websockets.frames import Close, Frame, Opcode
from websockets.streams import StreamReader

from eadrcc.events.fanout import FanOut, Outgoing, Subscriber, event_message, text_frame
from eadrcc.events.lean import close_frame
from tests.integration.ws_helpers import event_json


class RecordingLine:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.is_paused = False
        self.cut = False
        self.closed = False
        self.resumed = asyncio.Event()

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def paused(self) -> bool:
        return self.is_paused

    async def drained(self) -> None:
        await self.resumed.wait()

    async def cut_off(self) -> None:
        self.cut = True


def event(seq: int, *visibility: str) -> Outgoing:
    return Outgoing(seq, frozenset(visibility), text_frame(json.dumps({"seq": seq})))


async def until(condition: object, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0)


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
def test_a_frame_is_what_an_independent_websocket_parser_reads(size: int) -> None:
    text = "é" * (size // 2) + "x" * (size % 2)
    stream = StreamReader()  # the `websockets` library's parser, not our code
    stream.feed_data(text_frame(text))
    stream.feed_eof()
    with pytest.raises(StopIteration) as parsed:
        next(Frame.parse(stream.read_exact, mask=False))
    frame = parsed.value.value
    assert frame.opcode is Opcode.TEXT and frame.fin and frame.data.decode() == text


def test_frames_are_unmasked_with_the_shortest_length() -> None:
    assert text_frame("hi")[:2] == bytes([0x81, 2])
    assert text_frame("x" * 300)[:4] == bytes([0x81, 126]) + struct.pack("!H", 300)
    assert text_frame("x" * 70_000)[:10] == bytes([0x81, 127]) + struct.pack("!Q", 70_000)


async def test_one_buffer_per_audience_the_same_bytes_for_every_socket() -> None:
    fan = FanOut()
    lines = {name: [RecordingLine() for _ in range(3)] for name in ("staff", "NOR", "TUR")}
    audiences = {"staff": None, "NOR": frozenset({"*", "NOR"}), "TUR": frozenset({"*", "TUR"})}
    for name, group in lines.items():
        for line in group:
            sub = Subscriber(audiences[name], bound=10)
            fan.add(sub)
            sub.go_live(line)
    batch = [event(1, "*"), event(2, "NOR"), event(3, "TUR"), event(4, "staff")]
    fan.publish(batch)
    expected = {
        "staff": b"".join(e.frame for e in batch),
        "NOR": batch[0].frame + batch[1].frame,
        "TUR": batch[0].frame + batch[2].frame,
    }
    for name, group in lines.items():
        first = group[0].writes[0]
        assert first == expected[name]
        # One write per socket per read, and the very same object for each socket.
        assert all(line.writes == [first] and line.writes[0] is first for line in group)


async def test_a_socket_behind_gets_what_waited_in_one_write_in_order() -> None:
    fan, line = FanOut(), RecordingLine()
    sub = Subscriber(None, bound=10)
    fan.add(sub)
    sub.go_live(line)
    line.is_paused = True
    for seq in range(1, 6):
        fan.publish([event(seq, "*")])
    assert line.writes == []
    line.is_paused = False
    line.resumed.set()
    await until(lambda: line.writes)
    assert line.writes == [b"".join(event(seq, "*").frame for seq in range(1, 6))]
    fan.publish([event(6, "*")])  # caught up: straight through again
    assert line.writes[-1] == event(6, "*").frame


async def test_events_before_go_live_wait_and_go_first() -> None:
    sub, line = Subscriber(None, bound=10), RecordingLine()
    sub.deliver(event(1, "*").frame, 1)  # while the backlog is being sent
    line.resumed.set()
    sub.go_live(line)
    sub.deliver(event(2, "*").frame, 1)  # must not overtake event 1
    await until(lambda: len(b"".join(line.writes)) == 2 * len(event(1, "*").frame))
    assert b"".join(line.writes) == event(1, "*").frame + event(2, "*").frame


async def test_past_the_bound_the_socket_is_cut_off_and_others_keep_going() -> None:
    fan, slow, fast = FanOut(), RecordingLine(), RecordingLine()
    cuts: list[int] = []
    slow_sub = Subscriber(None, bound=3, on_cut=lambda: cuts.append(1))
    fast_sub = Subscriber(None, bound=3)
    for sub, line in ((slow_sub, slow), (fast_sub, fast)):
        fan.add(sub)
        sub.go_live(line)
    slow.is_paused = True
    for seq in range(1, 6):
        fan.publish([event(seq, "*")])
    await until(lambda: slow.cut)
    assert cuts == [1] and slow_sub.overflowed and slow.writes == []
    assert len(fast.writes) == 5
    fan.discard(slow_sub)
    assert len(fan) == 1


def test_an_audience_is_reached_only_by_a_live_socket_that_is_not_closing() -> None:
    # Receipts claim "a console of this nation was sent it" from reaches(): a socket
    # still in its backlog, cut off, or closing (its writes are dropped) is no claim.
    fan, line = FanOut(), RecordingLine()
    sub = Subscriber(frozenset({"NOR"}), bound=10)
    fan.add(sub)
    assert not fan.reaches(frozenset({"NOR"}))  # backlog still going out
    sub.go_live(line)
    assert fan.reaches(frozenset({"NOR"}))
    line.closed = True  # e.g. revoked: our close frame is out, the echo not yet in
    assert not fan.reaches(frozenset({"NOR"}))


def test_a_close_reason_is_cut_on_a_character() -> None:
    frame = close_frame(4001, ("é" * 100).encode())  # 200 bytes; a close frame holds 123
    stream = StreamReader()
    stream.feed_data(frame)
    stream.feed_eof()
    with pytest.raises(StopIteration) as parsed:
        next(Frame.parse(stream.read_exact, mask=False))
    close = Close.parse(parsed.value.value.data)  # raises on a reason that is not UTF-8
    assert close.code == 4001 and close.reason == "é" * 61


async def test_heartbeats_do_not_wait_for_a_socket_behind() -> None:
    # A heartbeat counts no event toward the bound: kept for a socket that reads
    # nothing, they would pile up without end. Dropped; the next one goes out.
    fan, line = FanOut(), RecordingLine()
    sub = Subscriber(None, bound=10)
    fan.add(sub)
    sub.go_live(line)
    beat = text_frame(json.dumps({"type": "heartbeat", "head": 1}))
    line.is_paused = True
    for _ in range(1000):
        fan.beat(beat)
    fan.publish([event(1, "*")])
    assert sub.pending == [event(1, "*").frame] and sub.waiting == 1
    line.is_paused = False
    line.resumed.set()
    await until(lambda: line.writes)
    assert line.writes == [event(1, "*").frame]
    fan.beat(beat)  # caught up: straight through
    assert line.writes[-1] == beat


AT = datetime(2026, 2, 6, 3, 0, 12, 345678, tzinfo=UTC)
DATA = {
    "notes": "Évacuation — Gölcük 避难所",
    "items": [{"quantity": 10, "share": 0.25, "origin": None, "open": True}],
    "site": {"at": {"lat": 40.7167, "lon": -29.8}, "beds": 2**53 + 1},
}
# The same data as PostgreSQL writes jsonb as text (events.sql read_all_since): its
# own key order and spacing, non-ASCII as it is.
DATA_JSON = (
    '{"site": {"at": {"lat": 40.7167, "lon": -29.8}, "beds": 9007199254740993}, '
    '"items": [{"open": true, "share": 0.25, "origin": null, "quantity": 10}], '
    '"notes": "Évacuation — Gölcük 避难所"}'
)


@pytest.mark.parametrize("emergency_id", [None, "emg_1"])
def test_data_passed_through_as_text_reads_as_data_encoded(emergency_id: str | None) -> None:
    # The hub's rows carry the data as JSON text, spliced in as it is; a backlog's
    # rows carry it decoded, encoded here. A console must read the same event.
    row = {"seq": 7, "kind": "offer.created", "emergency_id": emergency_id, "at": AT}
    from_feed = event_message({**row, "visibility": ["*"], "data_json": DATA_JSON})
    from_backlog = event_message({**row, "data": DATA})
    expected = {"type": "event", **row, "at": "2026-02-06T03:00:12.345678+00:00", "data": DATA}
    assert event_json(from_feed) == event_json(from_backlog) == expected
    if emergency_id is None:
        assert '"emergency_id":null' in from_feed and '"emergency_id":null' in from_backlog
