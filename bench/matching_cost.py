"""How the cost of matching a new offer grows with the number of open needs.

For each size (default 1,000 / 10,000 / 100,000 open needs) the benchmark builds a
fresh, migrated and seeded database and bulk-loads one emergency whose requests
(one per 100 needs) carry `size` open needs spread round-robin over every resource
type. It then does what the offer service does for a new offer item, `--offers`
times: insert an offer with one item of a common type and call
`matching.engine.plan`, timing that call alone (it also counts the proposals and
events the call writes: one `match.proposed` per proposal, plus one per displaced
proposal). Each iteration runs in
its own transaction and is rolled back, so every iteration sees the same data.
It also runs EXPLAIN ANALYZE on the `candidate_needs` query at each size.

With --capacities (e.g. 1000,10000) it adds rows for likely providers: on the
smallest needs size, that many declared capacities (every type, every nation,
10% expired) are bulk-loaded, and GET /requests/{id}'s read of one 100-need RFA is
timed with its likely_providers against the same read without them (the baseline,
measured in the same run), plus EXPLAIN ANALYZE of the likely_providers query's
first read and how many of the 100 needs needed a second, bounded read;
those rows go to bench/results/likely_providers.json.

The table compares each size with the smallest one measured in the same run.
Results are also written to bench/results/matching_cost.json.

Run it from the repository root:

    python bench/matching_cost.py [--sizes 1000,10000,100000] [--offers 200]
                                  [--capacities 1000,10000] [--database-url URL]

Without --database-url it uses $DATABASE_URL, else the embedded PostgreSQL in
.eadrcc/bench-pgdata. The URL's user must be allowed to CREATE DATABASE; the
bench databases (eadrcc_bench_<size>_<random>) are dropped when it ends.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import secrets
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from eadrcc import db, logs
from eadrcc.ids import new_id
from eadrcc.matching import engine
from eadrcc.matching.store import q as matching_q
from eadrcc.migrate import migrate
from eadrcc.models import Point
from eadrcc.offers import store as offers
from eadrcc.offers.models import OfferCreate, OfferItemCreate
from eadrcc.seed import seed_reference

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "matching_cost.json"
PROVIDERS = RESULTS.with_name("likely_providers.json")
EMBEDDED_DATA = ROOT / ".eadrcc" / "bench-pgdata"

EMERGENCY_ID = "emg_bench"
NEEDS_PER_REQUEST = 100
WARMUP_OFFERS = 5  # not timed: the first calls also prepare statements
ACTOR = "bench"
# What offers usually carry; each timed offer item is one of these.
COMMON_TYPES = (
    "shelter.tent.family",
    "usar.heavy",
    "medical.emt.type2",
    "power.generator.medium",
    "water.purification",
)
EXPLAINED_TYPE = COMMON_TYPES[0]

# Bulk load. The needs use every resource type in turn; priorities, deadlines and
# delivery points are spread the way a large earthquake RFA would spread them.
LOAD_EMERGENCY = """
INSERT INTO emergencies (id, title, hazard, countries, lat, lon, severity, status, created_by)
VALUES ($1, 'Bench earthquake', 'earthquake', '{TUR}', 37.17, 37.03, 'extreme', 'active', $2)
"""
LOAD_REQUESTS = """
INSERT INTO requests (id, emergency_id, requesting_country, reference, created_by)
SELECT format('rfa_bench_%s', lpad(r::text, 6, '0')), $1, 'TUR', format('RFA-%s', r), $2
FROM generate_series(1, $3::int) AS r
"""
LOAD_NEEDS = """
WITH types AS (SELECT array_agg(code ORDER BY position) AS codes FROM resource_types)
INSERT INTO needs (id, request_id, position, emergency_id, resource_type, quantity, priority,
                   needed_by, delivery_lat, delivery_lon, delivery_place)
SELECT format('ned_bench_%s', lpad(g::text, 7, '0')),
       format('rfa_bench_%s', lpad((1 + (g - 1) / $3)::text, 6, '0')),
       1 + (g - 1) % $3,
       $1,
       types.codes[1 + (g - 1) % cardinality(types.codes)],
       1 + floor(random() * 50)::int,
       (ARRAY['critical', 'high', 'high', 'normal', 'normal'])[1 + floor(random() * 5)::int],
       CASE WHEN random() < 0.8 THEN now() + random() * interval '10 days' END,
       37.17 + (random() - 0.5) * 3,
       37.03 + (random() - 0.5) * 4,
       format('Site %s', 1 + g % 400)
FROM types, generate_series(1, $2::int) AS g
"""


@dataclass
class SizeResult:
    size: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    mean_candidates: float
    proposals_per_offer: float
    events_per_offer: float
    candidate_sql_ms: float
    candidate_sql_rows: int
    plan_nodes: list[str]
    uses_needs_lacking_by_rank: bool
    load_s: float


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="open needs per run")
    parser.add_argument("--offers", type=int, default=200, help="timed offers per size")
    parser.add_argument("--database-url", help="a server where we may CREATE DATABASE")
    parser.add_argument("--capacities", default="", help="declared capacities per extra row")
    args = parser.parse_args()
    args.sizes = sorted(int(s) for s in args.sizes.split(","))
    args.capacities = sorted(int(s) for s in args.capacities.split(",") if s)
    return args


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def maintenance_url(given: str | None) -> str:
    url = given or os.environ.get("DATABASE_URL") or db.start_embedded(EMBEDDED_DATA)
    return with_database(url, "postgres")


@asynccontextmanager
async def bench_database(admin_url: str, size: int) -> AsyncIterator[str]:
    """A new empty database for one size, dropped afterwards whatever happens."""
    name = f"eadrcc_bench_{size}_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield with_database(admin_url, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def prepare(url: str, size: int) -> None:
    """Migrate, seed the reference data, bulk-load `size` open needs, ANALYZE."""
    conn = await db.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    pool = await db.create_pool(url, min_size=1, max_size=2)
    try:
        await seed_reference(pool)
    finally:
        await pool.close()
    conn = await db.connect(url)
    try:
        await load_needs(conn, size)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def load_needs(conn: asyncpg.Connection, size: int) -> None:
    requests = -(-size // NEEDS_PER_REQUEST)
    async with conn.transaction():
        await conn.execute("SELECT setseed(0.42)")  # the same needs on every run
        await conn.execute(LOAD_EMERGENCY, EMERGENCY_ID, ACTOR)
        await conn.execute(LOAD_REQUESTS, EMERGENCY_ID, ACTOR, requests)
        await conn.execute(LOAD_NEEDS, EMERGENCY_ID, size, NEEDS_PER_REQUEST)


@asynccontextmanager
async def rolled_back(conn: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    """A transaction that is always rolled back, so the data stays as loaded.
    Opened as the services open theirs, so queued events work as in production."""
    with contextlib.suppress(_RollBack):
        async with db.transaction_on(conn):
            yield conn
            raise _RollBack


class _RollBack(Exception):
    """Leaves the transaction without committing."""


async def new_offer_item(conn: asyncpg.Connection, resource_type: str) -> str:
    """An offer with one item, stored the way the offer service stores it."""
    item_id = new_id("itm")
    # Constructed, not validated: the bench's ids are readable, not the hub's format.
    body = OfferCreate.model_construct(
        emergency_id=EMERGENCY_ID,
        request_id=None,
        offering_country="DEU",
        channel="direct",
        notes=None,
        items=[
            OfferItemCreate.model_construct(
                resource_type=resource_type,
                quantity=20,
                available_from=datetime.now(UTC),
                origin=Point(lat=52.52, lon=13.40),
                self_sufficient=True,
                credentials=[],
            )
        ],
    )
    now = await conn.fetchval("SELECT now()")  # the transaction's time, as offer_facts reads it
    await offers.create(
        conn, offer_id=new_id("off"), body=body, item_ids=[item_id], actor=ACTOR, now=now
    )
    return item_id


async def time_one_offer(conn: asyncpg.Connection, resource_type: str) -> tuple[float, int, int]:
    """Seconds spent planning one new item, the proposals it made and the events queued."""
    async with rolled_back(conn):
        item_id = await new_offer_item(conn, resource_type)
        start = time.perf_counter()
        proposals = await engine.plan(conn, item_ids=[item_id], actor=ACTOR)
        seconds = time.perf_counter() - start
        queued = db.state(conn).get("events", [])
        return seconds, len(proposals), len(queued)


async def time_offers(conn: asyncpg.Connection, count: int) -> tuple[list[float], float, float]:
    """Milliseconds per offer (warm-up excluded), mean proposals and events per offer."""
    rng = random.Random(7)
    for n in range(WARMUP_OFFERS):
        await time_one_offer(conn, COMMON_TYPES[n % len(COMMON_TYPES)])
    timings, proposals, events = [], 0, 0
    for _ in range(count):
        seconds, made, queued = await time_one_offer(conn, rng.choice(COMMON_TYPES))
        timings.append(seconds * 1000)
        proposals += made
        events += queued
    return timings, proposals / count, events / count


async def count_candidates(conn: asyncpg.Connection) -> dict[str, int]:
    """How many open needs each common type could fill (no shortlist limit)."""
    counts = {}
    for resource_type in COMMON_TYPES:
        async with rolled_back(conn):
            rows = await conn.fetch(*_candidate_needs(resource_type, 2**31 - 1))
        counts[resource_type] = len(rows)
    return counts


def _candidate_needs(resource_type: str, shortlist: int) -> list[Any]:
    """candidate_needs for a new item of this type (no request, nothing declined)."""
    return matching_q.bind(
        "candidate_needs",
        resource_type=resource_type,
        emergency_id=EMERGENCY_ID,
        request_id=None,
        shortlist=shortlist,
        item_id="",
    )


async def explain_candidates(conn: asyncpg.Connection) -> dict[str, Any]:
    """EXPLAIN ANALYZE of candidate_needs for one type (rolled back: it locks rows)."""
    async with rolled_back(conn):
        sql, *args = _candidate_needs(EXPLAINED_TYPE, engine.SHORTLIST)
        result = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, *args)
    plan = (json.loads(result) if isinstance(result, str) else result)[0]
    return {
        "ms": plan["Execution Time"],
        "rows": plan["Plan"]["Actual Rows"],
        "nodes": plan_nodes(plan["Plan"]),
    }


def plan_nodes(node: dict[str, Any]) -> list[str]:
    """Node types of a plan, depth first; index scans name their index."""
    label = node["Node Type"]
    if "Index Name" in node:
        label += f" ({node['Index Name']})"
    found = [label]
    for child in node.get("Plans", []):
        found += plan_nodes(child)
    return found


def percentile(values: list[float], pct: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


async def measure(admin_url: str, size: int, offers_count: int) -> SizeResult:
    async with bench_database(admin_url, size) as url:
        started = time.perf_counter()
        await prepare(url, size)
        load_s = time.perf_counter() - started
        conn = await db.connect(url)
        try:
            candidates = await count_candidates(conn)
            explained = await explain_candidates(conn)
            timings, proposals, events = await time_offers(conn, offers_count)
        finally:
            await conn.close()
    return SizeResult(
        size=size,
        p50_ms=percentile(timings, 50),
        p95_ms=percentile(timings, 95),
        p99_ms=percentile(timings, 99),
        mean_ms=statistics.fmean(timings),
        mean_candidates=statistics.fmean(candidates.values()),
        proposals_per_offer=proposals,
        events_per_offer=events,
        candidate_sql_ms=explained["ms"],
        candidate_sql_rows=explained["rows"],
        plan_nodes=explained["nodes"],
        uses_needs_lacking_by_rank=any("needs_lacking_by_rank" in n for n in explained["nodes"]),
        load_s=load_s,
    )


def memory_gib() -> float | None:
    meminfo = Path("/proc/meminfo")
    if not meminfo.exists():
        return None
    for line in meminfo.read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 2**20, 1)
    return None


def machine() -> dict[str, Any]:
    return {
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "memory_gib": memory_gib(),
        "python": platform.python_version(),
    }


async def server_version(admin_url: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        version: str = await conn.fetchval("SHOW server_version")
        return version
    finally:
        await conn.close()


def print_report(info: dict[str, Any], results: list[SizeResult]) -> None:
    base = results[0]
    print(
        f"machine: {info['processor']}, {info['cpus']} CPUs, {info['memory_gib']} GiB RAM, "
        f"Python {info['python']}"
    )
    print(f"PostgreSQL {info['postgresql']}")
    print(
        f"{info['offers']} timed offers per size (after {WARMUP_OFFERS} warm-up), "
        f"item types: {', '.join(COMMON_TYPES)}"
    )
    print("cand. rows: open needs candidate_needs returns per offer (mean over the item types)")
    print(f"cand. SQL ms, plan nodes: EXPLAIN ANALYZE of candidate_needs for {EXPLAINED_TYPE}")
    print()
    header = (
        f"{'open needs':>10} | {'p50 ms':>8} | {'p95 ms':>8} | {'p99 ms':>8} | {'mean ms':>8} | "
        f"{f'p50 vs {base.size:,}':>12} | {'cand. rows':>10} | {'props':>5} | {'events':>6} | "
        f"{'cand. SQL ms':>12} | plan nodes"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.size:>10,} | {r.p50_ms:>8.2f} | {r.p95_ms:>8.2f} | {r.p99_ms:>8.2f} | "
            f"{r.mean_ms:>8.2f} | {r.p50_ms / base.p50_ms:>11.1f}x | {r.mean_candidates:>10.0f} | "
            f"{r.proposals_per_offer:>5.1f} | {r.events_per_offer:>6.1f} | "
            f"{r.candidate_sql_ms:>12.2f} | {' > '.join(r.plan_nodes)}"
        )


def write_json(info: dict[str, Any], results: list[SizeResult]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    base = results[0].p50_ms
    rows = [{**asdict(r), "p50_ratio": r.p50_ms / base} for r in results]
    RESULTS.write_text(json.dumps({**info, "results": rows}, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten: {RESULTS.relative_to(ROOT)}")


# ---- likely providers: cost against the number of declared capacities -----------

LOAD_CAPACITIES = """
WITH types AS (SELECT array_agg(code ORDER BY position) AS codes FROM resource_types),
     nations AS (SELECT array_agg(code ORDER BY code) AS codes FROM partners WHERE code <> 'TUR')
INSERT INTO capacities (id, country, resource_type, quantity, readiness_hours, home_lat,
                        home_lon, credentials, valid_until, source, created_by)
SELECT format('cap_bench_%s', lpad(g::text, 7, '0')),
       nations.codes[1 + g % cardinality(nations.codes)],
       types.codes[1 + (g * 7) % cardinality(types.codes)],
       1 + floor(random() * 20)::int,
       floor(random() * 72)::int,
       35 + random() * 30,
       -10 + random() * 50,
       '{}',
       CASE WHEN random() < 0.1 THEN now() - interval '1 day'
            ELSE now() + interval '1 day' + random() * interval '365 days' END,
       'declared',
       $1
FROM types, nations, generate_series(1, $2::int) AS g
"""
RFA = "rfa_bench_000001"
READS = 200


@dataclass
class CapacityResult:
    capacities: int
    p50_ms: float
    p95_ms: float
    baseline_p50_ms: float
    providers_per_need: float
    providers_sql_ms: float
    plan_nodes: list[str]
    uses_capacities_active_by_readiness: bool
    needs_read_again: int


async def measure_capacities(admin_url: str, needs: int, count: int) -> CapacityResult:
    from eadrcc.capacities.providers import SHORTLIST, cutoff, scored
    from eadrcc.capacities.store import NO_BOUND
    from eadrcc.capacities.store import q as capacities_q
    from eadrcc.requests import service as requests_service
    from eadrcc.requests import store as requests_store

    async with bench_database(admin_url, needs) as url:
        await prepare(url, needs)
        conn = await db.connect(url)
        try:
            await conn.execute(LOAD_CAPACITIES, ACTOR, count)
            await conn.execute("ANALYZE")
            full, bare, found = [], [], 0
            for n in range(READS + WARMUP_OFFERS):
                start = time.perf_counter()
                request = await requests_service.get(conn=conn, request_id=RFA)
                middle = time.perf_counter()
                await requests_store.get_request(conn, RFA)
                end = time.perf_counter()
                if n >= WARMUP_OFFERS:
                    full.append((middle - start) * 1000)
                    bare.append((end - middle) * 1000)
                    found = sum(len(x.likely_providers) for x in request.needs)
            need_ids = [x.id for x in request.needs]
            sql, *first_read = capacities_q.bind(
                "likely_providers",
                need_ids=need_ids,
                upto_sources=[NO_BOUND[0]] * len(need_ids),
                upto_hours=[NO_BOUND[1]] * len(need_ids),
                shortlist=SHORTLIST,
            )
            shortlists: dict[str, list[Any]] = {i: [] for i in need_ids}
            for row in await conn.fetch(sql, *first_read):
                shortlists[row["need_id"]].append(scored(row))
            again = sum(1 for rows in shortlists.values() if cutoff(rows, SHORTLIST))
            result = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, *first_read)
        finally:
            await conn.close()
    plan = (json.loads(result) if isinstance(result, str) else result)[0]
    nodes = plan_nodes(plan["Plan"])
    return CapacityResult(
        capacities=count,
        p50_ms=percentile(full, 50),
        p95_ms=percentile(full, 95),
        baseline_p50_ms=percentile(bare, 50),
        providers_per_need=found / max(len(need_ids), 1),
        providers_sql_ms=plan["Execution Time"],
        plan_nodes=nodes,
        uses_capacities_active_by_readiness=any(
            "capacities_active_by_readiness" in n for n in nodes
        ),
        needs_read_again=again,
    )


def print_capacities(results: list[CapacityResult]) -> None:
    print()
    print(
        f"GET /requests/{{id}} of one {NEEDS_PER_REQUEST}-need RFA, {READS} reads: with "
        "likely_providers vs the same read without them (baseline, same run)"
    )
    header = (
        f"{'capacities':>10} | {'p50 ms':>8} | {'p95 ms':>8} | {'base p50':>8} | "
        f"{'providers/need':>14} | {'SQL ms':>7} | {'read again':>10} | plan nodes"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.capacities:>10,} | {r.p50_ms:>8.2f} | {r.p95_ms:>8.2f} | "
            f"{r.baseline_p50_ms:>8.2f} | {r.providers_per_need:>14.1f} | "
            f"{r.providers_sql_ms:>7.2f} | {r.needs_read_again:>10} | {' > '.join(r.plan_nodes)}"
        )


async def run(
    admin_url: str,
    sizes: list[int],
    offers_count: int,
    capacities: list[int] = (),  # type: ignore[assignment]
) -> None:
    info = {
        **machine(),
        "postgresql": await server_version(admin_url),
        "offers": offers_count,
        "types": list(COMMON_TYPES),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    results = []
    for size in sizes:
        print(f"measuring {size:,} open needs ...", file=sys.stderr, flush=True)
        results.append(await measure(admin_url, size, offers_count))
    print_report(info, results)
    extra = []
    for count in capacities:
        print(f"measuring {count:,} capacities ...", file=sys.stderr, flush=True)
        extra.append(await measure_capacities(admin_url, sizes[0], count))
    write_json(info, results)
    if extra:
        print_capacities(extra)
        rows = {**info, "needs": sizes[0], "results": [asdict(r) for r in extra]}
        PROVIDERS.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
        print(f"written: {PROVIDERS.relative_to(ROOT)}")


def main() -> None:
    args = parse_args()
    logs.configure("warning")
    asyncio.run(run(maintenance_url(args.database_url), args.sizes, args.offers, args.capacities))


if __name__ == "__main__":
    main()
