"""The parse pool with real worker processes (no database): results and our errors
cross the process boundary intact, a read past the budget is refused and its
worker replaced, and a worker dying mid-read fails that read only."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator

import pytest

from eadrcc import parsepool
from eadrcc.errors import Invalid, StopsTheReader, TooSlowToRead, Unavailable
from eadrcc.parsepool import WALL_FACTOR, ParsePool


def warm() -> int:
    """Warming up imports this module in the worker, so a read's budget is its own."""
    return os.getpid()


def shout(raw: bytes) -> tuple[str, int]:
    return raw.decode().upper(), os.getpid()


def refuse(raw: bytes) -> None:
    raise Invalid("not valid", errors={"alert.sent": raw.decode()})


def never_finish(raw: bytes) -> None:
    time.sleep(3600)  # a document the reader never gets through


def spin(raw: bytes) -> None:
    while True:  # a document whose reading never ends, on the processor
        pass


def wait_then_answer(raw: bytes) -> bytes:
    time.sleep(float(raw))  # waiting (for the machine, say) uses no processor time
    return raw


def crash(raw: bytes) -> None:
    os._exit(3)  # as a parser's segfault would end the process


@pytest.fixture
async def parser() -> AsyncIterator[ParsePool]:
    # These tests read no CAP: no need for the hub's warm-up.
    pool = ParsePool(workers=2, budget_seconds=1.0, inline_below_bytes=4, warm_up=warm)
    yield pool
    await pool.close()


async def test_small_documents_are_read_inline(parser: ParsePool) -> None:
    assert await parser.run(shout, b"abc") == ("ABC", os.getpid())
    assert parser.pids() == []


async def test_large_documents_are_read_in_a_worker(parser: ParsePool) -> None:
    results = await asyncio.gather(*(parser.run(shout, b"x" * 100) for _ in range(4)))
    assert {text for text, _ in results} == {"X" * 100}
    assert {pid for _, pid in results} <= set(parser.pids())
    assert os.getpid() not in parser.pids()
    assert parser.counters["offloaded"] == 4


async def test_our_errors_keep_their_fields_across_processes(parser: ParsePool) -> None:
    with pytest.raises(Invalid) as caught:
        await parser.run(refuse, b"yesterday")
    assert caught.value.errors == {"alert.sent": "yesterday"}
    assert caught.value.status == 422


async def test_over_budget_is_refused_and_the_worker_replaced(parser: ParsePool) -> None:
    await asyncio.gather(parser.run(shout, b"warm up"), parser.run(shout, b"both"))
    before = set(parser.pids())
    assert len(before) == 2
    with pytest.raises(TooSlowToRead, match="longer than 1 s"):
        await parser.run(never_finish, b"pathological")
    [stuck] = before - set(parser.pids())
    with pytest.raises(ProcessLookupError):
        os.kill(stuck, 0)  # killed and reaped
    # Both slots read again, the stuck one with a new process.
    results = await asyncio.gather(*(parser.run(shout, b"after") for _ in range(4)))
    assert all(text == "AFTER" for text, _ in results)
    assert parser.counters["over_budget"] == 1


async def test_a_crashing_read_fails_alone_and_the_pool_recovers(parser: ParsePool) -> None:
    slow = asyncio.create_task(parser.run(shout, b"neighbour"))
    with pytest.raises(Unavailable) as caught:
        await parser.run(crash, b"poison")
    assert caught.value.headers == {"Retry-After": "1"}
    assert (await slow)[0] == "NEIGHBOUR"
    assert (await parser.run(shout, b"again"))[0] == "AGAIN"
    assert parser.counters["crashed"] == 1


async def test_a_document_that_stops_the_reader_twice_is_refused_from_then_on(
    parser: ParsePool,
) -> None:
    with pytest.raises(Unavailable):  # once: perhaps the machine's doing
        await parser.run(crash, b"poison")
    with pytest.raises(StopsTheReader) as caught:  # twice: the document's
        await parser.run(crash, b"poison")
    assert caught.value.status == 422
    started = parser.counters["started"]
    with pytest.raises(StopsTheReader):
        await parser.run(crash, b"poison")
    assert parser.counters["started"] == started  # refused without reaching a worker
    assert (parser.counters["crashed"], parser.counters["refused_crashing"]) == (2, 1)
    # The same bytes through another reader, and the pool itself, read on.
    assert (await parser.run(shout, b"poison"))[0] == "POISON"
    with pytest.raises(Unavailable):
        await parser.run(crash, b"another")


async def test_the_pool_forgets_the_oldest_crashing_document(
    parser: ParsePool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parsepool, "CRASH_MEMORY", 1)
    for raw in (b"first", b"second"):
        with pytest.raises(Unavailable):
            await parser.run(crash, raw)
    with pytest.raises(Unavailable):  # its first stop was forgotten: once again
        await parser.run(crash, b"first")


async def test_zero_workers_reads_everything_inline() -> None:
    pool = ParsePool(workers=0, budget_seconds=1.0, inline_below_bytes=0)
    assert await pool.run(shout, b"x" * 100) == ("X" * 100, os.getpid())
    await pool.close()


def huge(raw: bytes) -> bytes:
    return raw * 64_000_000  # 64 MB to send back: killed while computing or sending it


async def test_a_worker_killed_while_answering_never_hangs_the_pool() -> None:
    # The wall-clock guard (WALL_FACTOR x 0.01 s) fires while the 64 MB answer is being
    # computed or sent; a try whose answer squeezes through on time is no failure.
    pool = ParsePool(workers=1, budget_seconds=0.01, inline_below_bytes=0, warm_up=warm)
    for _ in range(3):
        with contextlib.suppress(TooSlowToRead):
            await pool.run(huge, b"x")
    assert pool.counters["over_budget"] >= 1
    pool.budget = 30.0
    assert (await pool.run(shout, b"still here"))[0] == "STILL HERE"
    async with asyncio.timeout(30):
        await pool.close()
    assert pool.pids() == []


async def test_the_budget_is_processor_time_not_the_wall_clock() -> None:
    """A busy machine slows every document down; only a document that itself uses
    more than the budget of processor time is refused (at the budget, not later)."""
    pool = ParsePool(workers=1, budget_seconds=0.5, inline_below_bytes=0, warm_up=warm)
    try:
        assert await pool.run(wait_then_answer, b"1.5") == b"1.5"  # 3x the budget, idle
        started = time.monotonic()
        with pytest.raises(TooSlowToRead):
            await pool.run(spin, b"pathological")
        assert time.monotonic() - started < 0.5 * WALL_FACTOR  # the processor timer fired
        assert pool.counters["over_budget"] == 1
    finally:
        await pool.close()
