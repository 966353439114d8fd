"""What the benchmarks share: a throw-away database, hubs as real processes,
the machine they ran on, and percentiles. Run benchmarks from the repository root."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
EADRCC = [sys.executable, "-m", "eadrcc"]


def server_url(arg: str | None) -> str:
    """A maintenance URL on which we may CREATE DATABASE."""
    if url := arg or os.environ.get("DATABASE_URL"):
        return url
    from eadrcc.db import start_embedded

    return with_database(start_embedded(ROOT / ".eadrcc" / "bench-pgdata"), "postgres")


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@asynccontextmanager
async def scratch_database(server: str, label: str) -> AsyncIterator[str]:
    """A fresh database, migrated and seeded by `eadrcc seed`; dropped afterwards."""
    name = f"eadrcc_bench_{label}_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    if os.environ.get("BENCH_SYNCHRONOUS_COMMIT") == "off":
        # Diagnosis only: is commit-time fsync (under the event-order lock) the limit?
        await admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    await admin.close()
    url = with_database(server, name)
    try:
        eadrcc(url, "seed")
        yield url
    finally:
        admin = await asyncpg.connect(server)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def eadrcc(db_url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": db_url, "EADRCC_LOG_LEVEL": "warning"}
    return subprocess.run(
        [*EADRCC, *args], env=env, check=True, capture_output=True, text=True
    ).stdout


def token(db_url: str, role: str, **extra: str) -> dict[str, str]:
    args = [f"--{k}={v}" for k, v in extra.items()]
    made: dict[str, str] = json.loads(
        eadrcc(
            db_url, "token", "create", "--role", role, "--name", f"bench {role}", "--json", *args
        )
    )
    return made


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def processes(
    commands: Sequence[tuple[list[str], dict[str, str]]],
) -> Iterator[list[subprocess.Popen[bytes]]]:
    # BENCH_HUB_LOG=<file>: the hubs' log (JSON lines) goes there, to find out why.
    log_path = os.environ.get("BENCH_HUB_LOG")
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    procs = [
        subprocess.Popen(cmd, env={**os.environ, **env}, stdout=log, stderr=log)
        for cmd, env in commands
    ]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
        if log_path:
            log.close()  # type: ignore[union-attr]


def hub_command(db_url: str, port: int) -> tuple[list[str], dict[str, str]]:
    return (
        [*EADRCC, "serve", "--port", str(port)],
        {
            "DATABASE_URL": db_url,
            "EADRCC_LOG_LEVEL": "warning",
            "EADRCC_POOL_MAX_SIZE": "20",
            "EADRCC_ALERT_RATE_PER_MINUTE": "1000000",
            "EADRCC_ALERT_BURST": "1000000",
        },
    )


async def wait_ready(url: str, path: str = "/readyz", timeout: float = 60) -> None:
    async with aiohttp.ClientSession() as http, asyncio.timeout(timeout):
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url + path) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def machine() -> dict[str, object]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = 0
    with contextlib.suppress(OSError):
        memory = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "memory_mib": memory,
        "python": platform.python_version(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def machine_noise() -> dict[str, float]:
    """How busy the machine is before a run (2 s sample, our processes idle) and its
    1-minute load average: other load on a shared machine shows up in the figures."""
    import psutil  # type: ignore[import-untyped]

    return {"busy_before_pct": psutil.cpu_percent(2.0), "load_1m": os.getloadavg()[0]}


def save(name: str, data: object) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path
