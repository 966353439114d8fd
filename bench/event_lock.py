"""How many event-writing transactions per second the event-order lock allows.

Every state change appends its events under one transaction-level advisory lock
held through commit (append_events, migration 0005): that is what keeps the log
gap-free with seq order = commit order, and it caps event-writing transactions
cluster-wide, whatever the number of hub instances. This measures the cap the way
the hub writes: `db.transaction` with one `events.record`, whose append travels in
the COMMIT's own message, from many connections at once.

Baseline, same run, same shape: the same transactions inserting one row into an
unlocked table in the COMMIT's message instead (what the writes would cost with no
ordering at all). The ratio is the price of the ordering.

Run it from the repository root:

    python bench/event_lock.py [--seconds 10] [--writers 1,8,32] [--database-url URL]

Without --database-url it uses $DATABASE_URL, else the embedded PostgreSQL in
.eadrcc/bench-pgdata. Results are printed and written to bench/results/event_lock.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import RESULTS, machine, percentile, scratch_database, server_url

from eadrcc import db
from eadrcc.events import log as events

PLAIN = "INSERT INTO bench_plain (data) VALUES ('{\"n\": 1}'::jsonb)"


def with_event(conn: asyncpg.Connection) -> None:
    events.record(conn, kind="bench.tick", actor="bench", data={"n": 1})


def with_plain_row(conn: asyncpg.Connection) -> None:
    db.with_commit(conn, lambda state: PLAIN, last=True)


async def run(
    pool: asyncpg.Pool, writers: int, seconds: float, body: Callable[[asyncpg.Connection], None]
) -> dict[str, Any]:
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def writer() -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            async with db.transaction(pool) as conn:
                body(conn)
            latencies.append(time.perf_counter() - started)

    began = time.monotonic()
    await asyncio.gather(*(writer() for _ in range(writers)))
    elapsed = time.monotonic() - began
    return {
        "writers": writers,
        "tx_per_s": round(len(latencies) / elapsed),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--writers", default="1,8,32")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    counts = [int(n) for n in args.writers.split(",")]
    load_before = os.getloadavg()
    rows = []
    async with scratch_database(server_url(args.database_url), "evlock") as url:
        pool = await db.create_pool(url, min_size=max(counts), max_size=max(counts))
        try:
            async with pool.acquire() as conn:
                await conn.execute(
                    "CREATE TABLE bench_plain (id bigserial PRIMARY KEY, data jsonb)"
                )
            for writers in counts:  # alternating, so drift on the machine hits both
                for name, body in (("unlocked row", with_plain_row), ("event", with_event)):
                    result = await run(pool, writers, args.seconds, body)
                    rows.append({"run": name, **result})
                    print(
                        f"  {name:12} {writers:3} writers: {result['tx_per_s']:6} tx/s", flush=True
                    )
        finally:
            await pool.close()
    print()
    print(f"machine: {machine()['cpu']}, {os.cpu_count()} cores; {args.seconds:g} s per run")
    print(
        f"load average (1/5/15 min) before {'/'.join(f'{x:.1f}' for x in load_before)}"
        f" after {'/'.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print(f"{'run':14}{'writers':>8}{'tx/s':>8}{'vs unlocked':>13}{'p50 ms':>9}{'p99 ms':>9}")
    plain = {r["writers"]: r["tx_per_s"] for r in rows if r["run"] == "unlocked row"}
    for r in rows:
        ratio = r["tx_per_s"] / plain[r["writers"]] if plain[r["writers"]] else float("nan")
        print(
            f"{r['run']:14}{r['writers']:>8}{r['tx_per_s']:>8}{ratio:>13.2f}"
            f"{r['p50_ms']:>9}{r['p99_ms']:>9}"
        )
    RESULTS.mkdir(exist_ok=True)
    result = {"machine": machine(), "load_before": load_before, "runs": rows}
    (RESULTS / "event_lock.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
