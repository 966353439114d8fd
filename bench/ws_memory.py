"""Where an idle websocket's memory goes: RSS per connection, then Python's own
allocations per connection by the file that made them (tracemalloc).

The hub runs in this process (create_app on a real port, a throw-away database);
the clients are a separate process built on the `websockets` library, each saying
hello as a duty officer and then staying idle. Two rounds of N connections:

1. RSS per connection, with tracemalloc off (what the README's figure means);
2. traced bytes per connection, grouped by the allocating file, with tracemalloc on
   (it roughly triples RSS, so round 1's RSS is the figure to quote).

Run it from the repository root:

    python bench/ws_memory.py [--clients 2000] [--database-url URL]

Without --database-url it uses $DATABASE_URL, else the embedded PostgreSQL in
.eadrcc/bench-pgdata. Results are printed and written to bench/results/ws_memory.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import tracemalloc
from collections import defaultdict
from pathlib import Path

import psutil  # type: ignore[import-untyped]
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import RESULTS, free_port, machine, scratch_database, server_url, token

from eadrcc import logs
from eadrcc.app import create_app
from eadrcc.config import Settings
from eadrcc.readtimeouts import HubRunner

CLIENT = r"""
import asyncio, json, sys
from websockets.asyncio.client import connect
url, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
async def one(keep):
    ws = await connect(url, compression=None, max_queue=None)
    await ws.send(json.dumps({"type": "hello", "token": token}))
    while json.loads(await ws.recv())["type"] != "welcome":
        pass
    keep.append(ws)
async def main():
    keep = []
    for start in range(0, n, 100):
        await asyncio.gather(*(one(keep) for _ in range(min(100, n - start))))
    print(len(keep), flush=True)
    await asyncio.sleep(3600)
asyncio.run(main())
"""


async def open_clients(port: int, bearer: str, n: int) -> asyncio.subprocess.Process:
    """N idle, welcomed clients in a process of their own; returns once all are in."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CLIENT,
        f"ws://127.0.0.1:{port}/ws",
        bearer,
        str(n),
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 300)
    if int(line or 0) != n:
        raise SystemExit(f"only {line!r} of {n} clients connected")
    return proc


async def settle() -> None:
    """Let the hub finish the handshakes' bookkeeping before measuring."""
    for _ in range(20):
        await asyncio.sleep(0.05)
    gc.collect()


def owner(frame_file: str) -> str:
    path = Path(frame_file)
    package = next((p for p in ("eadrcc", "aiohttp", "asyncio") if p in path.parts), None)
    return f"{package}/{path.name}" if package else path.name


async def measure(db_url: str, clients: int) -> dict[str, object]:
    port = free_port()
    app = create_app(Settings(database_url=db_url, log_level="warning"))
    runner = HubRunner(app, access_log=None)  # as `eadrcc serve` serves it
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    bearer = token(db_url, "duty_officer")["token"]
    me = psutil.Process()
    try:
        # Round 1: RSS, tracemalloc off. One throw-away client first, so the
        # first connection's one-off imports and caches are not counted.
        (await open_clients(port, bearer, 1)).kill()
        await settle()
        rss0 = me.memory_info().rss
        first = await open_clients(port, bearer, clients)
        await settle()
        rss_per = (me.memory_info().rss - rss0) / clients
        # Round 2: what Python allocated per connection, by allocating file.
        tracemalloc.start(1)
        before = tracemalloc.take_snapshot()
        second = await open_clients(port, bearer, clients)
        await settle()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        by_file: dict[str, float] = defaultdict(float)
        for stat in after.compare_to(before, "filename"):
            by_file[owner(stat.traceback[0].filename)] += stat.size_diff / clients
        for proc in (first, second):
            proc.kill()
            await proc.wait()
    finally:
        await runner.cleanup()
    ranked = sorted(by_file.items(), key=lambda kv: -kv[1])
    return {
        "clients": clients,
        "rss_bytes_per_connection": round(rss_per),
        "traced_bytes_per_connection": round(sum(by_file.values())),
        "traced_by_file": {name: round(size) for name, size in ranked if abs(size) >= 16},
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    logs.configure("warning")
    async with scratch_database(server_url(args.database_url), "wsmem") as db_url:
        result = await measure(db_url, args.clients)
    result["machine"] = machine()
    print(f"{result['clients']} idle websockets")
    print(f"  RSS per connection (tracemalloc off): {result['rss_bytes_per_connection']:,} B")
    print(f"  Python allocations per connection:    {result['traced_bytes_per_connection']:,} B")
    for name, size in result["traced_by_file"].items():  # type: ignore[union-attr]
        print(f"    {size:7,} B  {name}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ws_memory.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
