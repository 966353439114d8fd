"""Work that follows a commit hangs on the transaction (db.after_commit): it runs
once the change is committed, never after a rollback, and whoever wrote — an HTTP
request, the CLI in another process, a poller — the hubs push at once."""

from __future__ import annotations

import asyncio
import json
import sys

import asyncpg
import pytest
import structlog
import structlog.testing
import websockets
from aiohttp.test_utils import TestClient, TestServer

from eadrcc import db
from eadrcc.app import create_app
from eadrcc.appkeys import HUB
from eadrcc.config import Settings
from eadrcc.events import log as events
from tests.conftest import TokenFactory
from tests.integration.ops_helpers import until


async def test_after_commit_runs_once_committed_and_never_on_rollback(
    pool: asyncpg.Pool,
) -> None:
    seen: list[str] = []

    async def committed(conn: asyncpg.Connection) -> None:
        assert not conn.is_in_transaction()
        seen.append(await conn.fetchval("SELECT kind FROM events ORDER BY seq DESC LIMIT 1"))

    async with db.transaction(pool) as conn:
        events.record(conn, kind="test.kept", actor="t", data={})
        db.after_commit(conn, committed)
        db.after_commit(conn, committed)  # the same hook twice runs once
        assert seen == []
    assert seen == ["test.kept"]  # ran after the commit: it could read the event

    with pytest.raises(RuntimeError, match="boom"):
        async with db.transaction(pool) as conn:
            db.after_commit(conn, committed)
            raise RuntimeError("boom")
    assert seen == ["test.kept"]


async def test_a_failing_hook_is_logged_and_the_commit_stands(pool: asyncpg.Pool) -> None:
    async def broken(_conn: asyncpg.Connection) -> None:
        raise ValueError("no")

    with structlog.testing.capture_logs() as logs:
        async with db.transaction(pool) as conn:
            events.record(conn, kind="test.stands", actor="t", data={})
            db.after_commit(conn, broken)
    assert any(e["event"] == "after_commit_failed" for e in logs)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM events WHERE kind = 'test.stands'") == 1


def test_after_commit_needs_a_hooked_transaction() -> None:
    with pytest.raises(RuntimeError, match=r"db\.transaction"):
        db.after_commit(object(), lambda _c: asyncio.sleep(0))  # type: ignore[arg-type]


WRITE_FROM_ANOTHER_PROCESS = """
import asyncio, sys
from eadrcc import db
from eadrcc.events import log as events

async def main():
    pool = await db.create_pool(sys.argv[1], min_size=1, max_size=1)
    async with db.transaction(pool) as conn:
        events.record(conn, kind="test.from_cli", actor="cli", data={})
    await pool.close()

asyncio.run(main())
"""


async def test_a_write_from_a_process_without_a_hub_is_pushed_at_once(
    db_url: str, make_token: TokenFactory
) -> None:
    """As the CLI writes: its after-commit sends the NOTIFY. The hub here polls only
    once a minute, so a live event seen within the wait below came by notification."""
    settings = Settings(database_url=db_url, event_poll_seconds=60, pool_max_size=4)
    token = await make_token("duty_officer")
    async with TestClient(TestServer(create_app(settings))) as client:
        url = str(client.make_url("/ws")).replace("http", "ws", 1)
        # Room for a slow subprocess start, and still under the 60 s poll.
        async with websockets.connect(url) as ws, asyncio.timeout(45):
            await ws.send(json.dumps({"type": "hello", "token": token}))  # live only
            assert json.loads(await ws.recv())["type"] == "welcome"
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", WRITE_FROM_ANOTHER_PROCESS, db_url
            )
            assert await proc.wait() == 0
            while (msg := json.loads(await ws.recv()))["type"] != "event":
                pass  # heartbeats
    assert msg["kind"] == "test.from_cli"


async def test_a_hub_reads_the_log_once_for_its_own_commit_not_again_on_its_own_notify(
    db_url: str,
) -> None:
    """A commit here wakes this hub's reader directly (poke), and that read sends one
    NOTIFY for the other instances; the NOTIFY comes back to this hub's own listener
    too, and must not cost it a second read. Another session's NOTIFY, delivered
    after ours, marks the point by which ours has been handled."""
    settings = Settings(database_url=db_url, event_poll_seconds=60, pool_max_size=4)
    async with TestClient(TestServer(create_app(settings))) as client:
        hub = client.app[HUB]
        await until(lambda: hub.counters["log_reads"] >= 1)  # its catch-up on listening
        reads, sent = hub.counters["log_reads"], hub.counters["notifications_sent"]
        gathered = hub.counters["notifications_gathered"]
        pool = await db.create_pool(db_url, min_size=1, max_size=1)
        try:
            async with db.transaction(pool) as conn:
                events.record(conn, kind="test.ours", actor="t", data={})
            ours = await pool.fetchval("SELECT max(seq) FROM events")
            await until(lambda: hub.counters["notifications_sent"] == sent + 1)
            await until(lambda: hub.last_seq == ours)
            # Another instance's commit: written without this process's hooks.
            other = await asyncpg.connect(db_url)
            try:
                theirs = await other.fetchval(
                    "SELECT append_events('{test.theirs}', '{NULL}', '{NOR}', '{t}', '{\"{}\"}')"
                )
                await other.execute("NOTIFY eadrcc_events")
            finally:
                await other.close()
            await until(lambda: hub.last_seq == theirs)
        finally:
            await pool.close()
        assert hub.counters["log_reads"] == reads + 2
        # Only theirs was taken for another instance's (this hub waits on nothing, so
        # it gathered it; ours, had it been taken so, would count here too).
        assert hub.counters["notifications_gathered"] == gathered + 1


async def _commit_elsewhere(db_url: str, kind: str, notifications: int = 1) -> int:
    """An event committed as another instance would (no hooks of this process), with
    `notifications` NOTIFYs sent by that same commit: delivered together."""
    other = await asyncpg.connect(db_url)
    try:
        async with other.transaction():
            seq: int = await other.fetchval(
                "SELECT append_events($1::text[], '{NULL}', '{NOR}', '{t}', '{\"{}\"}')",
                [kind],
            )
            for n in range(notifications):
                await other.execute(f"SELECT pg_notify('eadrcc_events', 'other-{n}')")
    finally:
        await other.close()
    return seq


async def test_a_hub_nobody_waits_on_reads_other_instances_commits_together(
    db_url: str,
) -> None:
    """With no socket, long poll or delivery loop waiting here, another instance's
    commits are read together a moment later (QUIET_READ_SECONDS), not one read per
    NOTIFY: three that arrive at once cost one read. A later commit's read marks the
    point by which any other read would have happened."""
    settings = Settings(database_url=db_url, event_poll_seconds=60, pool_max_size=4)
    async with TestClient(TestServer(create_app(settings))) as client:
        hub = client.app[HUB]
        await until(lambda: hub.counters["log_reads"] >= 1)  # its catch-up on listening
        reads, gathered = hub.counters["log_reads"], hub.counters["notifications_gathered"]
        theirs = await _commit_elsewhere(db_url, "test.theirs", notifications=3)
        await until(lambda: hub.last_seq == theirs)
        later = await _commit_elsewhere(db_url, "test.later")
        await until(lambda: hub.last_seq == later)
        assert hub.counters["log_reads"] == reads + 2
        assert hub.counters["notifications_gathered"] == gathered + 4


async def test_a_hub_with_a_long_poll_waiting_reads_another_instances_commit_at_once(
    db_url: str, make_token: TokenFactory
) -> None:
    """A long poll (GET /events?wait=) waits on the hub: the hub then reads on each
    NOTIFY, without gathering them first."""
    settings = Settings(database_url=db_url, event_poll_seconds=60, pool_max_size=4)
    token = await make_token("duty_officer")
    async with TestClient(TestServer(create_app(settings))) as client:
        hub = client.app[HUB]
        await until(lambda: hub.counters["log_reads"] >= 1)
        since = hub.last_seq
        poll = asyncio.ensure_future(
            client.get(
                f"/api/v1/events?since={since}&wait=30",
                headers={"Authorization": f"Bearer {token}"},
            )
        )
        await until(lambda: hub.waiters == 1)
        gathered = hub.counters["notifications_gathered"]
        theirs = await _commit_elsewhere(db_url, "test.theirs")
        page = await (await poll).json()
        assert [e["seq"] for e in page["events"]] == [theirs]
        assert hub.counters["notifications_gathered"] == gathered


async def _listening(db_url: str) -> tuple[asyncpg.Connection, asyncio.Queue[str]]:
    """Another instance's listener: the payloads of the NOTIFYs it hears, and what
    the log's head is as each arrives."""
    conn = await asyncpg.connect(db_url)
    heard: asyncio.Queue[str] = asyncio.Queue()
    await conn.add_listener("eadrcc_events", lambda *args: heard.put_nowait(args[3]))
    return conn, heard


async def test_a_commit_here_is_told_to_the_other_instances_once_it_can_be_read(
    db_url: str, pool: asyncpg.Pool
) -> None:
    """Other instances hear of a commit here by a NOTIFY from this hub (its read of
    the log sends it, named by the hub), and by then the events it announces are
    committed."""
    settings = Settings(database_url=db_url, event_poll_seconds=60, pool_max_size=4)
    async with TestClient(TestServer(create_app(settings))) as client:
        hub = client.app[HUB]
        await until(lambda: hub.counters["log_reads"] >= 1)
        other, heard = await _listening(db_url)
        try:
            async with db.transaction(pool) as conn:
                events.record(conn, kind="test.ours", actor="t", data={})
            ours = await pool.fetchval("SELECT max(seq) FROM events")
            payload = await asyncio.wait_for(heard.get(), 10)
            assert payload == hub._id
            assert await other.fetchval("SELECT max(seq) FROM events") >= ours
        finally:
            await other.close()


async def test_a_read_that_cannot_tell_does_not_stop_the_hub_reading(
    db_url: str, pool: asyncpg.Pool
) -> None:
    """If the read that tells the other instances fails (here its function is gone),
    the hub reads plainly on its next try and sends the NOTIFY on its own: it keeps
    following the log, and the others still hear of the commit."""
    settings = Settings(database_url=db_url, event_poll_seconds=60, pool_max_size=4)
    async with TestClient(TestServer(create_app(settings))) as client:
        hub = client.app[HUB]
        await until(lambda: hub.counters["log_reads"] >= 1)
        other, heard = await _listening(db_url)
        renamed = "ALTER FUNCTION read_events_and_notify(bigint, int, text) RENAME TO {}"
        await other.execute(renamed.format("read_events_and_notify_away"))
        try:
            async with db.transaction(pool) as conn:
                events.record(conn, kind="test.ours", actor="t", data={})
            ours = await pool.fetchval("SELECT max(seq) FROM events")
            await until(lambda: hub.last_seq == ours)
            assert await asyncio.wait_for(heard.get(), 10) == hub._id
            assert hub.reading
        finally:
            await other.execute(
                "ALTER FUNCTION read_events_and_notify_away(bigint, int, text)"
                " RENAME TO read_events_and_notify"
            )
            await other.close()
