"""`eadrcc serve --workers 2`: two full instances behind one port, as real processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import aiohttp
import asyncpg

from tests.conftest import TokenFactory, bearer, free_port, wait_ready
from tests.integration.ws_helpers import read_until, stream


async def _pid(http: aiohttp.ClientSession, url: str) -> int:
    """Which worker answered (a new connection each time: the kernel picks one)."""
    async with http.get(f"{url}/metrics", headers={"Connection": "close"}) as resp:
        for line in (await resp.text()).splitlines():
            if line.startswith("eadrcc_process_id "):
                return int(float(line.split()[1]))
    raise AssertionError("no eadrcc_process_id in /metrics")


async def test_two_workers_share_the_port_and_each_pushes_every_event(
    db_url: str, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": db_url, "EADRCC_LOG_LEVEL": "warning"}
    hub = subprocess.Popen(
        [sys.executable, "-m", "eadrcc", "serve", "--port", str(port), "--workers", "2"], env=env
    )
    try:
        await wait_ready(url)
        token = await make_token("duty_officer")
        async with aiohttp.ClientSession() as http:
            pids: set[int] = set()
            async with asyncio.timeout(60):
                while len(pids) < 2:  # both workers answer on the one port
                    pids.add(await _pid(http, url))
            assert hub.pid not in pids
            # Sockets land on whichever worker the kernel picks; each worker follows
            # the log with its own hub, so every socket gets the event.
            async with (
                stream(url, token) as (first, _),
                stream(url, token) as (second, _),
                stream(url, token) as (third, _),
            ):
                async with http.post(
                    f"{url}/api/v1/emergencies",
                    json={
                        "title": "workers",
                        "hazard": "flood",
                        "countries": ["TUR"],
                        "location": {"lat": 39.9, "lon": 32.8},
                        "severity": "moderate",
                    },
                    headers=bearer(token),
                ) as resp:
                    assert resp.status == 201, await resp.text()
                    created = (await resp.json())["id"]
                seq = await pool.fetchval(
                    "SELECT seq FROM events WHERE kind = 'emergency.created' AND emergency_id = $1",
                    created,
                )
                for ws in (first, second, third):
                    got = await read_until(ws, seq)
                    assert got[-1]["kind"] == "emergency.created", got
    finally:
        hub.send_signal(signal.SIGTERM)
        assert hub.wait(60) == 0
