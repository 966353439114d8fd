"""/healthz latency while six ~0.9 MB CAP alerts are read at once: the parse pool
against reading inline, with a quiet baseline, all in the same run.

Everything is a real process: a scratch database (`eadrcc seed`), one hub
(`eadrcc serve`) per mode, and the alert poster, a child process of this script
(aiohttp) that builds six large valid CAP 1.2 alerts (tests/bigcap.py), then posts
them at once as a duty officer. This process sends GET /healthz every
--interval-ms (20 ms), whether or not the previous answer is in, and times each
from the moment it was due (so a stall counts once per request it delays):

- quiet:   for --quiet-seconds with no alert in flight (the baseline);
- loaded:  from the moment the poster starts sending until its six answers are in.

Modes: "pool" (EADRCC_PARSE_WORKERS unset: min(2, cores) workers) and "inline"
(EADRCC_PARSE_WORKERS=0: the loop reads each document itself, as before the pool).
Each hub first reads one large alert unmeasured, so that the pool's workers have
started and every import is done. The goal (issue #12): loaded p99 < 100 ms.

    .venv/bin/python bench/parse_offloop.py [--database-url URL] [--rounds 3]
        [--alerts 6] [--quiet-seconds 3] [--interval-ms 20]

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


class Sampler:
    """GET /healthz on a fixed schedule (every `interval` s), each request timed from
    the moment it was due, not from when it was sent: a stall of the hub then counts
    once per missed slot, as a monitoring probe would see it, instead of once."""

    def __init__(self, http: aiohttp.ClientSession, url: str, interval: float) -> None:
        self.http, self.url, self.interval = http, url, interval
        self.samples: list[float] = []

    async def _one(self, due: float) -> None:
        async with self.http.get(f"{self.url}/healthz") as resp:
            await resp.read()
            assert resp.status == 200, resp.status
        self.samples.append((time.perf_counter() - due) * 1000)

    async def until(self, done: asyncio.Future[Any] | None, seconds: float = 0.0) -> list[float]:
        """Sample until `done` is done, or for `seconds`; the latencies in ms."""
        start = time.perf_counter()
        pending: set[asyncio.Task[None]] = set()
        n = 0
        while (done is None and time.perf_counter() - start < seconds) or (
            done is not None and not done.done()
        ):
            due = start + n * self.interval
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            task = asyncio.create_task(self._one(due))
            pending.add(task)
            task.add_done_callback(pending.discard)
            n += 1
        if pending:
            await asyncio.gather(*pending)
        samples, self.samples = self.samples, []
        return samples


async def loaded(sampler: Sampler, url: str, token: str, prefix: str, count: int) -> dict[str, Any]:
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
    result = asyncio.ensure_future(poster.stdout.readline())
    samples = await sampler.until(result)
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
        "interval_ms": args.interval_ms,
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
                    sampler = Sampler(http, url, args.interval_ms / 1000)
                    print(f"{mode}: warming up ...", file=sys.stderr)
                    # Two at once, so that both default workers have started.
                    warm = await loaded(sampler, url, officer, f"{mode}-warm", 2)
                    assert {a["status"] for a in warm["answers"]} == {201}, warm
                    rounds = []
                    for n in range(args.rounds):
                        print(f"{mode}: round {n + 1}", file=sys.stderr)
                        noise = harness.machine_noise()
                        calm = await sampler.until(None, args.quiet_seconds)
                        busy = await loaded(sampler, url, officer, f"{mode}-{n}", args.alerts)
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
    parser.add_argument("--interval-ms", type=float, default=20.0)
    args = parser.parse_args()
    results = asyncio.run(measure(args))
    report(results)
    print(f"written: {harness.save('parse_offloop', results)}")


if __name__ == "__main__":
    main()
