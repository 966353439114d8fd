"""Websocket push: commit → delivery latency, and memory per idle websocket.

Everything runs as real, separate processes on one machine:

- a fresh database (eadrcc_bench_push_<random>), migrated and seeded by
  `eadrcc seed`, with tokens from `eadrcc token create` (subprocesses);
- one or two hubs, each `eadrcc serve --port P` (subprocess, log level warning);
- the clients: a load generator that shares no code with the server, built on the
  `websockets` library, in worker processes (--clients-per-proc per process).
  Each client says hello (live only), waits for its welcome, and records the
  receive time (time.time()) of every event;
- a writer in this process that POSTs /api/v1/offers at a steady rate to the first
  hub, against an emergency with an RFA created through the API.

Latency = receive time - the event's "at" (clock_timestamp() when the event row is
inserted, inside the offer's transaction; the offer's matching runs after it, before
the commit), over "offer.created" events only: one per POST, seen by every client
(duty-officer token). Clients are split evenly across the hubs.

Before each run it waits (up to --quiet-patience s) for the machine to be less than
--quiet-below % busy, and reports how busy it was: on a shared machine, other load
shows up as latency.

Memory: a fresh hub, warmed up, its RSS with no client and then with N idle
clients connected; (RSS_N - RSS_0) / N per connection.

Run it from the repository root (PostgreSQL user allowed to CREATE DATABASE):

    python bench/push_latency.py [--database-url URL] [--clients 100,1000,5000]
        [--instances 1,2] [--rate 20] [--seconds 15] [--idle 1000,5000]
        [--clients-per-proc 2500] [--quiet-below 25] [--quiet-patience 120]

Without --database-url it uses $DATABASE_URL, else the embedded PostgreSQL in
.eadrcc/bench-pgdata. Results are printed and written to
bench/results/push_latency.json; hub logs stay in a temporary folder (printed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import platform
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
import psutil  # type: ignore[import-untyped]
import send_floor
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from eadrcc import db

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "push_latency.json"
EMBEDDED_DATA = ROOT / ".eadrcc" / "bench-pgdata"
EADRCC = Path(sys.executable).with_name("eadrcc")

OFFER_CREATED = "offer.created"
NEED_TYPES = ("shelter.tent.family", "shelter.blanket", "power.generator.medium")
OFFERING = ("NOR", "DEU", "FRA", "POL", "ITA")
AVAILABLE_FROM = "2026-02-06T06:00:00+03:00"

READY_TIMEOUT = 60.0  # a hub answering /readyz 200
CONNECT_TIMEOUT = 180.0  # every client of a run connected and welcomed
CONNECTING_AT_ONCE = 100  # websocket handshakes in flight per worker process
SETTLE_SECONDS = 2.0  # after connecting, before writing / reading RSS
STOP_TIMEOUT = 20.0  # a hub exiting after SIGTERM
SETTLED_AFTER = 10.0  # s without a new answer: the remaining POSTs never reached the hub
WORKER_REPLY_GRACE = 60.0  # on top of the work a worker was asked to do
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=30)
# Rounds of the send floor: one send per socket each, as one offer's events are.
FLOOR_ROUNDS = 200


# -- command line ---------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a server where we may CREATE DATABASE")
    parser.add_argument("--clients", default="100,1000,5000", help="clients per run")
    parser.add_argument("--instances", default="1,2", help="hub instances per run")
    parser.add_argument("--rate", type=float, default=20.0, help="offers per second")
    parser.add_argument("--seconds", type=float, default=15.0, help="how long to write")
    parser.add_argument("--idle", default="1000,5000", help="idle clients for memory")
    parser.add_argument(
        "--clients-per-proc", type=int, default=2500, help="clients per worker process"
    )
    parser.add_argument(
        "--quiet-below",
        type=float,
        default=25.0,
        help="before each run, wait for the machine to be less busy than this %%",
    )
    parser.add_argument(
        "--quiet-patience", type=float, default=120.0, help="max wait for a quiet machine (s)"
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=180.0, help="max wait for delivery (s)"
    )
    args = parser.parse_args()
    args.clients = [int(n) for n in args.clients.split(",")]
    args.instances = [int(n) for n in args.instances.split(",")]
    args.idle = sorted(int(n) for n in args.idle.split(",") if n)
    return args


def raise_fd_limit(wanted: int = 20_000) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


# -- the database -----------------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def maintenance_url(given: str | None) -> str:
    if url := given or os.environ.get("DATABASE_URL"):
        return url
    return with_database(db.start_embedded(EMBEDDED_DATA), "postgres")


@asynccontextmanager
async def bench_database(admin_url: str) -> AsyncIterator[str]:
    """A new database for the whole run, dropped afterwards whatever happens."""
    name = f"eadrcc_bench_push_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield with_database(admin_url, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def server_version(admin_url: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


async def offer_seqs(url: str, emergency_id: str) -> list[int]:
    """The seq of every offer.created event of the emergency (all committed by now)."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT seq FROM events WHERE kind = $1 AND emergency_id = $2 ORDER BY seq",
            OFFER_CREATED,
            emergency_id,
        )
    finally:
        await conn.close()
    return [row["seq"] for row in rows]


# -- the eadrcc command ---------------------------------------------------------------


def hub_env(url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "EADRCC_LOG_LEVEL": "warning"}


def eadrcc(url: str, *args: str) -> str:
    done = subprocess.run(
        [str(EADRCC), *args],
        env=hub_env(url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"eadrcc {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def create_token(url: str, name: str) -> str:
    out = eadrcc(url, "token", "create", "--role", "duty_officer", "--name", name, "--json")
    return str(json.loads(out)["token"])


# -- hub processes --------------------------------------------------------------------


@dataclass
class Hub:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    exit_code: int | None = None

    @property
    def pid(self) -> int:
        return self.process.pid


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_hub(db_url: str, name: str, log_dir: Path) -> Hub:
    port = free_port()
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(EADRCC), "serve", "--port", str(port)],
            env=hub_env(db_url),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Hub(name, process, f"http://127.0.0.1:{port}", log)


async def wait_ready(http: aiohttp.ClientSession, hub: Hub) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if hub.process.poll() is not None:
            raise RuntimeError(f"hub {hub.name} exited with {hub.process.returncode}")
        with suppress(aiohttp.ClientError, TimeoutError):
            async with http.get(f"{hub.url}/readyz") as resp:
                if resp.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"hub {hub.name} not ready after {READY_TIMEOUT:.0f} s")


def stop_hub(hub: Hub) -> None:
    if hub.process.poll() is None:
        hub.process.terminate()
    try:
        hub.exit_code = hub.process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        hub.process.kill()
        hub.exit_code = hub.process.wait(5)


@dataclass
class Bench:
    """What every measurement needs: the database, tokens, and every hub started."""

    db_url: str
    writer_token: str
    client_token: str
    log_dir: Path
    http: aiohttp.ClientSession
    args: argparse.Namespace
    hubs: list[Hub] = field(default_factory=list)


@asynccontextmanager
async def running_hubs(bench: Bench, count: int, label: str) -> AsyncIterator[list[Hub]]:
    hubs: list[Hub] = []
    try:
        for n in range(count):
            hubs.append(start_hub(bench.db_url, f"{label}-hub{n}", bench.log_dir))
        bench.hubs += hubs
        for hub in hubs:
            await wait_ready(bench.http, hub)
        yield hubs
    finally:
        for hub in hubs:
            await asyncio.to_thread(stop_hub, hub)


async def scrape(http: aiohttp.ClientSession, hub: Hub) -> dict[str, float]:
    """/metrics as {'name{labels}': value}."""
    async with http.get(f"{hub.url}/metrics") as resp:
        text = await resp.text()
    samples = (line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    return {name: float(value) for name, value in samples}


async def hub_gauge(http: aiohttp.ClientSession, hub: Hub, name: str) -> float:
    """One of the event hub's gauges: subscribers, slow_clients_cut, ..."""
    return (await scrape(http, hub))[f'eadrcc_event_hub{{name="{name}"}}']


async def offers_answered(http: aiohttp.ClientSession, hub: Hub) -> float:
    """POST /api/v1/offers the hub has answered, whatever the status."""
    prefix = 'eadrcc_http_requests_total{method="POST",route="/api/v1/offers",'
    return sum(v for k, v in (await scrape(http, hub)).items() if k.startswith(prefix))


def rss_kb(pid: int) -> float:
    return float(psutil.Process(pid).memory_info().rss) / 1024


def cpu_seconds(pids: list[int]) -> list[float]:
    times = (psutil.Process(pid).cpu_times() for pid in pids)
    return [t.user + t.system for t in times]


# -- clients: worker processes running `websockets` -----------------------------------


@dataclass
class WorkerSpec:
    urls: list[str]
    token: str
    count: int
    offset: int  # client n of the run talks to urls[(offset + n) % len(urls)]


@dataclass(eq=False)
class Follower:
    """One websocket client and what it received."""

    ws: ClientConnection | None = None
    offers: dict[int, float] = field(default_factory=dict)  # seq -> receive time
    last_offer: int = 0
    last_seq: int = 0
    events: int = 0
    event_bytes: int = 0  # the events' text, as received
    out_of_order: int = 0  # a seq not above the previous one: a repeat or a reorder
    unexpected: int = 0  # messages that are not events
    closed_early: int | None = None  # close code if the server closed it during the run

    def done(self, last_expected: int) -> bool:
        return self.closed_early is not None or self.last_offer >= last_expected


def client_worker(pipe: Connection, spec: WorkerSpec) -> None:
    """Process entry: connect spec.count clients, then obey the parent's messages."""
    asyncio.run(run_worker(pipe, spec))


async def run_worker(pipe: Connection, spec: WorkerSpec) -> None:
    stopping = asyncio.Event()
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)
    ats: dict[int, float] = {}  # seq -> the event's "at", as epoch seconds
    clients = [Follower() for _ in range(spec.count)]
    urls = [spec.urls[(spec.offset + n) % len(spec.urls)] for n in range(spec.count)]
    opened = await asyncio.gather(
        *(
            open_client(c, url, spec.token, gate, ats, stopping)
            for c, url in zip(clients, urls, strict=True)
        ),
        return_exceptions=True,
    )
    errors = [repr(o) for o in opened if isinstance(o, BaseException)]
    listeners = [o for o in opened if isinstance(o, asyncio.Task)]
    live = [c for c in clients if c.ws is not None]
    pipe.send({"connected": len(live), "errors": len(errors), "first_errors": errors[:3]})

    message = await asyncio.to_thread(pipe.recv)
    if message != "close":
        expected, timeout = message
        if expected:
            await wait_delivered(live, expected[-1], timeout)
        pipe.send(delivery_report(live, expected, ats))
        await asyncio.to_thread(pipe.recv)  # "close"
    stopping.set()
    await close_clients(live, listeners)
    pipe.send("closed")


async def open_client(
    client: Follower,
    url: str,
    token: str,
    gate: asyncio.Semaphore,
    ats: dict[int, float],
    stopping: asyncio.Event,
) -> asyncio.Task[None]:
    """Connect, hello (live only), welcome; then listen in a task of its own."""
    async with gate:
        ws = await connect(
            url.replace("http://", "ws://") + "/ws",
            compression=None,
            open_timeout=60,
            ping_interval=None,  # the hub's heartbeat pings; the client only answers
            close_timeout=5,
        )
        try:
            await ws.send(json.dumps({"type": "hello", "token": token}))
            welcome = json.loads(await asyncio.wait_for(ws.recv(), 60))
        except BaseException:
            await ws.close()
            raise
        if welcome.get("type") != "welcome":
            await ws.close()
            raise RuntimeError(f"expected a welcome, got {welcome}")
    client.ws = ws
    return asyncio.create_task(listen(client, ats, stopping))


async def listen(client: Follower, ats: dict[int, float], stopping: asyncio.Event) -> None:
    assert client.ws is not None
    with suppress(ConnectionClosed):
        async for raw in client.ws:
            received = time.time()
            note_message(client, json.loads(raw), received, ats, len(raw))
    if not stopping.is_set():
        client.closed_early = client.ws.close_code or -1


def note_message(
    client: Follower, message: dict[str, Any], received: float, ats: dict[int, float], size: int
) -> None:
    if message.get("type") == "heartbeat":
        return  # the hub's keep-alive, every EADRCC_WS_HEARTBEAT_SECONDS
    if message.get("type") != "event":
        client.unexpected += 1
        return
    seq = message["seq"]
    client.events += 1
    client.event_bytes += size
    if seq <= client.last_seq:
        client.out_of_order += 1
    client.last_seq = max(seq, client.last_seq)
    if message["kind"] == OFFER_CREATED:
        client.offers.setdefault(seq, received)
        client.last_offer = max(seq, client.last_offer)
        if seq not in ats:
            ats[seq] = datetime.fromisoformat(message["at"]).timestamp()


async def wait_delivered(clients: list[Follower], last_expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(c.done(last_expected) for c in clients):
            return
        await asyncio.sleep(0.2)


def delivery_report(
    clients: list[Follower], expected: list[int], ats: dict[int, float]
) -> dict[str, Any]:
    latencies: list[float] = []
    missing: list[int] = []  # per client
    last_receive = 0.0
    for client in clients:
        got = [seq for seq in expected if seq in client.offers]
        latencies += [(client.offers[seq] - ats[seq]) * 1000 for seq in got]
        missing.append(len(expected) - len(got))
        last_receive = max([last_receive, *(client.offers[seq] for seq in got)])
    return {
        "latencies_ms": latencies,
        "missing": sum(missing),
        "clients_missing": sum(1 for n in missing if n),
        "extra": sum(len(set(c.offers) - set(expected)) for c in clients),
        "events": sum(c.events for c in clients),
        "event_bytes": sum(c.event_bytes for c in clients),
        "out_of_order": sum(c.out_of_order for c in clients),
        "unexpected": sum(c.unexpected for c in clients),
        "closed_early": dict(Counter(c.closed_early for c in clients if c.closed_early)),
        "last_receive": last_receive,
    }


async def close_clients(clients: list[Follower], listeners: list[asyncio.Task[None]]) -> None:
    with suppress(TimeoutError):
        async with asyncio.timeout(60):
            await asyncio.gather(
                *(c.ws.close() for c in clients if c.ws is not None), return_exceptions=True
            )
    for task in listeners:
        task.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)


def split(count: int, per_proc: int) -> list[tuple[int, int]]:
    """(size, offset) of each worker: count clients, at most per_proc each, even."""
    procs = max(1, math.ceil(count / per_proc))
    sizes = [count // procs + (n < count % procs) for n in range(procs)]
    return [(size, sum(sizes[:n])) for n, size in enumerate(sizes)]


class ClientGroup:
    """Worker processes holding `count` clients, split evenly across `urls`."""

    def __init__(self, urls: list[str], token: str, count: int, per_proc: int) -> None:
        spawn = multiprocessing.get_context("spawn")
        self.workers: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
        self.status: dict[str, Any] = {}  # from connect()
        for size, offset in split(count, per_proc):
            mine, theirs = spawn.Pipe()
            spec = WorkerSpec(urls, token, size, offset)
            process = spawn.Process(target=client_worker, args=(theirs, spec), daemon=True)
            process.start()
            theirs.close()
            self.workers.append((process, mine))

    @property
    def pids(self) -> list[int]:
        return [process.pid for process, _ in self.workers if process.pid is not None]

    async def _replies(self, timeout: float) -> list[Any]:
        return await asyncio.gather(*(receive(pipe, timeout) for _, pipe in self.workers))

    async def connect(self) -> None:
        """Wait until every worker has connected its clients (or failed to)."""
        replies = await self._replies(CONNECT_TIMEOUT)
        self.status = {
            "connected": sum(r["connected"] for r in replies),
            "errors": sum(r["errors"] for r in replies),
            "first_errors": [e for r in replies for e in r["first_errors"]][:3],
        }

    async def deliveries(self, expected: list[int], timeout: float) -> list[dict[str, Any]]:
        for _, pipe in self.workers:
            pipe.send((expected, timeout))
        return await self._replies(timeout + WORKER_REPLY_GRACE)

    async def close(self) -> None:
        """Close every client (asking the worker first), then end the workers."""
        with suppress(OSError, EOFError, TimeoutError):
            for _, pipe in self.workers:
                pipe.send("close")
            await self._replies(WORKER_REPLY_GRACE)
        for process, pipe in self.workers:
            await asyncio.to_thread(process.join, 10)
            if process.is_alive():
                process.terminate()
                await asyncio.to_thread(process.join, 5)
            pipe.close()


async def receive(pipe: Connection, timeout: float) -> Any:
    def wait() -> Any:
        if not pipe.poll(timeout):
            raise TimeoutError(f"no word from a client worker in {timeout:.0f} s")
        return pipe.recv()

    return await asyncio.to_thread(wait)


async def stand_up(urls: list[str], token: str, count: int, per_proc: int) -> ClientGroup:
    """Connected clients, or an exception (after ending the workers) if that failed."""
    group = ClientGroup(urls, token, count, per_proc)
    try:
        await group.connect()
    except BaseException:
        await group.close()
        raise
    return group


# -- the writer ---------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post(http: aiohttp.ClientSession, url: str, token: str, body: Any) -> dict[str, Any]:
    async with http.post(url, json=body, headers=bearer(token)) as resp:
        answer: dict[str, Any] = await resp.json(content_type=None)
        if resp.status != 201:
            raise RuntimeError(f"POST {url}: {resp.status} {answer}")
        return answer


async def create_emergency(http: aiohttp.ClientSession, hub: Hub, token: str, title: str) -> str:
    """An active emergency with an RFA of large needs, so every offer finds matches."""
    emergency = await post(
        http,
        f"{hub.url}/api/v1/emergencies",
        token,
        {
            "title": title,
            "hazard": "earthquake",
            "countries": ["TUR"],
            "location": {"lat": 37.17, "lon": 37.03},
            "severity": "extreme",
        },
    )
    needs = [{"resource_type": kind, "quantity": 1_000_000} for kind in NEED_TYPES]
    await post(
        http,
        f"{hub.url}/api/v1/emergencies/{emergency['id']}/requests",
        token,
        {"requesting_country": "TUR", "needs": needs},
    )
    return str(emergency["id"])


def offer_body(emergency_id: str, n: int) -> dict[str, Any]:
    item = {
        "resource_type": NEED_TYPES[n % len(NEED_TYPES)],
        "quantity": 1 + n % 20,
        "available_from": AVAILABLE_FROM,
    }
    return {
        "emergency_id": emergency_id,
        "channel": "direct",
        "offering_country": OFFERING[n % len(OFFERING)],
        "items": [item],
    }


@dataclass
class Writes:
    sent: int
    ok: int
    post_ms: list[float]  # sorted, successful POSTs
    failures: list[str]
    finished_at: float  # time.time() when the last POST answered


async def write_offers(
    http: aiohttp.ClientSession,
    hub: Hub,
    token: str,
    emergency_id: str,
    rate: float,
    seconds: float,
) -> Writes:
    """POST offers on a fixed schedule (open loop: a slow answer delays no other POST)."""
    count = round(rate * seconds)
    start = time.monotonic()

    async def one(n: int) -> float:
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
        began = time.perf_counter()
        await post(http, f"{hub.url}/api/v1/offers", token, offer_body(emergency_id, n))
        return (time.perf_counter() - began) * 1000

    outcomes = await asyncio.gather(*(one(n) for n in range(count)), return_exceptions=True)
    timings = sorted(o for o in outcomes if isinstance(o, float))
    failures = [repr(o) for o in outcomes if isinstance(o, BaseException)]
    return Writes(count, len(timings), timings, failures[:3], time.time())


# -- one configuration ------------------------------------------------------------------

# Writers queued on the event-order lock (append_event's advisory lock), and
# transactions open but waiting for their client (here: a busy hub's event loop).
ACTIVITY = """
SELECT count(*) FILTER (WHERE wait_event = 'advisory') AS advisory_waiters,
       count(*) FILTER (WHERE state = 'idle in transaction') AS idle_in_transaction
FROM pg_stat_activity
WHERE datname = current_database()
"""


class Watch:
    """Over one window: CPU seconds of some processes, how busy the whole machine
    was, and the worst PostgreSQL waits seen (sampled twice a second)."""

    def __init__(self, db_url: str, pids: list[int]) -> None:
        self.db_url, self.pids = db_url, pids
        self.worst = {"advisory_waiters": 0, "idle_in_transaction": 0}

    async def __aenter__(self) -> Watch:
        self.conn = await asyncpg.connect(self.db_url)
        self.sampler = asyncio.create_task(self._sample())
        psutil.cpu_percent(None)  # starts the machine-wide count
        self.cpu_before, self.began = cpu_seconds(self.pids), time.monotonic()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.wall_s = time.monotonic() - self.began
        self.machine_busy_pct = psutil.cpu_percent(None)
        after = cpu_seconds(self.pids)
        self.cpu_s = [b - a for a, b in zip(self.cpu_before, after, strict=True)]
        self.sampler.cancel()
        await asyncio.gather(self.sampler, return_exceptions=True)
        await self.conn.close()

    async def _sample(self) -> None:
        while True:
            row = await self.conn.fetchrow(ACTIVITY)
            for key, worst in self.worst.items():
                self.worst[key] = max(worst, row[key])
            await asyncio.sleep(0.5)


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return math.nan
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


async def writes_settled(http: aiohttp.ClientSession, hub: Hub, sent: int) -> None:
    """Wait until the hub has answered every POST sent: one the writer gave up on
    (timeout) may still commit later, and its event must be expected too. Bounded:
    stops when the count has not moved for SETTLED_AFTER s, or after 120 s."""
    deadline = time.monotonic() + 120
    answered, moved = -1.0, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - moved < SETTLED_AFTER:
        latest = await offers_answered(http, hub)
        if latest >= sent:
            return
        if latest != answered:
            answered, moved = latest, time.monotonic()
        await asyncio.sleep(0.5)


async def quiet_machine(below: float, patience: float) -> tuple[float, float]:
    """Wait (at most `patience` s) for the machine to be less than `below` % busy
    over 2 s while our processes idle; return (busy %, seconds waited)."""
    began = time.monotonic()
    while True:
        busy = await asyncio.to_thread(psutil.cpu_percent, 2.0)
        waited = time.monotonic() - began
        if busy < below or waited >= patience:
            return busy, waited


async def measure_push(bench: Bench, clients: int, instances: int) -> dict[str, Any]:
    args = bench.args
    label = f"push-{clients}c-{instances}i"
    print(f"measuring {clients:,} clients on {instances} instance(s) ...", file=sys.stderr)
    async with running_hubs(bench, instances, label) as hubs:
        emergency_id = await create_emergency(bench.http, hubs[0], bench.writer_token, label)
        urls = [hub.url for hub in hubs]
        group = await stand_up(urls, bench.client_token, clients, args.clients_per_proc)
        try:
            subscribers = [await hub_gauge(bench.http, h, "subscribers") for h in hubs]
            await asyncio.sleep(SETTLE_SECONDS)
            background, waited = await quiet_machine(args.quiet_below, args.quiet_patience)
            pids = [hub.pid for hub in hubs] + group.pids
            async with Watch(bench.db_url, pids) as watch:
                writes = await write_offers(
                    bench.http, hubs[0], bench.writer_token, emergency_id, args.rate, args.seconds
                )
                await writes_settled(bench.http, hubs[0], writes.sent)
                expected = await offer_seqs(bench.db_url, emergency_id)
                reports = await group.deliveries(expected, args.drain_timeout)
            cuts = sum([await hub_gauge(bench.http, h, "slow_clients_cut") for h in hubs])
        finally:
            await group.close()
    return summarize_push(
        clients=clients,
        instances=instances,
        group=group,
        subscribers=subscribers,
        writes=writes,
        expected=expected,
        reports=reports,
        watch=watch,
        background_pct=background,
        waited_for_quiet_s=waited,
        slow_cuts=cuts,
    )


def summarize_push(
    *,
    clients: int,
    instances: int,
    group: ClientGroup,
    subscribers: list[float],
    writes: Writes,
    expected: list[int],
    reports: list[dict[str, Any]],
    watch: Watch,
    background_pct: float,
    waited_for_quiet_s: float,
    slow_cuts: float,
) -> dict[str, Any]:
    status = group.status
    latencies = sorted(ms for r in reports for ms in r["latencies_ms"])
    connected = status["connected"]
    closed_early: Counter[str] = Counter()
    for report in reports:
        closed_early.update({str(code): n for code, n in report["closed_early"].items()})
    last_receive = max(r["last_receive"] for r in reports)
    sent = sum(r["events"] for r in reports)
    cpu_pct = [100 * c / watch.wall_s for c in watch.cpu_s]
    return {
        "clients": clients,
        "instances": instances,
        "client_procs": len(group.workers),
        "connected": connected,
        "connect_errors": status["errors"],
        "first_connect_errors": status["first_errors"],
        "subscribers_seen_by_hubs": subscribers,
        "posts": writes.sent,
        "posts_ok": writes.ok,
        "post_failures": writes.failures,
        "post_p50_ms": percentile(writes.post_ms, 0.5),
        "post_p99_ms": percentile(writes.post_ms, 0.99),
        "expected_per_client": len(expected),
        "delivered": len(latencies),
        "missing": sum(r["missing"] for r in reports),
        "clients_missing": sum(r["clients_missing"] for r in reports),
        "extra": sum(r["extra"] for r in reports),
        "out_of_order": sum(r["out_of_order"] for r in reports),
        "unexpected_messages": sum(r["unexpected"] for r in reports),
        "closed_early": dict(closed_early),
        "slow_clients_cut": slow_cuts,
        "events_per_client": sent / max(connected, 1),
        "event_bytes_mean": sum(r["event_bytes"] for r in reports) / max(sent, 1),
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "p999_ms": percentile(latencies, 0.999),
        "max_ms": latencies[-1] if latencies else math.nan,
        "drain_s": last_receive - writes.finished_at if latencies else math.nan,
        "window_s": watch.wall_s,
        "hub_cpu_pct": cpu_pct[:instances],
        "client_cpu_pct": sum(cpu_pct[instances:]),
        "machine_busy_pct": watch.machine_busy_pct,
        "machine_busy_before_pct": background_pct,
        "waited_for_quiet_s": waited_for_quiet_s,
        "hub_cpu_s": sum(watch.cpu_s[:instances]),
        "hub_cpu_us_per_message": 1e6 * sum(watch.cpu_s[:instances]) / max(sent, 1),
        **{f"max_{key}": value for key, value in watch.worst.items()},
    }


def fan_out_cost(runs: list[dict[str, Any]]) -> None:
    """Hub CPU per delivered message net of the writes: a run with 0 clients at the
    same rate and instances is the baseline (the hub's CPU for the same POSTs alone)."""
    bases = {r["instances"]: r for r in runs if r["clients"] == 0}
    for r in runs:
        base = bases.get(r["instances"])
        if r["clients"] and base is not None:
            delivered = r["events_per_client"] * r["connected"]
            net = r["hub_cpu_s"] - base["hub_cpu_s"]
            r["fan_out_us_per_message"] = 1e6 * net / max(delivered, 1)


def send_floor_beside(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """bench/send_floor.py for the largest run's sockets and frames: one send per
    socket per offer, of its two events (offer.created and match.proposed) together,
    as the hub writes them at these rates."""
    largest = max(
        (r for r in runs if r["clients"] and r["delivered"]),
        default=None,
        key=lambda r: r["clients"],
    )
    if largest is None:
        return None
    frame = round(2 * largest["event_bytes_mean"])
    return send_floor.measure(largest["connected"], frame, FLOOR_ROUNDS)


# -- memory per idle connection ---------------------------------------------------------


async def warm_up(bench: Bench, hub: Hub) -> None:
    """Exercise the HTTP and websocket paths once, so RSS_0 includes their code."""
    await create_emergency(bench.http, hub, bench.writer_token, "memory warm-up")
    group = await stand_up([hub.url], bench.client_token, 50, bench.args.clients_per_proc)
    await group.close()
    await asyncio.sleep(SETTLE_SECONDS)


async def measure_memory(bench: Bench) -> dict[str, Any]:
    print("measuring memory per idle connection ...", file=sys.stderr)
    rows, groups = [], []
    async with running_hubs(bench, 1, "memory") as [hub]:
        await warm_up(bench, hub)
        base = rss_kb(hub.pid)
        try:
            connected = 0
            for size in bench.args.idle:
                group = await stand_up(
                    [hub.url], bench.client_token, size - connected, bench.args.clients_per_proc
                )
                groups.append(group)
                connected += group.status["connected"]
                await asyncio.sleep(SETTLE_SECONDS)
                rss = rss_kb(hub.pid)
                rows.append(
                    {
                        "idle_clients": connected,
                        "rss_kb": rss,
                        "kb_per_conn": (rss - base) / connected,
                    }
                )
        finally:
            for group in groups:
                await group.close()
    return {"rss_0_kb": base, "idle": rows}


# -- the report -------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    models = [
        line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line
    ]
    return {
        "cpus": os.cpu_count(),
        "cpu_model": models[0] if models else platform.processor() or platform.machine(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
    }


def server_log_problems(hubs: list[Hub]) -> list[str]:
    """Every hub log line at warning or above, any other stray output, bad exits."""
    found = []
    for hub in hubs:
        if hub.exit_code not in (0, None):
            found.append(f"{hub.name}: exited with {hub.exit_code}")
        for line in hub.log.read_text(errors="replace").splitlines():
            if not line.strip() or line.startswith("eadrcc is running at"):
                continue
            with suppress(json.JSONDecodeError):
                if json.loads(line).get("level") in ("debug", "info"):
                    continue
            found.append(f"{hub.name}: {line[:400]}")
    return found


def print_report(
    info: dict[str, Any],
    runs: list[dict[str, Any]],
    memory: dict[str, Any],
    floor: dict[str, Any] | None,
) -> None:
    print(
        f"machine: {info['cpu_model']}, {info['cpus']} CPUs, {info['memory_gib']} GiB RAM, "
        f"Python {info['python']}; PostgreSQL {info['postgresql']}"
    )
    print(
        f"writer: {info['rate']:g} offers/s for {info['seconds']:g} s to instance 1; "
        f"clients: websockets library, up to {info['clients_per_proc']:,} per worker process"
    )
    print("latency = client receive time - event 'at' (offer.created only), ms")
    print("drain = last delivery - last POST answered, s")
    print_latencies(runs)
    print_anomalies(runs)
    print_costs(runs)
    if floor:
        print(
            f"\nsend floor (bench/send_floor.py, after the runs): "
            f"{floor['us_per_send']:.1f} µs of CPU per send "
            f"({floor['us_per_send_low']:.1f}-{floor['us_per_send_high']:.1f}) of a "
            f"{floor['frame_bytes']:,}-byte frame (an offer's two events) to one of "
            f"{floor['sockets']:,} loopback sockets: {floor['us_per_send'] / 2:.1f} µs per "
            "message, with no event loop, websocket or hub around it"
        )
    print(f"\nmemory: hub RSS with 0 clients {memory['rss_0_kb'] / 1024:.1f} MiB")
    for row in memory["idle"]:
        print(
            f"  {row['idle_clients']:>6,} idle clients: RSS {row['rss_kb'] / 1024:.1f} MiB, "
            f"{row['kb_per_conn']:.1f} KB per connection"
        )


def print_table(header: list[tuple[str, int]], rows: list[list[str]]) -> None:
    line = " ".join(f"{title:>{width}}" for title, width in header)
    print(line)
    print("-" * len(line))
    for row in rows:
        print(" ".join(f"{cell:>{width}}" for cell, (_, width) in zip(row, header, strict=True)))


def print_latencies(runs: list[dict[str, Any]]) -> None:
    base = next((r for r in runs if r["clients"]), runs[0])
    print(f"ratios (x): against {base['clients']:,} clients on {base['instances']} instance(s)\n")
    header = [("clients", 7), ("inst", 4), ("conn", 6), ("exp/cl", 6), ("delivered", 10)]
    header += [("missing", 7), ("p50", 8), ("p99", 8), ("p99.9", 8), ("max", 8)]
    header += [("drain s", 7), ("p50 x", 6), ("p99 x", 6)]
    rows = [
        [
            f"{r['clients']:,}",
            str(r["instances"]),
            f"{r['connected']:,}",
            str(r["expected_per_client"]),
            f"{r['delivered']:,}",
            f"{r['missing']:,}",
            *(f"{r[key]:.1f}" for key in ("p50_ms", "p99_ms", "p999_ms", "max_ms")),
            f"{r['drain_s']:.2f}",
            f"{r['p50_ms'] / base['p50_ms']:.1f}x",
            f"{r['p99_ms'] / base['p99_ms']:.1f}x",
        ]
        for r in runs
    ]
    print_table(header, rows)


def print_costs(runs: list[dict[str, Any]]) -> None:
    """Where the time went: CPU of hubs / client workers / machine over the window
    (writes + drain), hub CPU per websocket message, POSTs, PostgreSQL waits."""
    print("\nwhere the time went (CPU % of one core; machine % of all cores):\n")
    header = [("clients", 7), ("inst", 4), ("ev/cl", 6), ("hub CPU%", 9), ("procs", 5)]
    header += [("cl CPU%", 7), ("machine%", 8), ("idle%", 5), ("hub us/msg", 10)]
    header += [("net us/msg", 10), ("POST ok", 7)]
    header += [("POST p50", 8), ("POST p99", 8), ("lock q", 6), ("idle tx", 7)]
    rows = [
        [
            f"{r['clients']:,}",
            str(r["instances"]),
            f"{r['events_per_client']:.0f}",
            "/".join(f"{c:.0f}" for c in r["hub_cpu_pct"]),
            str(r["client_procs"]),
            f"{r['client_cpu_pct']:.0f}",
            f"{r['machine_busy_pct']:.0f}",
            f"{r['machine_busy_before_pct']:.0f}",
            f"{r['hub_cpu_us_per_message']:.1f}",
            f"{r.get('fan_out_us_per_message', math.nan):.1f}",
            f"{r['posts_ok']}/{r['posts']}",
            f"{r['post_p50_ms']:.0f}",
            f"{r['post_p99_ms']:.0f}",
            str(r["max_advisory_waiters"]),
            str(r["max_idle_in_transaction"]),
        ]
        for r in runs
    ]
    print_table(header, rows)
    print("idle%: machine busy % just before writing, ours idle: other load on the machine")
    print("net us/msg: hub CPU net of the 0-client run's (the POSTs alone), per message")
    print("lock q: most writers seen queued on the event-order lock; idle tx: most")
    print("transactions seen open and waiting for their hub (sampled every 0.5 s)")


def print_anomalies(runs: list[dict[str, Any]]) -> None:
    keys = ("connect_errors", "extra", "out_of_order", "unexpected_messages", "slow_clients_cut")
    for r in runs:
        odd = {k: r[k] for k in keys if r[k]}
        if r["closed_early"]:
            odd["closed_early"] = r["closed_early"]
        if r["posts_ok"] != r["posts"] or r["expected_per_client"] != r["posts_ok"]:
            odd["posts"] = f"{r['posts_ok']}/{r['posts']} ok, {r['expected_per_client']} events"
        if r["missing"]:
            odd["clients_missing"] = r["clients_missing"]
        if odd:
            print(f"  !! {r['clients']:,} clients x {r['instances']}: {odd}")


def write_json(document: dict[str, Any]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten: {RESULTS.relative_to(ROOT)}")


# -- main -----------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    started = time.monotonic()
    admin_url = maintenance_url(args.database_url)
    info = {
        **machine(),
        "postgresql": await server_version(admin_url),
        "rate": args.rate,
        "seconds": args.seconds,
        "clients_per_proc": args.clients_per_proc,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    log_dir = Path(tempfile.mkdtemp(prefix="eadrcc-bench-push-"))
    async with (
        bench_database(admin_url) as url,
        aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http,
    ):
        eadrcc(url, "seed")
        bench = Bench(
            url, create_token(url, "bench writer"), create_token(url, "bench"), log_dir, http, args
        )
        runs = [
            await measure_push(bench, clients, instances)
            for clients in args.clients
            for instances in args.instances
        ]
        fan_out_cost(runs)
        floor = send_floor_beside(runs)
        memory = await measure_memory(bench) if args.idle else {"rss_0_kb": math.nan, "idle": []}
    problems = server_log_problems(bench.hubs)
    total = time.monotonic() - started
    print_report(info, runs, memory, floor)
    print(f"\nhub logs: {log_dir} ({len(problems)} line(s) at warning or above)")
    for line in problems[:20]:
        print(f"  {line}")
    print(f"total run time: {total:.0f} s")
    write_json(
        {
            **info,
            "total_s": total,
            "runs": runs,
            "send_floor": floor,
            "memory": memory,
            "hub_log_problems": problems,
        }
    )


def main() -> None:
    args = parse_args()
    raise_fd_limit()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
