"""Sustained write throughput of the hub against the framework floor, same run,
same database, same load generator.

- floor:   bench/floor_app.py, aiohttp + asyncpg inserting one row per POST;
- offers:  POST /api/v1/offers as a duty officer (validation, matching, events);
- alerts:  POST /api/v1/alerts as an integration: signed CAP 1.2 XML, each new
           (schema validation, HMAC, de-duplication, grouping, events).
Each runs on one hub instance, and offers also on two instances (one per core),
with the load spread across them, and on one `eadrcc serve --workers 2` (two
workers behind one port). Each run starts only the servers it measures. Before
each run the machine's busy % (2 s, ours idle) and load average are recorded: on
a shared machine other load shows up here.
The machine's speed drifts (a shared virtual machine: the floor moved by a third
within minutes here), so the runs go in rounds (--rounds, 3 by default): each round
runs the floor and then every other run once, and each run is compared with its own
round's floor. The report gives, per run, the median over the rounds and the
spread.
Each run also reports the CPU a request cost the server's processes, PostgreSQL's
backends serving the bench database (when the server runs on this machine) and the
load generator: on a machine with few cores, where all of them are busy, the ratio
to the floor is the ratio of those costs, which the report gives as the run's
ceiling.
The load generator is a separate process (aiohttp client, fixed concurrency),
not the server's code.

    python bench/throughput.py [--database-url URL] [--seconds 10] [--concurrency 32]
                               [--rounds 3] [--only "offers, a need full" ...]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness

from eadrcc.alerts.signature import sign

CAP_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>BENCH-{n}</identifier><sender>bench@example.org</sender>
  <sent>{sent}</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
  <info><category>Met</category><event>Flood</event><urgency>Expected</urgency>
    <severity>Moderate</severity><certainty>Possible</certainty>
    <headline>River levels rising</headline>
    <area><areaDesc>Valley</areaDesc>
      <polygon>45.1,25.1 45.1,25.3 45.3,25.3 45.3,25.1 45.1,25.1</polygon></area>
  </info>
</alert>"""


TYPES = ("shelter.tent.family", "shelter.blanket", "power.generator.medium")


def offer_body(emergency_id: str, n: int) -> bytes:
    kind = TYPES[n % 3]
    return json.dumps(
        {
            "emergency_id": emergency_id,
            "offering_country": ("NOR", "DEU", "POL", "ITA")[n % 4],
            "channel": "direct",
            "items": [
                {
                    "resource_type": kind,
                    "quantity": 1 + n % 50,
                    "available_from": "2026-11-27T00:00:00+00:00",
                }
            ],
        }
    ).encode()


def alert_request(n: int, token: str, secret: str) -> tuple[bytes, dict[str, str]]:
    body = CAP_TEMPLATE.format(
        n=n, sent=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    ).encode()
    stamp = str(int(time.time()))
    return body, {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/cap+xml",
        "X-EADRCC-Timestamp": stamp,
        "X-EADRCC-Signature": sign(secret, stamp, body),
    }


async def generate(job: dict[str, Any]) -> dict[str, Any]:
    """Keep `concurrency` requests in flight for `seconds`; time each one."""
    counter = itertools.count(job["offset"])
    latencies: list[float] = []
    errors: dict[int, int] = {}
    deadline = time.perf_counter() + job["seconds"]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker(w: int) -> None:
            while time.perf_counter() < deadline:
                n = next(counter)
                url = job["urls"][n % len(job["urls"])]
                body, headers = request_for(job, n)
                started = time.perf_counter()
                async with http.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    if resp.status in (200, 201):
                        latencies.append(time.perf_counter() - started)
                    else:
                        errors[resp.status] = errors.get(resp.status, 0) + 1

        began, cpu_began = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker(w) for w in range(job["concurrency"])))
        elapsed = time.perf_counter() - began
        cpu = time.process_time() - cpu_began
    return {
        "ok": len(latencies),
        "generator_cpu_us": cpu / max(len(latencies), 1) * 1e6,
        "per_second": len(latencies) / elapsed,
        "errors": errors,
        "p50_ms": harness.percentile(latencies, 50) * 1000,
        "p99_ms": harness.percentile(latencies, 99) * 1000,
    }


def request_for(job: dict[str, Any], n: int) -> tuple[bytes, dict[str, str]]:
    if job["kind"] == "alerts":
        return alert_request(n, job["token"], job["secret"])
    if job["kind"] == "offers":
        return offer_body(job["emergency_id"], n), {
            "Authorization": f"Bearer {job['token']}",
            "Content-Type": "application/json",
        }
    return json.dumps({"n": n, "note": "floor"}).encode(), {"Content-Type": "application/json"}


def run_generator(job: dict[str, Any]) -> dict[str, Any]:
    """In a separate process, so the load generator never shares a core's loop with us."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        result: dict[str, Any] = pool.apply(_generate_sync, (job,))
    return result


def _generate_sync(job: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(generate(job))


async def prepare(url: str, officer: str, *, one_full: bool = False) -> str:
    """An emergency with a need of each type the bench offers, too large to fill.
    With `one_full`, also a critical need of one unit of each type, fully proposed
    (as most needs soon are in a real response): every offer is then planned under
    locks, where it may displace."""
    headers = {"Authorization": f"Bearer {officer}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(
            f"{url}/api/v1/emergencies",
            json={
                "title": "Benchmark",
                "hazard": "earthquake",
                "countries": ["TUR"],
                "location": {"lat": 37.2, "lon": 37.0},
                "severity": "severe",
            },
        ) as resp:
            emergency = await resp.json()
        requests = f"{url}/api/v1/emergencies/{emergency['id']}/requests"
        needs = [{"resource_type": t, "quantity": 10_000_000, "priority": "high"} for t in TYPES]
        async with http.post(requests, json={"requesting_country": "TUR", "needs": needs}) as resp:
            assert resp.status == 201, await resp.text()
        if one_full:
            small = [{"resource_type": t, "quantity": 1, "priority": "critical"} for t in TYPES]
            async with http.post(
                requests, json={"requesting_country": "TUR", "needs": small}
            ) as resp:
                assert resp.status == 201, await resp.text()
                filled = {n["id"] for n in (await resp.json())["needs"]}
            for t in TYPES:
                one = {
                    "emergency_id": emergency["id"],
                    "offering_country": "TUR",
                    "channel": "direct",
                    "items": [
                        {
                            "resource_type": t,
                            "quantity": 1,
                            "available_from": "2026-11-27T00:00:00+00:00",
                        }
                    ],
                }
                async with http.post(f"{url}/api/v1/offers", json=one) as resp:
                    made = await resp.json()
                    assert [m["need_id"] in filled for m in made["matches"]] == [True], made
    return str(emergency["id"])


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    server = harness.server_url(args.database_url)
    results: dict[str, Any] = {
        "machine": harness.machine(),
        "seconds": args.seconds,
        "concurrency": args.concurrency,
        "rounds": [],
    }
    async with harness.scratch_database(server, "throughput") as db_url:
        officer = harness.token(db_url, "duty_officer")["token"]
        feed = harness.token(db_url, "integration")
        ports = [harness.free_port() for _ in range(2)]
        hubs = [harness.hub_command(db_url, port) for port in ports]
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        floor = (
            [sys.executable, str(harness.ROOT / "bench" / "floor_app.py"), str(ports[0])],
            {"DATABASE_URL": db_url},
        )
        workers = ([*hubs[0][0], "--workers", "2"], hubs[0][1])
        with harness.processes([hubs[0]]):
            await harness.wait_ready(urls[0])
            emergency_id = await prepare(urls[0], officer)
            full_emergency_id = await prepare(urls[0], officer, one_full=True)
        base = {
            "seconds": args.seconds,
            "concurrency": args.concurrency,
            "emergency_id": emergency_id,
        }
        offers = {"kind": "offers", "token": officer}
        # Each run starts only the servers it measures (an idle hub still follows
        # the event log, on the same cores): (commands, job).
        plan = {
            "floor": ([floor], {"kind": "floor", "urls": [f"{urls[0]}/floor"]}),
            "offers, 1 instance": ([hubs[0]], {**offers, "urls": [f"{urls[0]}/api/v1/offers"]}),
            "offers, a need full": (
                [hubs[0]],
                {**offers, "emergency_id": full_emergency_id, "urls": [f"{urls[0]}/api/v1/offers"]},
            ),
            "offers, a need full, 2 instances": (
                hubs,
                {
                    **offers,
                    "emergency_id": full_emergency_id,
                    "urls": [f"{u}/api/v1/offers" for u in urls],
                },
            ),
            "offers, 2 instances": (hubs, {**offers, "urls": [f"{u}/api/v1/offers" for u in urls]}),
            "offers, 2 workers": ([workers], {**offers, "urls": [f"{urls[0]}/api/v1/offers"]}),
            "alerts, 1 instance": (
                [hubs[0]],
                {
                    "kind": "alerts",
                    "token": feed["token"],
                    "secret": feed["secret"],
                    "urls": [f"{urls[0]}/api/v1/alerts"],
                },
            ),
        }
        if args.only:
            wanted = {"floor", *args.only}
            if unknown := wanted - plan.keys():
                raise SystemExit(f"no such run: {', '.join(sorted(unknown))}")
            plan = {name: run for name, run in plan.items() if name in wanted}
        runs = itertools.count()
        for round_no in range(1, args.rounds + 1):
            this_round: dict[str, Any] = {}
            for name, (commands, job) in plan.items():
                with harness.processes(commands) as procs:
                    for url in urls[: len(commands)]:
                        await harness.wait_ready(url)
                    print(f"round {round_no}: {name} for {args.seconds} s ...", file=sys.stderr)
                    noise = harness.machine_noise()
                    cpu = CpuMeter([p.pid for p in procs], db_url)
                    await cpu.start()
                    began = await _db_now(db_url)
                    run = run_generator({**base, **job, "offset": next(runs) * 10_000_000})
                    this_round[name] = {**run, **await cpu.per_request(run["ok"]), **noise}
                    if job["kind"] == "offers":
                        this_round[name]["per_batch"] = await _offers_per_batch(db_url, began)
            floor = this_round["floor"]
            for run in this_round.values():
                run["vs_floor"] = run["per_second"] / floor["per_second"]
                run["ceiling"] = _ceiling(floor, run)
            results["rounds"].append(this_round)
    return results


async def _db_now(db_url: str) -> datetime:
    import asyncpg

    conn = await asyncpg.connect(db_url)
    try:
        now: datetime = await conn.fetchval("SELECT now()")
    finally:
        await conn.close()
    return now


async def _offers_per_batch(db_url: str, since: datetime) -> float | None:
    """Offers per transaction during a run: a transaction stores its offers with its
    own now(), so offers sharing a created_at came in one batch (the hub's offer
    batcher; one alone is a batch of one)."""
    import asyncpg

    conn = await asyncpg.connect(db_url)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS offers, count(DISTINCT created_at) AS batches"
            " FROM offers WHERE created_at > $1",
            since,
        )
    finally:
        await conn.close()
    return row["offers"] / row["batches"] if row["batches"] else None


def _ceiling(floor: dict[str, Any], run: dict[str, Any]) -> float | None:
    """The ratio to the floor a run would make if it kept the cores as busy as the
    floor does, at the costs it measured: where the server, PostgreSQL and the load
    generator share the cores, the floor's CPU per request (all three) over the run's.
    None without PostgreSQL's."""

    def total(r: dict[str, Any]) -> float | None:
        if r.get("postgres_cpu_us") is None:
            return None
        return float(r["server_cpu_us"] + r["postgres_cpu_us"] + r["generator_cpu_us"])

    ours, theirs = total(run), total(floor)
    return None if ours is None or theirs is None else theirs / ours


def report(results: dict[str, Any]) -> None:
    m = results["machine"]
    rounds = results["rounds"]
    print(
        f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_mib']} MiB; "
        f"{results['concurrency']} requests in flight, {results['seconds']} s each, "
        f"{len(rounds)} round(s); each run against its own round's floor"
    )
    print(
        f"{'run':<22}{'req/s':>10}{'vs floor':>10}{'p50 ms':>10}{'p99 ms':>10}"
        f"{'server µs':>11}{'pg µs':>8}{'gen µs':>8}{'ceiling':>9}{'batch':>7}"
        f"{'busy% before':>14}{'load 1m':>9}  errors"
    )
    for n, this_round in enumerate(rounds, 1):
        print(f"round {n}")
        for name, r in this_round.items():
            print(
                f"  {name:<20}{r['per_second']:>10.0f}{r['vs_floor']:>10.2f}"
                f"{r['p50_ms']:>10.1f}{r['p99_ms']:>10.1f}"
                f"{_us(r['server_cpu_us']):>11}{_us(r['postgres_cpu_us']):>8}"
                f"{_us(r['generator_cpu_us']):>8}{_ratio(r['ceiling']):>9}"
                f"{_batch(r.get('per_batch')):>7}"
                f"{r['busy_before_pct']:>14.0f}{r['load_1m']:>9.2f}  {r['errors'] or '-'}"
            )
    print("over the rounds (median, and lowest-highest):")
    for name in rounds[0]:
        per_second = [r[name]["per_second"] for r in rounds]
        ratio = [r[name]["vs_floor"] for r in rounds]
        ceiling = [c for r in rounds if (c := r[name]["ceiling"]) is not None]
        print(
            f"  {name:<20}{statistics.median(per_second):>10.0f} req/s "
            f"({min(per_second):.0f}-{max(per_second):.0f}), "
            f"vs floor {statistics.median(ratio):.2f} ({min(ratio):.2f}-{max(ratio):.2f})"
            + (f", ceiling {statistics.median(ceiling):.2f}" if ceiling else "")
        )
    print("server µs, pg µs, gen µs: CPU per request of the serving processes, of PostgreSQL's")
    print("backends for the bench database (blank when PostgreSQL is not on this machine) and")
    print("of the load generator. ceiling: the ratio to the floor with the cores as busy as")
    print("under the floor, at these costs (the floor's three per request over the run's):")
    print("vs floor reaches it only by using the cores the run leaves idle, and goes beyond")
    print("it only by costing less. batch: offers per transaction (the hub's batches; one")
    print("offer alone counts as a batch of one)")


def _batch(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _us(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


class CpuMeter:
    """CPU used during a run by the serving processes (with their children) and by
    PostgreSQL's backends connected to the bench database."""

    def __init__(self, pids: list[int], db_url: str) -> None:
        import psutil  # type: ignore[import-untyped]

        self._psutil = psutil
        self._servers = pids
        self._db_url = db_url
        self._server_before = 0.0
        self._backends_before: dict[int, float] | None = None

    async def start(self) -> None:
        self._server_before = self._server_seconds()
        self._backends_before = await self._backends()

    async def per_request(self, requests: int) -> dict[str, float | None]:
        n = max(requests, 1)
        server = (self._server_seconds() - self._server_before) / n * 1e6
        after, before = await self._backends(), self._backends_before
        if after is None or before is None:
            return {"server_cpu_us": server, "postgres_cpu_us": None}
        # A backend that left during the run takes its last seconds with it (pools
        # keep theirs for a run); one that came counts from its start.
        used = sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())
        return {"server_cpu_us": server, "postgres_cpu_us": used / n * 1e6}

    def _server_seconds(self) -> float:
        total = 0.0
        for pid in self._servers:
            proc = self._psutil.Process(pid)
            for p in [proc, *proc.children(recursive=True)]:
                times = p.cpu_times()
                total += times.user + times.system
        return total

    async def _backends(self) -> dict[int, float] | None:
        """CPU seconds of each backend serving the bench database; None when they
        cannot be read (PostgreSQL on another machine, or another user's)."""
        import asyncpg

        conn = await asyncpg.connect(self._db_url)
        try:
            rows = await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()"
            )
        finally:
            await conn.close()
        seconds = {}
        for row in rows:
            try:
                times = self._psutil.Process(row["pid"]).cpu_times()
            except self._psutil.NoSuchProcess:
                continue  # gone since the query
            except self._psutil.AccessDenied:
                return None
            seconds[row["pid"]] = times.user + times.system
        return seconds or None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="each run this many times")
    parser.add_argument(
        "--only", action="append", help="a run to make besides the floor, by name (repeat)"
    )
    args = parser.parse_args()
    results = asyncio.run(measure(args))
    report(results)
    print(f"written: {harness.save('throughput', results)}")


if __name__ == "__main__":
    main()
