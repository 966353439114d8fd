"""Where a batch of offers spends its time: each round trip's wall time and the CPU
PostgreSQL's backend spent in it, the hub's time between round trips, and the gap
between one batch and the next, all per offer, under throughput.py's load.

The hub runs in this process (its batcher and connections are wrapped to time
them); the load comes from a separate process, as in bench/throughput.py. A round
trip's wall time beyond its PostgreSQL CPU is mostly the hub's event loop busy with
HTTP before it gets back to the batch: on one instance the hub and PostgreSQL take
turns, and this shows where.

    python bench/batch_stages.py [--database-url URL] [--seconds 10] [--concurrency 32]
                                 [--one-full]
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import itertools
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness
import offer_profile
import throughput

from eadrcc.offers import batching

# A batch's round trips as they happen: (statement, began, ended, backend CPU s).
_TRIPS: contextvars.ContextVar[list[tuple[str, float, float, float]] | None] = (
    contextvars.ContextVar("trips", default=None)
)
# Each batch: (offers, began, ended, its round trips).
_BATCHES: list[tuple[int, float, float, list[tuple[str, float, float, float]]]] = []


def _time_batches() -> None:
    """Wrap the connection calls made inside a batch, and the batch itself."""
    import asyncpg

    for name in offer_profile.CALLS:
        original = getattr(asyncpg.Connection, name)

        async def timed(self: Any, query: str, *args: Any, _o: Any = original, **kw: Any) -> Any:
            if (trips := _TRIPS.get()) is None:
                return await _o(self, query, *args, **kw)
            cpu, began = offer_profile._server_cpu(self), time.perf_counter()
            try:
                return await _o(self, query, *args, **kw)
            finally:
                ended = time.perf_counter()
                cpu = offer_profile._server_cpu(self) - cpu
                trips.append((offer_profile._label(query)[:32], began, ended, cpu))

        setattr(asyncpg.Connection, name, timed)

    record = batching.OfferBatcher._record_batch

    async def timed_batch(self: Any, batch: list[Any], *rest: Any) -> None:
        trips: list[tuple[str, float, float, float]] = []
        _TRIPS.set(trips)
        began = time.perf_counter()
        try:
            await record(self, batch, *rest)
        finally:
            _BATCHES.append((len(batch), began, time.perf_counter(), trips))

    batching.OfferBatcher._record_batch = timed_batch  # type: ignore[method-assign]


async def measure(args: argparse.Namespace) -> None:
    _time_batches()
    server = harness.server_url(args.database_url)
    async with harness.scratch_database(server, "stages") as db_url:
        officer = harness.token(db_url, "duty_officer")["token"]
        async with offer_profile.hub_in_this_process(db_url) as url:
            emergency_id = await throughput.prepare(url, officer, one_full=args.one_full)
            job = offer_profile.offer_load(
                url, officer, emergency_id, args.seconds, args.concurrency
            )
            _BATCHES.clear()
            cpu = offer_profile._cpu_seconds()
            result = await asyncio.to_thread(throughput.run_generator, job)
            cpu = offer_profile._cpu_seconds() - cpu
    _report(result, cpu)


def _report(result: dict[str, Any], cpu: float) -> None:
    batches = _BATCHES[len(_BATCHES) // 5 :]  # the first fifth warms up
    offers = sum(b[0] for b in batches)
    print(
        f"{result['per_second']:.0f} offers/s, hub CPU {cpu / result['ok'] * 1e6:.0f} µs per"
        f" offer; {len(batches)} batches of {offers / len(batches):.1f} offers on average"
    )
    print("per offer, µs:            wall  PostgreSQL  wall beyond it")
    stages: dict[str, list[float]] = {}
    between = 0.0
    for _, began, ended, trips in batches:
        last = began
        for statement, start, end, server in trips:
            stage = stages.setdefault(statement, [0.0, 0.0])
            stage[0] += end - start
            stage[1] += server
            between, last = between + start - last, end
        between += ended - last
    for statement, (wall, server) in stages.items():
        spent = f"{_us(wall, offers)} {_us(server, offers)} {_us(wall - server, offers)}"
        print(f"  {statement:<32} {spent}")
    print(f"  {'the hub between round trips':<32} {_us(between, offers)}")
    gaps = [nxt[1] - cur[2] for cur, nxt in itertools.pairwise(batches)]
    if gaps:
        print(
            f"  {'from one batch to the next':<32} {_us(sum(gaps), offers)}"
            f"  (median {statistics.median(gaps) * 1e3:.2f} ms a batch)"
        )


def _us(seconds: float, offers: int) -> str:
    return f"{seconds / offers * 1e6:6.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--one-full",
        action="store_true",
        help="a need of each type fully proposed (throughput.py's 'offers, a need full')",
    )
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
