"""Revocation and secret rotation take effect on every instance: two hubs on one
database, the change made by the CLI in another process (as an operator would)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import websockets
from aiohttp.test_utils import TestClient, TestServer
from websockets.exceptions import ConnectionClosed

from eadrcc import auth, db
from eadrcc.app import create_app
from eadrcc.config import Settings
from tests.conftest import bearer
from tests.integration.test_alerts_api import _signed as signed
from tests.integration.test_alerts_api import quake

Client = TestClient  # type: ignore[type-arg]


@pytest.fixture
async def two(db_url: str) -> AsyncIterator[list[Client]]:
    # The slow poll is off the table: only the token event's NOTIFY can act in time.
    settings = Settings(database_url=db_url, event_poll_seconds=60, pool_max_size=4)
    clients = [TestClient(TestServer(create_app(settings))) for _ in range(2)]
    for c in clients:
        await c.start_server()
    yield clients
    for c in clients:
        await c.close()


async def _issue(pool: asyncpg.Pool, role: str) -> auth.IssuedToken:
    async with db.transaction(pool) as conn:
        return await auth.create(conn=conn, role=auth.Role(role), name=f"test {role}")


async def _cli(db_url: str, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "eadrcc",
        *args,
        env={**os.environ, "DATABASE_URL": db_url},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out
    return out.decode()


async def _open(client: Client, token: str) -> Any:
    url = str(client.make_url("/ws")).replace("http", "ws", 1)
    ws = await websockets.connect(url)
    await ws.send(json.dumps({"type": "hello", "token": token}))
    assert json.loads(await ws.recv())["type"] == "welcome"
    return ws


async def _closed_code(ws: Any) -> int:
    with contextlib.suppress(ConnectionClosed):
        async for _message in ws:  # heartbeats until the close frame
            pass
    code: int = ws.close_code
    return code


async def test_a_revoked_tokens_sockets_close_with_4001_on_every_instance(
    two: list[Client], pool: asyncpg.Pool, db_url: str
) -> None:
    doomed = await _issue(pool, "observer")
    other = await _issue(pool, "observer")
    sockets = [await _open(c, doomed.token) for c in two]
    bystanders = [await _open(c, other.token) for c in two]
    await _cli(db_url, "token", "revoke", doomed.id)
    committed = time.monotonic()
    async with asyncio.timeout(5):  # the contract's bound, counted from the commit
        codes = await asyncio.gather(*(_closed_code(ws) for ws in sockets))
    assert codes == [4001, 4001], codes
    assert time.monotonic() - committed < 5
    for ws in bystanders:  # other tokens' sockets stay
        assert ws.close_code is None
        await ws.close()
    # And the token opens nothing any more, on either instance.
    for c in two:
        ws = await _open_refused(c, doomed.token)
        assert ws == 4001


async def _open_refused(client: Client, token: str) -> int:
    url = str(client.make_url("/ws")).replace("http", "ws", 1)
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "hello", "token": token}))
        return await _closed_code(ws)


async def _wait_until_read(client: Client, staff: str, since: int, kind: str) -> None:
    """Until this instance's hub has read the token event: its position (/metrics)
    passes the event's seq. (The log itself shows the event earlier, before the hub
    has acted on it; the instance's token cache follows the hub.)"""
    async with asyncio.timeout(30):  # under the 60 s poll: only the NOTIFY gets there
        while True:
            resp = await client.get(f"/api/v1/events?since={since}&wait=5", headers=bearer(staff))
            page = await resp.json()
            seqs = [e["seq"] for e in page["events"] if e["kind"] == kind]
            if seqs:
                break
            since = page["next_since"]
        while await _hub_position(client) < seqs[0]:
            await asyncio.sleep(0.02)


async def _hub_position(client: Client) -> int:
    text = await (await client.get("/metrics")).text()
    line = next(x for x in text.splitlines() if x.startswith('eadrcc_event_hub{name="last_seq"}'))
    return int(float(line.split()[-1]))


async def _post_alert(client: Client, token: auth.IssuedToken, secret: str, n: str) -> int:
    body = json.dumps(quake(identifier=f"ROT-{n}")).encode()
    resp = await client.post("/api/v1/alerts", data=body, headers=signed(token.token, secret, body))
    return resp.status


async def test_a_rotated_secret_takes_effect_on_every_instance(
    two: list[Client], pool: asyncpg.Pool, db_url: str
) -> None:
    feed = await _issue(pool, "integration")
    staff = (await _issue(pool, "duty_officer")).token
    first = feed.secret or ""
    for n, c in enumerate(two):  # both instances know (and cache) the token now
        assert await _post_alert(c, feed, first, f"a{n}") == 201
    async with pool.acquire() as conn:
        head = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM events")
    second = (await _cli(db_url, "token", "rotate-secret", feed.id)).strip()
    for c in two:
        await _wait_until_read(c, staff, head, auth.SECRET_ROTATED)
    for n, c in enumerate(two):
        assert await _post_alert(c, feed, second, f"b{n}") == 201
    async with pool.acquire() as conn:
        head = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM events")
    await _cli(db_url, "token", "rotate-secret", feed.id)  # the first secret retires
    for c in two:
        await _wait_until_read(c, staff, head, auth.SECRET_ROTATED)
    for n, c in enumerate(two):
        assert await _post_alert(c, feed, first, f"c{n}") == 401
