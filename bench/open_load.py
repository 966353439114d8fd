"""Offers at a fixed rate, each sent when it is due whatever the answers (an open
load, as many independent nations filing), against one hub: the latency of each
answer. bench/throughput.py's clients send their next offer on their answer (a
closed load); the offer batcher waits a moment for such clients
(offers.batching.LINGER_SECONDS), and this shows what that wait costs a load that
does not behave so. Compare with older code by running it from a git worktree
(PYTHONPATH=/path/to/old/src in front of the same command).

    python bench/open_load.py [--database-url URL] [--rate 300] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness
import throughput

WARM_UP = 20  # offers sent first, at once, and not timed


async def measure(args: argparse.Namespace) -> None:
    server = harness.server_url(args.database_url)
    async with harness.scratch_database(server, "open_load") as db_url:
        officer = harness.token(db_url, "duty_officer")["token"]
        port = harness.free_port()
        url = f"http://127.0.0.1:{port}"
        with harness.processes([harness.hub_command(db_url, port)]):
            await harness.wait_ready(url)
            emergency_id = await throughput.prepare(url, officer)
            noise = harness.machine_noise()
            latencies = await _send(url, officer, emergency_id, args.rate, args.seconds)
    print(
        f"{args.rate:g} offers/s for {args.seconds:g} s, {len(latencies)} answered: "
        f"p50 {harness.percentile(latencies, 50) * 1000:.1f} ms, "
        f"p90 {harness.percentile(latencies, 90) * 1000:.1f}, "
        f"p99 {harness.percentile(latencies, 99) * 1000:.1f}; "
        f"busy {noise['busy_before_pct']:.0f}% before, load {noise['load_1m']:.2f}"
    )


async def _send(
    url: str, token: str, emergency_id: str, rate: float, seconds: float
) -> list[float]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

        async def one(n: int, timed: bool) -> None:
            started = time.perf_counter()
            body = throughput.offer_body(emergency_id, n)
            async with http.post(f"{url}/api/v1/offers", data=body, headers=headers) as resp:
                await resp.read()
                if resp.status != 201:
                    raise RuntimeError(f"offer {n}: {resp.status}")
            if timed:
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(one(n, False) for n in range(WARM_UP)))
        sent: list[asyncio.Task[None]] = []
        began = time.perf_counter()
        for n in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, began + n / rate - time.perf_counter()))
            sent.append(asyncio.create_task(one(WARM_UP + n, True)))
        await asyncio.gather(*sent)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--rate", type=float, default=300, help="offers per second")
    parser.add_argument("--seconds", type=float, default=10)
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
