"""`eadrcc tail` as an operator runs it, graceful shutdown, and a database that
drops every connection (as a restart does) while the hub keeps running."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import asyncpg
from aiohttp import WSCloseCode
from aiohttp.test_utils import TestClient, TestServer
from websockets.exceptions import ConnectionClosed

from eadrcc.app import create_app
from eadrcc.appkeys import LIVE_SOCKETS, SOCKETS
from eadrcc.config import Settings
from eadrcc.events import log as events
from tests.conftest import TokenFactory, wait_ready
from tests.integration.ops_helpers import api, emergency_body
from tests.integration.ws_helpers import next_message, stream

Client = TestClient  # type: ignore[type-arg]


async def _line(proc: asyncio.subprocess.Process) -> dict:  # type: ignore[type-arg]
    assert proc.stdout is not None
    # A fresh process (its imports) and a resume after a drop: slow on a loaded machine.
    raw = await asyncio.wait_for(proc.stdout.readline(), 60)
    assert raw, "tail ended early"
    return json.loads(raw)  # type: ignore[no-any-return]


async def test_tail_prints_filters_and_resumes(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    officer = await api(client, make_token, "duty_officer")
    async with pool.acquire() as conn:
        start = await events.head(conn)
    env = {**os.environ, "EADRCC_TOKEN": officer.token, "EADRCC_LOG_LEVEL": "warning"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "eadrcc",
        "tail",
        "--url",
        str(client.make_url("")),
        "--json",
        "--since",
        str(start),
        "--kind",
        "emergency.",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        first = await officer.post("/api/v1/emergencies", emergency_body(title="One"), expect=201)
        await officer.post(
            f"/api/v1/emergencies/{first['id']}/requests",
            {  # filtered out
                "requesting_country": "TUR",
                "needs": [{"resource_type": "shelter.blanket", "quantity": 5}],
            },
            expect=201,
        )
        got = [await _line(proc)]
        # The server drops every socket (as a redeploy would); tail resumes by itself.
        for ws in [*client.app[SOCKETS], *client.app[LIVE_SOCKETS]]:  # type: ignore[index]
            await ws.close(code=WSCloseCode.SERVICE_RESTART, message=b"restart")
        await officer.post("/api/v1/emergencies", emergency_body(title="Two"), expect=201)
        got.append(await _line(proc))
    finally:
        proc.terminate()
        _, err = await proc.communicate()
    assert [(e["kind"], e["data"]["title"]) for e in got] == [
        ("emergency.created", "One"),
        ("emergency.created", "Two"),
    ]
    assert got[0]["seq"] < got[1]["seq"]
    assert b"disconnected (1012); resuming after" in err
    assert officer.token.encode() not in err


async def test_tail_refuses_a_bad_token_clearly(client: Client) -> None:
    env = {**os.environ, "EADRCC_TOKEN": "eadrcc_wrong"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "eadrcc",
        "tail",
        "--url",
        str(client.make_url("")),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and b"unauthorized" in err


async def test_shutdown_closes_sockets_with_going_away(
    db_url: str, make_token: TokenFactory
) -> None:
    server = TestServer(create_app(Settings(database_url=db_url, pool_min_size=1)))
    await server.start_server()
    token = await make_token("observer")
    async with stream(str(server.make_url("")), token) as (ws, _):
        closing = asyncio.ensure_future(server.close())
        try:
            await next_message(ws)
            raise AssertionError("expected the server to close the socket")
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1001
        await closing


async def test_the_hub_survives_the_database_dropping_every_connection(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool, server_url: str
) -> None:
    officer = await api(client, make_token, "duty_officer")
    async with pool.acquire() as conn:
        start = await events.head(conn)
        database = await conn.fetchval("SELECT current_database()")
    async with stream(str(client.make_url("")), officer.token, since=start) as (ws, _):
        admin = await asyncpg.connect(server_url)
        try:
            dropped = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
        finally:
            await admin.close()
        assert dropped >= 2  # the hub's pool and its listener at least
        created = await _eventually_created(officer)
        message = await next_message(ws)
    assert message["kind"] == "emergency.created" and message["emergency_id"] == created
    # Ready again once its listener is back (it may still be reconnecting right now).
    await wait_ready(str(client.make_url("")).rstrip("/"), timeout=30)


async def _eventually_created(officer) -> str:  # type: ignore[no-untyped-def]
    """A request after the drop may find a dead pooled connection (as many as the pool
    held): it must get a clear 503 (never a 500), and a retry must succeed."""
    async with asyncio.timeout(30):
        while True:
            resp = await officer.call("POST", "/api/v1/emergencies", emergency_body())
            if resp.get("status") != 503:
                assert "id" in resp, resp
                return str(resp["id"])
