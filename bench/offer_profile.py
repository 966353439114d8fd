"""Where one POST /api/v1/offers goes: its database round trips, statement by
statement, and the hub's CPU by function under load.

The hub runs in this process (so cProfile sees it); the load comes from a
separate process (throughput.py's generator), as in bench/throughput.py. Round
trips are counted by wrapping asyncpg's connection calls during requests sent
one at a time (each call is one round trip once its statement is prepared).

    python bench/offer_profile.py [--database-url URL] [--seconds 10] [--top 30] [--after N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import cProfile
import functools
import io
import pstats
import resource
import statistics
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness
import throughput

from eadrcc import logs
from eadrcc.app import create_app
from eadrcc.config import Settings

# The statements of the request being counted, each with its round trip's time and
# the CPU its PostgreSQL backend spent, in seconds (None: not counting).
_TALLY: contextvars.ContextVar[list[tuple[str, float, float]] | None] = contextvars.ContextVar(
    "tally", default=None
)
CALLS = ("execute", "executemany", "fetch", "fetchmany", "fetchrow", "fetchval")


def count_round_trips() -> None:
    """Wrap asyncpg's connection calls so each one made while a request is
    counted is noted with its statement's first line."""
    for name in CALLS:
        original = getattr(asyncpg.Connection, name)

        @functools.wraps(original)
        async def counted(self: Any, query: str, *args: Any, _o: Any = original, **kw: Any) -> Any:
            if (tally := _TALLY.get()) is None:
                return await _o(self, query, *args, **kw)
            server = _server_cpu(self)
            started = time.perf_counter()
            try:
                return await _o(self, query, *args, **kw)
            finally:
                took = time.perf_counter() - started
                tally.append((_label(query), took, _server_cpu(self) - server))

        setattr(asyncpg.Connection, name, counted)


def _server_cpu(conn: Any) -> float:
    """Seconds of CPU the connection's PostgreSQL backend has used (the kernel's
    nanosecond count; 0 when the server is not on this machine)."""
    try:
        with open(f"/proc/{conn.get_server_pid()}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except OSError:
        return 0.0


@functools.cache
def _label(query: str) -> str:
    lines = [s.strip() for s in query.strip().splitlines() if not s.strip().startswith("--")]
    first = lines[0] if lines else query
    return first.split("$v", 1)[0][:70]  # values written into the text are not its shape


_last: list[list[tuple[str, float, float]]] = []


@web.middleware
async def tallying(request: web.Request, handler: Any) -> web.StreamResponse:
    if _counting:  # only offers sent one at a time: under load it would skew the profile
        tally: list[tuple[str, float, float]] = []
        _TALLY.set(tally)
        _last.append(tally)
    return await handler(request)


_counting = True


@contextlib.asynccontextmanager
async def hub_in_this_process(db_url: str, *middlewares: Any) -> AsyncIterator[str]:
    """A hub on a free port, run by this process's event loop (so it can be timed and
    profiled from here), ready; yields its URL."""
    logs.configure("warning")
    port = harness.free_port()
    settings = Settings(database_url=db_url, port=port, pool_max_size=20, log_level="warning")
    app = create_app(settings, auto_migrate=False)
    app.middlewares[:0] = middlewares
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}"
    try:
        await harness.wait_ready(url)
        yield url
    finally:
        await runner.cleanup()


async def measure(args: argparse.Namespace) -> None:
    count_round_trips()
    server = harness.server_url(args.database_url)
    async with harness.scratch_database(server, "profile") as db_url:
        officer = harness.token(db_url, "duty_officer")["token"]
        async with hub_in_this_process(db_url, tallying) as url:
            emergency_id = await throughput.prepare(url, officer)
            if args.after:
                await _fill(url, officer, emergency_id, args.after)
            await _round_trips(url, officer, emergency_id)
            if args.seconds > 0:
                await _profile(args, url, officer, emergency_id)


async def _fill(url: str, officer: str, emergency_id: str, offers: int) -> None:
    """`offers` offers first, 32 at a time: what one costs once the emergency has
    many (dead row versions, longer index scans) rather than in a fresh database."""
    global _counting
    _counting = False
    headers = {"Authorization": f"Bearer {officer}", "Content-Type": "application/json"}
    numbers = iter(range(100_000, 100_000 + offers))
    async with aiohttp.ClientSession(headers=headers) as http:

        async def sender() -> None:
            for n in numbers:
                body = throughput.offer_body(emergency_id, n)
                async with http.post(f"{url}/api/v1/offers", data=body) as resp:
                    assert resp.status == 201, await resp.text()

        await asyncio.gather(*(sender() for _ in range(32)))
    _counting = True
    print(f"after {offers} offers to the same three needs:")


async def _round_trips(url: str, officer: str, emergency_id: str, *, timed: int = 200) -> None:
    """The statements of one offer, with each round trip's median time over `timed`
    offers sent one at a time (no contention: about what PostgreSQL spends on it)."""
    headers = {"Authorization": f"Bearer {officer}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(headers=headers) as http:
        # the first ones also prepare statements and fill the token cache
        for n in range(10 + timed):
            if n == 10:
                _last.clear()
            body = throughput.offer_body(emergency_id, n)
            async with http.post(f"{url}/api/v1/offers", data=body) as resp:
                assert resp.status == 201, await resp.text()
                answer = await resp.json()
    shapes = [t for t in _last if [s[0] for s in t] == [s[0] for s in _last[-1]]]
    print(
        f"round trips of one offer ({len(answer['matches'])} proposal(s)): {len(_last[-1])}, "
        f"over {len(shapes)} offers sent one at a time: median ms of the round trip, "
        f"mean µs of CPU in PostgreSQL's backend"
    )
    wall = cpu = 0.0
    for n, (statement, *_) in enumerate(_last[-1], 1):
        ms = statistics.median(t[n - 1][1] for t in shapes) * 1000
        us = statistics.fmean(t[n - 1][2] for t in shapes) * 1e6
        wall, cpu = wall + ms, cpu + us
        print(f"  {n:>2}. {ms:6.2f} {us:6.0f}  {statement}")
    print(f"      {wall:6.2f} {cpu:6.0f}  in all")


def offer_load(
    url: str, officer: str, emergency_id: str, seconds: float, concurrency: int
) -> dict[str, Any]:
    """throughput.py's generator job: offers to the emergency's needs, as the officer."""
    return {
        "kind": "offers",
        "seconds": seconds,
        "concurrency": concurrency,
        "emergency_id": emergency_id,
        "token": officer,
        "urls": [f"{url}/api/v1/offers"],
        "offset": 1000,
    }


async def _profile(args: argparse.Namespace, url: str, officer: str, emergency_id: str) -> None:
    job = offer_load(url, officer, emergency_id, args.seconds, args.concurrency)
    global _counting
    _counting = False
    _last.clear()
    profiler = cProfile.Profile()
    cpu = _cpu_seconds()
    if not args.cpu_only:
        profiler.enable()
    result = await asyncio.to_thread(throughput.run_generator, job)
    profiler.disable()
    cpu = _cpu_seconds() - cpu
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _last.clear()
    per = max(result["ok"], 1)
    print(
        f"\nunder load ({args.concurrency} in flight, {args.seconds:.0f} s): "
        f"{result['per_second']:.0f} offers/s, errors {result['errors'] or '-'}; "
        f"hub CPU {cpu / per * 1e6:.0f} µs per offer "
        f"(process total so far: user {usage.ru_utime:.1f} s, system {usage.ru_stime:.1f} s)"
        + ("" if args.cpu_only else " (profiled, so slower)")
    )
    if args.cpu_only:
        return
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    print("calls per offer (load-independent, unlike the times below):")
    for label, count in _calls(stats).items():
        print(f"  {label:<28}{count / per:8.2f}")
    stats.sort_stats(args.sort).print_stats(args.top)
    print(out.getvalue())
    if args.save:
        stats.dump_stats(args.save)


# Functions whose calls per offer say where the work goes: (label, name, where).
COUNTED = (
    ("socket writes", "send", "_socket.socket"),  # to PostgreSQL, and the HTTP answer
    ("pydantic validations", "validate_python", "SchemaValidator"),
    ("pydantic dumps", "to_python", "SchemaSerializer"),
    ("json encodes", "iterencode", "json/encoder.py"),
    ("json decodes", "raw_decode", "json/decoder.py"),
    ("os random reads", "posix.urandom", "posix"),
)


def _calls(stats: pstats.Stats) -> dict[str, int]:
    counts = dict.fromkeys((label for label, _, _ in COUNTED), 0)
    for (path, _, name), (_, calls, *_) in stats.stats.items():  # type: ignore[attr-defined]
        for label, wanted, where in COUNTED:
            named = name == wanted or f"'{wanted}'" in name or f" {wanted}>" in name
            if named and where in path + name:
                counts[label] += calls
    return counts


def _cpu_seconds() -> float:
    """This process's CPU time (the hub's: the load generator is another process)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--after", type=int, default=0, help="time the round trips after this many offers"
    )
    parser.add_argument("--sort", default="cumulative", help="pstats key: cumulative, tottime")
    parser.add_argument("--cpu-only", action="store_true", help="CPU per offer, no profiler")
    parser.add_argument("--save", help="write the raw profile here (for snakeviz, pstats)")
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
