"""The /ws protocol: hello, welcome, backlog then live with no seam, filtering,
resync, slow clients and a lost LISTEN connection."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from websockets.exceptions import ConnectionClosed

from eadrcc import db
from eadrcc.app import create_app
from eadrcc.appkeys import HUB, LIVE_SOCKETS
from eadrcc.config import Settings
from eadrcc.events import log as events
from eadrcc.events.hub import LISTENER_NAME
from tests.conftest import TokenFactory, bearer
from tests.integration.ops_helpers import api, emergency_body, item
from tests.integration.ws_helpers import (
    event_json,
    next_message,
    read_texts_until,
    read_until,
    stream,
    ws_url,
)

Client = TestClient  # type: ignore[type-arg]


def base_url(client: Client) -> str:
    return str(client.make_url(""))


async def _append(
    pool: asyncpg.Pool,
    n: int,
    *,
    visibility: list[str] | None = None,
    size: int = 0,
    data: dict[str, Any] | None = None,
) -> int:
    """Write n events straight into the log (as a state change would) and NOTIFY."""
    last = 0
    async with db.transaction(pool) as conn:
        for i in range(n):
            last = (
                await events.append(
                    conn,
                    kind="test.event",
                    actor="test",
                    data={"i": i, "pad": "x" * size} if data is None else data,
                    visibility=visibility or ["*"],
                )
            ).seq
    async with pool.acquire() as conn:
        await conn.execute("NOTIFY eadrcc_events")
    return last


@pytest.mark.parametrize(
    ("hello", "code"),
    [
        ({"type": "hello", "token": "nope"}, 4001),
        ({"type": "hello"}, 4001),
        ({"type": "bonjour"}, 4000),
        ({"type": "hello", "token": "x", "since": -1}, 4000),
        ("not json", 4000),
    ],
)
async def test_a_bad_hello_is_closed_with_a_clear_code(
    client: Client, hello: object, code: int
) -> None:
    from websockets.asyncio.client import connect

    async with connect(ws_url(base_url(client))) as ws:
        await ws.send(hello if isinstance(hello, str) else json.dumps(hello))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code
    assert closed.value.rcvd.reason


async def test_backlog_then_live_with_no_seam(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    token = await make_token("duty_officer")
    async with pool.acquire() as conn:
        start = await events.head(conn)
    await _append(pool, 30)  # before the socket: served from the backlog or the hub
    async with stream(base_url(client), token, since=start) as (ws, welcome):
        assert start <= welcome["head"]  # the hub's position: it may not have read `first` yet
        last = await _append(pool, 30)
        got = await read_until(ws, last)
    seqs = [e["seq"] for e in got]
    assert seqs == list(range(start + 1, last + 1))  # one transaction each: contiguous
    assert got[0]["kind"] == "test.event" and {"at", "data", "emergency_id"} <= got[0].keys()


async def test_live_only_without_since_and_api_changes_arrive(
    client: Client, make_token: TokenFactory
) -> None:
    officer = await api(client, make_token, "duty_officer")
    async with stream(base_url(client), officer.token) as (ws, welcome):
        emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
        message = await next_message(ws)
    assert message["seq"] > welcome["head"]
    assert (message["kind"], message["emergency_id"]) == ("emergency.created", emergency["id"])


NON_ASCII = "Évacuation — Gölcük 避难所"
NESTED = {
    "title": NON_ASCII,
    "site": {"name": "Gölcük", "beds": 240, "share": 0.75, "at": {"lat": 40.7167, "lon": 29.8}},
    "counts": [0, -3, 2**53 + 1, 1.5e-7, 12345.678, -0.5],
    "flags": {"open": True, "full": False, "closed_at": None},
    "text": 'quote " backslash \\ tab \t line\n sep \u2028 \U0001f691',
    "empty": [{}, [], ""],
}


async def test_a_live_event_reads_as_the_same_event_resumed_from_the_backlog(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    """The hub puts each event's data in its frame as the JSON text PostgreSQL wrote
    (events/fanout.py); a resuming console's backlog encodes the decoded data. Which
    way an event came must make no difference to what a console reads."""
    officer = await api(client, make_token, "duty_officer")
    async with stream(base_url(client), officer.token) as (live, welcome):
        start = welcome["head"]  # subscribed: all after this comes through the hub
        emergency = await officer.post(
            "/api/v1/emergencies", emergency_body(title=NON_ASCII), expect=201
        )
        await officer.post(
            "/api/v1/offers",
            {
                "emergency_id": emergency["id"],
                "offering_country": "NOR",
                "channel": "direct",
                "notes": NON_ASCII,
                "items": [item("shelter.tent.family", 10)],
            },
            expect=201,
        )
        last = await _append(pool, 1, data=NESTED)
        live_texts = await read_texts_until(live, last)
    async with stream(base_url(client), officer.token, since=start) as (resumed, welcome):
        assert welcome["head"] >= last  # the hub read them all: each one is backlog
        backlog_texts = await read_texts_until(resumed, last)
    got_live = [event_json(text) for text in live_texts]
    got_backlog = [event_json(text) for text in backlog_texts]
    assert [e["seq"] for e in got_live] == list(range(start + 1, last + 1))
    assert got_live == got_backlog
    by_kind = {e["kind"]: e for e in got_live}
    assert by_kind["emergency.created"]["data"]["title"] == NON_ASCII
    assert by_kind["offer.created"]["data"]["notes"] == NON_ASCII
    assert by_kind["offer.created"]["emergency_id"] == emergency["id"]
    assert (got_live[-1]["data"], got_live[-1]["emergency_id"]) == (NESTED, None)


async def test_a_poc_socket_never_sees_other_countries_events(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    officer = await api(client, make_token, "duty_officer")
    deu_token = await make_token("poc", country="DEU")
    async with pool.acquire() as conn:
        start = await events.head(conn)
    async with (
        stream(base_url(client), deu_token, since=start) as (deu, _),
        stream(base_url(client), officer.token, since=start) as (staff, _),
    ):
        emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
        await officer.post(
            f"/api/v1/emergencies/{emergency['id']}/requests",
            {
                "requesting_country": "TUR",
                "needs": [{"resource_type": "shelter.tent.family", "quantity": 10}],
            },
            expect=201,
        )
        await officer.post(
            "/api/v1/offers",
            {
                "emergency_id": emergency["id"],
                "offering_country": "NOR",
                "channel": "direct",
                "items": [item("shelter.tent.family", 10)],
            },
            expect=201,
        )
        marker = await _append(pool, 1)  # visible to all: the end of the story
        seen_by_staff = await read_until(staff, marker)
        seen_by_deu = await read_until(deu, marker)
    assert {"offer.created", "match.proposed"} <= {e["kind"] for e in seen_by_staff}
    # Germany gets the RFA circulated to it; its open console then makes its row
    # `delivered` (a response.updated that may land before or after the marker).
    assert [e["kind"] for e in seen_by_deu if e["kind"] != "response.updated"] == [
        "emergency.created",
        "request.created",
        "request.circulated",
        "test.event",
    ]
    assert all(
        e["data"]["country"] == "DEU"
        for e in seen_by_deu
        if e["kind"] in ("request.circulated", "response.updated")
    )


async def test_old_or_unknown_positions_get_resync(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    token = await make_token("observer")
    async with pool.acquire() as conn:
        head = await events.head(conn)
    async with stream(base_url(client), token, since=head + 1000) as (ws, welcome):
        assert await next_message(ws) == {"type": "resync", "head": welcome["head"]}
    async with pool.acquire() as conn:  # age the oldest events past the 7-day retention
        await conn.execute(
            "UPDATE events SET at = at - $1::interval WHERE seq <= 3", timedelta(days=8)
        )
    async with stream(base_url(client), token, since=0) as (ws, welcome):
        assert (await next_message(ws))["type"] == "resync"
        last = await _append(pool, 1)
        assert [e["seq"] for e in await read_until(ws, last)] == [last]  # then live


async def test_a_console_ahead_of_this_instance_waits_for_it_instead_of_resyncing(
    db_url: str, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    """A console that another instance served further resumes here: this hub has not
    read that far yet (it polls only once a minute and hears no NOTIFY here), but
    the log has the position, so it catches up instead of answering resync."""
    token = await make_token("observer")
    settings = Settings(database_url=db_url, event_poll_seconds=60, pool_max_size=4)
    async with TestClient(TestServer(create_app(settings))) as client:
        hub = client.app[HUB]
        # Written as another instance would, out of this process: no wake-up, no NOTIFY.
        conn = await asyncpg.connect(db_url)
        try:
            seen = await conn.fetchval(
                "SELECT append_events(ARRAY['test.event'], ARRAY[NULL], ARRAY['*'],"
                " ARRAY['test'], ARRAY['{}'])"
            )
        finally:
            await conn.close()
        assert hub.last_seq < seen
        async with stream(base_url(client), token, since=seen) as (ws, welcome):
            assert welcome["head"] >= seen
            last = await _append(pool, 1)
            assert [e["seq"] for e in await read_until(ws, last)] == [last]  # no resync


async def test_heartbeats_carry_the_head_after_every_event_before_them(
    db_url: str, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    settings = Settings(
        database_url=db_url, pool_min_size=1, pool_max_size=5, ws_heartbeat_seconds=0.2
    )
    token = await make_token("observer")
    async with (
        TestClient(TestServer(create_app(settings))) as c,
        stream(base_url(c), token) as (ws, welcome),
    ):
        quiet = await next_message(ws, heartbeats=True)
        assert quiet == {"type": "heartbeat", "head": welcome["head"]}
        last = await _append(pool, 3)
        seen: list[int] = []
        # A heartbeat says "you have everything up to head": no event of ours at or
        # below it may come after it.
        while True:
            message = await next_message(ws, heartbeats=True)
            if message["type"] == "event":
                seen.append(message["seq"])
            elif message["head"] >= last:
                assert seen == list(range(last - 2, last + 1))
                break
            else:
                assert all(seq <= message["head"] for seq in seen)


@pytest.fixture
async def small_queue_client(db_url: str) -> AsyncIterator[Client]:
    settings = Settings(
        database_url=db_url,
        pool_min_size=1,
        pool_max_size=5,
        ws_queue_bound=100,
        event_poll_seconds=0.2,
    )
    async with TestClient(TestServer(create_app(settings))) as c:
        yield c


async def test_a_slow_client_is_cut_off_and_others_keep_up(
    small_queue_client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    token = await make_token("observer")
    url = base_url(small_queue_client)
    async with pool.acquire() as conn:
        start = await events.head(conn)
    # The slow client stops reading after the welcome: max_queue=1 stops the library
    # reading too, and a small receive buffer (no autotuning) makes TCP push back at
    # once, so the server-side queue of 100 overflows. Bursts of 20 stay well inside
    # it for a client that reads.
    async with (
        stream(url, token, since=start, max_queue=1, sock=_small_socket(url)) as (slow, _),
        stream(url, token, since=start) as (fast, _),
    ):
        got: list[dict[str, object]] = []
        for _ in range(30):
            last = await _append(pool, 20, size=40_000)
            got += await read_until(fast, last, timeout=30)
        assert [e["seq"] for e in got] == list(range(start + 1, last + 1))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(slow.recv(), 30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008
    app = small_queue_client.app
    async with asyncio.timeout(30):  # both sockets left the hub (events/lean.py)
        while len(app[LIVE_SOCKETS]) or len(app[HUB].subscribers):
            await asyncio.sleep(0.01)


def _small_socket(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((parts.hostname, parts.port))
    sock.setblocking(False)
    return sock


async def test_killing_the_listen_connection_loses_nothing(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    token = await make_token("observer")
    async with pool.acquire() as conn:
        start = await events.head(conn)
    async with stream(base_url(client), token, since=start) as (ws, _):
        first = await _append(pool, 5)
        await read_until(ws, first)
        async with pool.acquire() as conn:
            killed = await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = $1 AND datname = current_database()",
                LISTENER_NAME,
            )
        assert killed == 1
        middle = await _append(pool, 5)  # while the listener is down or reconnecting
        await _wait_ready(client)
        last = await _append(pool, 5)
        got = await read_until(ws, last)
    assert [e["seq"] for e in got] == list(range(first + 1, last + 1))
    assert middle < last
    metrics = await (await client.get("/metrics")).text()
    assert 'eadrcc_event_hub{name="listener_reconnects"} 1.0' in metrics


async def _wait_ready(client: Client) -> None:
    async with asyncio.timeout(30):  # a new LISTEN connection, on a machine maybe loaded
        while True:
            resp = await client.get("/readyz")
            body = await resp.json()
            if resp.status == 200 and body["checks"]["event_listener"] == "ok":
                return
            await asyncio.sleep(0.05)


async def test_events_over_http_long_poll(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    token = await make_token("observer")
    async with pool.acquire() as conn:
        head = await events.head(conn)
    waiting = asyncio.ensure_future(
        client.get(f"/api/v1/events?since={head}&wait=20", headers=bearer(token))
    )
    last = await _append(pool, 2)
    page = await (await asyncio.wait_for(waiting, 20)).json()
    assert [e["seq"] for e in page["events"]] == [last - 1, last]
