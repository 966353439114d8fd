"""Two hub processes share the deliveries; SIGKILL the one delivering a webhook in
the middle of a batch: the other takes the subscription over (its lease runs
out within 20 s, the default) and the receiver ends with every event, in order,
once per X-EADRCC-Delivery."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import aiohttp
import asyncpg

from eadrcc.auth import Principal, Role
from eadrcc.events import log as events
from eadrcc.policy import event_audience
from tests.conftest import TokenFactory, bearer, free_port, wait_ready
from tests.integration.delivery_helpers import Receiver, wait_until
from tests.integration.ops_helpers import emergency_body

EVENTS = 150


async def start_hub(db_url: str, port: int) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "EADRCC_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
        "EADRCC_DELIVERY_MIN_BACKOFF_SECONDS": "0.05",
        "EADRCC_DELIVERY_MAX_BACKOFF_SECONDS": "0.5",
        "EADRCC_LOG_LEVEL": "warning",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "eadrcc",
        "serve",
        "--port",
        str(port),
        "--no-migrate",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def holder_pid(pool: asyncpg.Pool, sub_id: str) -> int | None:
    async with pool.acquire() as conn:
        holder = await conn.fetchval("SELECT lease_holder FROM subscriptions WHERE id = $1", sub_id)
    return int(holder.split(":")[1]) if holder else None


async def test_sigkill_of_the_delivering_instance_loses_nothing(
    db_url: str, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    # The receiver refuses until every event is written, then takes 50 ms an
    # event: the kill lands in the middle of one long batch.
    open_for_business = asyncio.Event()
    receiver = await Receiver(
        behaviour=lambda _n: 204 if open_for_business.is_set() else 503, delay=0.05
    ).start()
    ports = [free_port(), free_port()]
    hubs = {}
    for port in ports:
        hub = await start_hub(db_url, port)
        hubs[hub.pid] = hub
    try:
        for port in ports:
            await wait_ready(f"http://127.0.0.1:{port}")
        officer = await make_token("duty_officer")
        url = f"http://127.0.0.1:{ports[0]}"
        async with aiohttp.ClientSession(headers=bearer(officer)) as http:
            async with http.post(
                f"{url}/api/v1/subscriptions",
                json={"kind": "webhook", "url": receiver.url, "country": "NOR"},
            ) as resp:
                assert resp.status == 201, await resp.text()
                sub = await resp.json()
            receiver.secret = sub["secret"]
            for n in range(EVENTS):  # each makes an event every nation sees
                body = emergency_body(title=f"Flood {n}")
                async with http.post(f"{url}/api/v1/emergencies", json=body) as resp:
                    assert resp.status == 201
        expected = await _expected(pool, sub["cursor"])
        assert len(expected) >= EVENTS
        open_for_business.set()
        await receiver.wait_for(lambda: len(receiver.acknowledged) >= 20, timeout=60)
        victim = await holder_pid(pool, sub["id"])
        assert victim in hubs
        hubs[victim].send_signal(signal.SIGKILL)
        await hubs[victim].wait()
        killed_at, got_at_kill = time.monotonic(), len(receiver.first_receipts())
        assert got_at_kill < len(expected), "the batch ended before the kill"
        survivor = next(pid for pid in hubs if pid != victim)
        # The survivor takes over within 30 s of the death and carries on.
        await wait_until(lambda: _held_by(pool, sub["id"], survivor), timeout=30)
        await receiver.wait_for(lambda: len(receiver.first_receipts()) > got_at_kill, timeout=30)
        assert time.monotonic() - killed_at < 30
        await receiver.wait_for(
            lambda: {r.seq for r in receiver.acknowledged} >= set(expected), timeout=120
        )
        firsts = receiver.first_receipts()
        assert [r.seq for r in firsts] == expected
        assert all(r.delivery == f"{sub['id']}:{r.seq}" for r in firsts)
    finally:
        for hub in hubs.values():
            if hub.returncode is None:
                hub.send_signal(signal.SIGTERM)
                await asyncio.wait_for(hub.wait(), 30)
        await receiver.stop()


async def _held_by(pool: asyncpg.Pool, sub_id: str, pid: int) -> bool:
    return await holder_pid(pool, sub_id) == pid


async def _expected(pool: asyncpg.Pool, since: int) -> list[int]:
    audience = event_audience(Principal("t", "t", Role.POC, "NOR"))
    async with pool.acquire() as conn:
        head = await events.head(conn)
        rows = await events.read_between(
            conn, since=since, until=head, audience=audience, limit=100_000
        )
    return [r["seq"] for r in rows]
