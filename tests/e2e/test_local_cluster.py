"""deploy/local-cluster (two instances behind nginx) under steady offer load while
one instance is SIGKILLed: every acknowledged offer is in the database, and a
console following through nginx resumes on the survivor with no gap or repeat."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from eadrcc.events import log as events
from tests.conftest import ROOT, TokenFactory, bearer, free_port, wait_ready
from tests.integration.ops_helpers import T0, emergency_body
from tests.integration.ws_helpers import stream

pytestmark = pytest.mark.skipif(
    shutil.which("nginx") is None, reason="nginx is not installed (apt-get install nginx-light)"
)


async def test_killing_an_instance_loses_no_acknowledged_offer(
    db_url: str, make_token: TokenFactory, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "EADRCC_CLUSTER_DIR": str(tmp_path),
        "EADRCC_BIN": str(Path(sys.executable).parent / "eadrcc"),
    }
    cluster = await asyncio.create_subprocess_exec(
        str(ROOT / "deploy" / "local-cluster"),
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(url)
        officer = await make_token("duty_officer")
        async with pool.acquire() as conn:
            start = await events.head(conn)
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{url}/api/v1/emergencies", json=emergency_body(), headers=bearer(officer)
            ) as resp:
                emergency = await resp.json()
            # Two consoles: nginx (least_conn) puts them on different instances, so
            # one of them is on the instance that dies and must resume on the other.
            followers = [asyncio.ensure_future(_follow(url, officer, start)) for _ in range(2)]
            acknowledged = await _load(http, url, officer, emergency["id"], tmp_path)
        async with pool.acquire() as conn:
            head = await events.head(conn)
            stored = {r["id"] for r in await conn.fetch("SELECT id FROM offers")}
            expected = [
                r["seq"]
                for r in await events.read_between(
                    conn, since=start, until=head, audience=None, limit=1_000_000
                )
            ]
        for follower in followers:
            follower.final = head  # type: ignore[attr-defined]
        results = [await asyncio.wait_for(f, 60) for f in followers]
    finally:
        if cluster.returncode is None:
            os.killpg(cluster.pid, signal.SIGTERM)
        await asyncio.wait_for(cluster.wait(), 30)
    assert len(acknowledged) >= 2 * ENOUGH
    assert acknowledged <= stored, "an acknowledged offer is missing"
    for seen, _drops in results:
        assert seen == expected, "a console missed, repeated or reordered events"
    assert sum(drops for _, drops in results) >= 1, "no console had to resume"


ENOUGH = 20  # offers acknowledged before the kill, and again after it


async def _load(
    http: aiohttp.ClientSession, url: str, token: str, emergency_id: str, state: Path
) -> set[str]:
    """Eight writers; an instance is killed once offers are being acknowledged and both
    consoles are connected, and the writers go on until ENOUGH more are acknowledged
    (by the survivor). Counted, not timed: a slow machine only makes it take longer."""
    acknowledged: set[str] = set()
    after: set[str] = set()  # acknowledged once the instance was dead
    flowing, killed = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        while not (killed.is_set() and len(after) >= ENOUGH):
            sent_after = killed.is_set()
            body = {
                "emergency_id": emergency_id,
                "offering_country": "NOR",
                "channel": "direct",
                "items": [
                    {"resource_type": "shelter.blanket", "quantity": 10, "available_from": T0}
                ],
            }
            try:
                async with http.post(
                    f"{url}/api/v1/offers", json=body, headers=bearer(token)
                ) as resp:
                    if resp.status == 201:
                        made = (await resp.json())["id"]
                        acknowledged.add(made)
                        if sent_after:
                            after.add(made)
                        elif len(acknowledged) >= ENOUGH:
                            flowing.set()
                    else:
                        await asyncio.sleep(0.05)  # a client backs off on 502/503
            except aiohttp.ClientError:
                pass  # not acknowledged: the client would retry

    async def kill_one() -> None:
        await flowing.wait()  # into the load: the fault is the point
        # Kill an instance that has consoles connected, so that they must resume;
        # wait until both consoles are (a console connects at its own pace).
        while sum(subscribers := [await _subscribers(http, state, n) for n in (1, 2)]) < 2:
            await asyncio.sleep(0.05)
        victim = 1 if subscribers[0] else 2
        os.kill(int((state / f"hub{victim}.pid").read_text()), signal.SIGKILL)
        killed.set()

    async with asyncio.timeout(180):
        await asyncio.gather(*(writer() for _ in range(8)), kill_one())
    return acknowledged


async def _subscribers(http: aiohttp.ClientSession, state: Path, n: int) -> float:
    """How many sockets instance n serves, from its /metrics (0 while it starts)."""
    port = (state / f"hub{n}.port").read_text().strip()
    try:
        async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
            metrics = await resp.text()
    except aiohttp.ClientError:
        return 0.0
    line = next(
        x for x in metrics.splitlines() if x.startswith('eadrcc_event_hub{name="subscribers"}')
    )
    return float(line.split()[-1])


async def _follow(url: str, token: str, start: int) -> tuple[list[int], int]:
    """A console through nginx: resumes from its last seq whenever the socket drops,
    until it has the event the test names as the last (set as `final` on the task)."""
    seen: list[int] = []
    drops = 0
    me = asyncio.current_task()

    def done() -> bool:
        final = getattr(me, "final", None)
        return final is not None and (seen[-1] if seen else start) >= final

    while not done():
        try:
            async with stream(url, token, since=seen[-1] if seen else start) as (ws, _):
                while not done():
                    try:
                        message = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                    except TimeoutError:
                        continue  # quiet: look at `final` again
                    if message["type"] == "event":
                        seen.append(message["seq"])
        except (ConnectionClosed, InvalidStatus, OSError, TimeoutError):
            drops += 1
            await asyncio.sleep(0.1)  # back off a little before resuming
    return seen, drops
