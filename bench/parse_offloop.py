"""/healthz latency while six ~0.9 MB CAP alerts are read at once: the parse pool
against reading inline, with a quiet baseline, all in the same run.

Everything is a real process: a scratch database (`eadrcc seed`), one hub
(`eadrcc serve`) per mode, and the alert poster, a child process of this script
(aiohttp) that builds six large valid CAP 1.2 alerts (tests/bigcap.py), then posts
them at once as a duty officer. This process samples GET /healthz one request
after another on one keep-alive connection:

- quiet:   for --quiet-seconds with no alert in flight (the baseline);
- loaded:  from the moment the poster starts sending until its six answers are in.

Modes: "pool" (EADRCC_PARSE_WORKERS unset: min(2, cores) workers) and "inline"
(EADRCC_PARSE_WORKERS=0: the loop reads each document itself, as before the pool).
Each hub first reads one large alert unmeasured, so that the pool's workers have
started and every import is done. The goal (issue #12): loaded p99 < 100 ms.

    .venv/bin/python bench/parse_offloop.py [--database-url URL] [--rounds 3]
        [--alerts 6] [--quiet-seconds 3]

Prints a table and writes bench/results/parse_offloop.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness
from tests.bigcap import big_cap

MODES = {"pool": {}, "inline": {"EADRCC_PARSE_WORKERS": "0"}}
POSTING = "posting"


# -- the poster (a child process) ----------------------------------------------------


async def post_alerts(url: str, token: str, prefix: str, count: int) -> None:
    """Build `count` large alerts, say POSTING, post them all at once, print the answers."""
    sent = datetime.now(UTC) - timedelta(minutes=30)
    docs = [big_cap(f"{prefix}-{n}", sent) for n in range(count)]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/cap+xml"}
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as http:

        async def post(doc: bytes) -> dict[str, Any]:
            start = time.perf_counter()
            async with http.post(f"{url}/api/v1/alerts", data=doc, headers=headers) as resp:
                await resp.read()
                return {"status": resp.status, "seconds": time.perf_counter() - start}

        print(POSTING, flush=True)
        answers = await asyncio.gather(*(post(d) for d in docs))
    print(json.dumps({"bytes": [len(d) for d in docs], "answers": answers}), flush=True)


# -- the sampler ---------------------------------------------------------------------


async def healthz_once(http: aiohttp.ClientSession, url: str) -> float:
    start = time.perf_counter()
    async with http.get(f"{url}/healthz") as resp:
        await resp.read()
        assert resp.status == 200, resp.status
    return (time.perf_counter() - start) * 1000


async def quiet(http: aiohttp.ClientSession, url: str, seconds: float) -> list[float]:
    samples, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end:
        samples.append(await healthz_once(http, url))
    return samples


async def loaded(
    http: aiohttp.ClientSession, url: str, token: str, prefix: str, count: int
) -> dict[str, Any]:
    """Healthz samples from the poster's first byte until its last answer."""
    poster = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--post",
        url,
        token,
        prefix,
        str(count),
        stdout=asyncio.subprocess.PIPE,
    )
    assert poster.stdout is not None
    line = await poster.stdout.readline()
    assert line.decode().strip() == POSTING, line
    result = asyncio.create_task(poster.stdout.readline())
    samples = []
    while not result.done():
        samples.append(await healthz_once(http, url))
    await poster.wait()
    report = json.loads(await result)
    return {"samples": samples, **report}


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50_ms": harness.percentile(samples, 50),
        "p99_ms": harness.percentile(samples, 99),
        "max_ms": max(samples) if samples else float("nan"),
    }


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    server = harness.server_url(args.database_url)
    results: dict[str, Any] = {
        "machine": harness.machine(),
        "alerts": args.alerts,
        "rounds": args.rounds,
        "modes": {},
    }
    async with harness.scratch_database(server, "parse") as db_url:
        officer = harness.token(db_url, "duty_officer")["token"]
        for mode, env in MODES.items():
            port = harness.free_port()
            cmd, base_env = harness.hub_command(db_url, port)
            url = f"http://127.0.0.1:{port}"
            with harness.processes([(cmd, {**base_env, **env})]):
                await harness.wait_ready(url)
                async with aiohttp.ClientSession() as http:
                    print(f"{mode}: warming up ...", file=sys.stderr)
                    warm = await loaded(http, url, officer, f"{mode}-warm", 1)
                    assert warm["answers"][0]["status"] == 201, warm
                    rounds = []
                    for n in range(args.rounds):
                        print(f"{mode}: round {n + 1}", file=sys.stderr)
                        noise = harness.machine_noise()
                        calm = await quiet(http, url, args.quiet_seconds)
                        busy = await loaded(http, url, officer, f"{mode}-{n}", args.alerts)
                        rounds.append(
                            {
                                **noise,
                                "quiet": summary(calm),
                                "loaded": summary(busy["samples"]),
                                "statuses": [a["status"] for a in busy["answers"]],
                                "posts_seconds_max": max(a["seconds"] for a in busy["answers"]),
                                "alert_bytes": busy["bytes"],
                            }
                        )
                    results["modes"][mode] = rounds
    return results


def report(results: dict[str, Any]) -> None:
    m = results["machine"]
    print(
        f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_mib']} MiB; "
        f"{results['alerts']} alerts of ~0.9 MB posted at once per round"
    )
    print(
        f"{'mode':<8}{'round':>6}{'quiet p50':>11}{'quiet p99':>11}{'loaded p50':>12}"
        f"{'loaded p99':>12}{'loaded max':>12}{'samples':>9}{'posts s':>9}"
        f"{'load 1m':>9}  statuses"
    )
    for mode, rounds in results["modes"].items():
        for n, r in enumerate(rounds, 1):
            q, lo = r["quiet"], r["loaded"]
            print(
                f"{mode:<8}{n:>6}{q['p50_ms']:>11.1f}{q['p99_ms']:>11.1f}{lo['p50_ms']:>12.1f}"
                f"{lo['p99_ms']:>12.1f}{lo['max_ms']:>12.1f}{lo['n']:>9}"
                f"{r['posts_seconds_max']:>9.2f}{r['load_1m']:>9.2f}  {sorted(set(r['statuses']))}"
            )
    print("latencies in ms; goal: loaded p99 < 100 ms in pool mode")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--post":
        url, token, prefix, count = sys.argv[2:6]
        asyncio.run(post_alerts(url, token, prefix, int(count)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--alerts", type=int, default=6)
    parser.add_argument("--quiet-seconds", type=float, default=3.0)
    args = parser.parse_args()
    results = asyncio.run(measure(args))
    report(results)
    print(f"written: {harness.save('parse_offloop', results)}")


if __name__ == "__main__":
    main()
