"""The event log keeps commit order: a reader polling `since=` never skips an event."""

from __future__ import annotations

import asyncio
import random

import asyncpg
import pytest

from eadrcc import db
from eadrcc.events import log as events
from eadrcc.events.models import Event

WRITERS = 8
PER_WRITER = 60


async def _writer(pool: asyncpg.Pool, n: int, committed: list[int]) -> None:
    for i in range(PER_WRITER):
        async with pool.acquire() as conn:
            tr = conn.transaction()
            await tr.start()
            seq = (
                await events.append(
                    conn, kind="test.written", actor=f"w{n}", data={"writer": n, "i": i}
                )
            ).seq
            # Hold the transaction open a little, at random, so commits would
            # interleave and land out of seq order if nothing kept them in line.
            await asyncio.sleep(random.random() * 0.004)
            if i % 10 == 9:
                await tr.rollback()  # rolled back events must never be seen
            else:
                await tr.commit()
                committed.append(seq)


async def test_concurrent_writers_and_a_polling_reader_miss_nothing(pool: asyncpg.Pool) -> None:
    committed: list[int] = []
    seen: list[int] = []
    done = asyncio.Event()

    async with pool.acquire() as conn:
        start = await events.head(conn)  # the template's seed already wrote events

    async def reader() -> None:
        since = start
        while True:
            finished = done.is_set()
            async with pool.acquire() as conn:
                page = await events.read_since(conn, since=since, limit=7, audience=None)
            seen.extend(e.seq for e in page.events)
            since = page.next_since
            if finished and not page.events:
                return

    read = asyncio.create_task(reader())
    await asyncio.gather(*(_writer(pool, n, committed) for n in range(WRITERS)))
    done.set()
    await asyncio.wait_for(read, timeout=30)

    assert seen == sorted(seen), "events were read out of order"
    assert len(seen) == len(set(seen)), "an event was read twice"
    assert set(seen) == set(committed), "the reader missed or invented events"
    assert len(committed) == WRITERS * PER_WRITER * 9 // 10


async def test_append_outside_a_transaction_is_refused(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside"):
            await events.append(conn, kind="x", actor="t", data={})


async def test_audience_filters_and_next_since_skips_invisible(pool: asyncpg.Pool) -> None:
    async with db.transaction(pool) as conn:
        start = await events.head(conn)
        await events.append(conn, kind="a", actor="t", data={}, visibility=["*"])
        await events.append(conn, kind="b", actor="t", data={}, visibility=["NOR"])
        await events.append(conn, kind="c", actor="t", data={}, visibility=["TUR", "NOR"])
        last = (await events.append(conn, kind="d", actor="t", data={}, visibility=[])).seq
    async with pool.acquire() as conn:
        tur = await events.read_since(conn, since=start, limit=100, audience=["*", "TUR"])
        staff = await events.read_since(conn, since=start, limit=100, audience=None)
        after = await events.read_since(
            conn, since=tur.next_since, limit=100, audience=["*", "TUR"]
        )
    assert [e.kind for e in tur.events] == ["a", "c"]
    assert [e.kind for e in staff.events] == ["a", "b", "c", "d"]
    assert after.events == [] and after.next_since == last


class _Rollback(Exception):
    pass


async def _recorder(pool: asyncpg.Pool, n: int, committed: list[tuple[int, int]]) -> None:
    """Queued events (events.record), appended with the COMMIT (db.with_commit)."""
    for i in range(PER_WRITER):
        try:
            async with db.transaction(pool) as conn:
                for part in (0, 1):
                    events.record(conn, kind="test.queued", actor=f"r{n}", data={"i": i, "p": part})
                await asyncio.sleep(random.random() * 0.004)
                if i % 10 == 9:
                    raise _Rollback
        except _Rollback:
            continue
        committed.append((n, i))


async def test_queued_events_commit_in_seq_order_and_rollbacks_leave_none(
    pool: asyncpg.Pool,
) -> None:
    committed: list[tuple[int, int]] = []
    seen: list[Event] = []
    done = asyncio.Event()
    async with pool.acquire() as conn:
        start = await events.head(conn)

    async def reader() -> None:
        since = start
        while True:
            finished = done.is_set()
            async with pool.acquire() as conn:
                page = await events.read_since(conn, since=since, limit=7, audience=None)
            seen.extend(page.events)
            since = page.next_since
            if finished and not page.events:
                return

    read = asyncio.create_task(reader())
    await asyncio.gather(*(_recorder(pool, n, committed) for n in range(WRITERS)))
    done.set()
    await asyncio.wait_for(read, timeout=30)

    seqs = [e.seq for e in seen]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    assert seqs == list(range(start + 1, start + 1 + len(seqs))), "a gap in the log"
    got = [(int(e.actor[1:]), e.data["i"], e.data["p"]) for e in seen]
    assert sorted(got) == sorted((n, i, p) for n, i in committed for p in (0, 1))
    # Each transaction's two events are adjacent: its append is one statement.
    assert all(got[k][:2] == got[k + 1][:2] for k in range(0, len(got), 2))


async def test_a_transactions_events_take_their_seqs_in_the_order_recorded(
    pool: asyncpg.Pool,
) -> None:
    """One statement appends them all (migration 0025): the seqs still follow the
    order they were recorded in, with no gap, and the times never go back."""
    async with db.transaction(pool) as conn:
        for i in range(300):
            events.record(conn, kind=f"test.order.{i % 7}", actor="t", data={"i": i})
    rows = await pool.fetch(
        "SELECT seq, at, kind, data FROM events WHERE kind LIKE 'test.order.%' ORDER BY seq"
    )
    assert [r["data"]["i"] for r in rows] == list(range(300))
    assert [r["kind"] for r in rows] == [f"test.order.{i % 7}" for i in range(300)]
    seqs = [r["seq"] for r in rows]
    assert seqs == list(range(seqs[0], seqs[0] + 300)), "a gap in the log"
    assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)
    async with pool.acquire() as conn:
        assert await events.head(conn) == seqs[-1]


async def test_queued_event_text_is_stored_exactly(pool: asyncpg.Pool) -> None:
    """The append is written into the COMMIT's text: no value may change its meaning."""
    for nasty in (
        "it's $v$ $v1$ $$ \\ \\' '' ; COMMIT; DROP TABLE events; -- ç 中 \U0001f600",
        "ends in the tag's start $v",  # would close "$v$" early
        "$",
    ):
        async with db.transaction(pool) as conn:
            start = await events.head(conn)
            data = {"text": nasty, nasty: [nasty]}
            events.record(conn, kind=nasty, actor=nasty, data=data, visibility=[nasty])
        async with pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT kind, actor, data, visibility FROM events WHERE seq > $1", start
            )
        assert row["kind"] == nasty and row["actor"] == nasty
        assert row["data"] == data
        assert list(row["visibility"]) == [nasty]
