"""`eadrcc serve --workers N`: N full instances in one machine, sharing one port.

One Python process runs on one core. Each worker is a whole hub — its own pool,
event hub and sockets — exactly like an instance on another machine, so nothing
new has to be right: instances already share nothing but PostgreSQL. They listen
on the same port with SO_REUSEPORT and the kernel spreads new connections across
them. This parent process only starts them (after starting the embedded
PostgreSQL once, when there is no DATABASE_URL), passes SIGINT/SIGTERM on, and
stops them all when one dies (a supervisor such as systemd then restarts the set).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import sys
from collections.abc import Sequence
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

import structlog

from eadrcc import db, logs
from eadrcc.config import ConfigError, Settings
from eadrcc.serve import check_port, serve

log = structlog.get_logger(__name__)
STOP_TIMEOUT = 30.0  # each worker closes its sockets and pool on SIGTERM


class _Stop(Exception):
    pass


def run(settings: Settings, *, workers: int, demo: bool, auto_migrate: bool) -> int:
    """Run `workers` instances until SIGINT/SIGTERM or until one exits; the exit code."""
    if settings.port == 0:
        raise ConfigError("--workers above 1 needs a fixed --port: the workers share it")
    check_port(settings.host, settings.port)

    # The embedded PostgreSQL (no DATABASE_URL) is started once, here, for all.
    url = asyncio.run(db.resolve_url(settings))
    settings = settings.model_copy(update={"database_url": url})
    spawn = multiprocessing.get_context("spawn")
    procs = [
        spawn.Process(
            target=_worker,
            args=(settings, n, demo and n == 0, auto_migrate),
            name=f"eadrcc-worker-{n}",
        )
        for n in range(workers)
    ]
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    try:
        for proc in procs:
            proc.start()
        log.info("workers_started", workers=workers, pids=[p.pid for p in procs])
        wait([p.sentinel for p in procs])  # returns when any worker exits
        died = [p for p in procs if p.exitcode is not None]
        log.warning("worker_exited", exit_codes=[p.exitcode for p in died])
        code = 1
    except _Stop:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _stop_all(procs)
    return code


def _raise_stop(_signum: int, _frame: FrameType | None) -> None:
    raise _Stop


def _stop_all(procs: Sequence[BaseProcess]) -> None:
    for proc in procs:
        if proc.is_alive() and proc.pid is not None:
            proc.terminate()  # SIGTERM: the worker shuts down cleanly
    for proc in procs:
        proc.join(STOP_TIMEOUT)
        if proc.is_alive():
            proc.kill()
            proc.join()


def _worker(settings: Settings, index: int, demo: bool, auto_migrate: bool) -> None:
    logs.configure(settings.log_level, settings.log_format)
    structlog.contextvars.bind_contextvars(worker=index)
    try:
        serve(settings, demo=demo, auto_migrate=auto_migrate, reuse_port=True)
    except KeyboardInterrupt:
        sys.exit(130)
