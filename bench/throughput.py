"""Sustained write throughput of the hub against the framework floor, same run,
same database, same load generator.

- floor:   bench/floor_app.py, aiohttp + asyncpg inserting one row per POST;
- offers:  POST /api/v1/offers as a duty officer (validation, matching, events);
- alerts:  POST /api/v1/alerts as an integration: signed CAP 1.2 XML, each new
           (schema validation, HMAC, de-duplication, grouping, events).
Each runs on one hub instance, and offers also on two instances (one per core),
with the load spread across them, and on one `eadrcc serve --workers 2` (two
workers behind one port). Before each run the machine's busy % (2 s, ours idle)
and load average are recorded: on a shared machine other load shows up here.
The load generator is a separate process (aiohttp client, fixed concurrency),
not the server's code.

    python bench/throughput.py [--database-url URL] [--seconds 10] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
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


def offer_body(emergency_id: str, n: int) -> bytes:
    kind = ("shelter.tent.family", "shelter.blanket", "power.generator.medium")[n % 3]
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

        began = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(job["concurrency"])))
        elapsed = time.perf_counter() - began
    return {
        "ok": len(latencies),
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


async def prepare(url: str, officer: str) -> str:
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
        needs = [
            {"resource_type": t, "quantity": 10_000_000, "priority": "high"}
            for t in ("shelter.tent.family", "shelter.blanket", "power.generator.medium")
        ]
        async with http.post(
            f"{url}/api/v1/emergencies/{emergency['id']}/requests",
            json={"requesting_country": "TUR", "needs": needs},
        ) as resp:
            assert resp.status == 201, await resp.text()
    return str(emergency["id"])


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    server = harness.server_url(args.database_url)
    results: dict[str, Any] = {
        "machine": harness.machine(),
        "seconds": args.seconds,
        "concurrency": args.concurrency,
        "runs": {},
    }
    async with harness.scratch_database(server, "throughput") as db_url:
        officer = harness.token(db_url, "duty_officer")["token"]
        feed = harness.token(db_url, "integration")
        ports = [harness.free_port() for _ in range(4)]
        floor = (
            [sys.executable, str(harness.ROOT / "bench" / "floor_app.py"), str(ports[2])],
            {"DATABASE_URL": db_url},
        )
        workers = harness.hub_command(db_url, ports[3])
        # Half the pool each: four hubs' pools must fit PostgreSQL's max_connections.
        workers = ([*workers[0], "--workers", "2"], {**workers[1], "EADRCC_POOL_MAX_SIZE": "10"})
        with harness.processes(
            [
                harness.hub_command(db_url, ports[0]),
                harness.hub_command(db_url, ports[1]),
                floor,
                workers,
            ]
        ):
            hubs = [f"http://127.0.0.1:{p}" for p in ports[:2]]
            for url in [*hubs, f"http://127.0.0.1:{ports[2]}", f"http://127.0.0.1:{ports[3]}"]:
                await harness.wait_ready(url)
            emergency_id = await prepare(hubs[0], officer)
            base = {
                "seconds": args.seconds,
                "concurrency": args.concurrency,
                "emergency_id": emergency_id,
            }
            plan = {
                "floor": {"kind": "floor", "urls": [f"http://127.0.0.1:{ports[2]}/floor"]},
                "offers, 1 instance": {
                    "kind": "offers",
                    "token": officer,
                    "urls": [f"{hubs[0]}/api/v1/offers"],
                },
                "offers, 2 instances": {
                    "kind": "offers",
                    "token": officer,
                    "urls": [f"{h}/api/v1/offers" for h in hubs],
                },
                "offers, 2 workers": {
                    "kind": "offers",
                    "token": officer,
                    "urls": [f"http://127.0.0.1:{ports[3]}/api/v1/offers"],
                },
                "alerts, 1 instance": {
                    "kind": "alerts",
                    "token": feed["token"],
                    "secret": feed["secret"],
                    "urls": [f"{hubs[0]}/api/v1/alerts"],
                },
            }
            for offset, (name, job) in enumerate(plan.items()):
                print(f"running {name} for {args.seconds} s ...", file=sys.stderr)
                noise = harness.machine_noise()
                results["runs"][name] = {
                    **run_generator({**base, **job, "offset": offset * 10_000_000}),
                    **noise,
                }
    return results


def report(results: dict[str, Any]) -> None:
    m = results["machine"]
    print(
        f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_mib']} MiB; "
        f"{results['concurrency']} requests in flight, {results['seconds']} s each"
    )
    floor = results["runs"]["floor"]["per_second"]
    print(
        f"{'run':<22}{'req/s':>10}{'vs floor':>10}{'p50 ms':>10}{'p99 ms':>10}"
        f"{'busy% before':>14}{'load 1m':>9}  errors"
    )
    for name, r in results["runs"].items():
        print(
            f"{name:<22}{r['per_second']:>10.0f}{r['per_second'] / floor:>10.2f}"
            f"{r['p50_ms']:>10.1f}{r['p99_ms']:>10.1f}"
            f"{r['busy_before_pct']:>14.0f}{r['load_1m']:>9.2f}  {r['errors'] or '-'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    results = asyncio.run(measure(args))
    report(results)
    print(f"written: {harness.save('throughput', results)}")


if __name__ == "__main__":
    main()
