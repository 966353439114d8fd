"""Reading inbound documents (XML parsing, schema validation, conversion to our
models) in worker processes, so that a large CAP alert, EDXL-RM message or feed
never holds the event loop.

Each worker is a one-process `ProcessPoolExecutor` (a "slot"). A document is only
handed to an idle slot, so the time budget measures reading it, not queueing; a
document over the budget gets a 422 and its process is killed and replaced, which
a shared multi-process executor could not do without failing its neighbours'
documents too. A worker that dies mid-document fails only that document (503).

Workers start on the first large document, not with the app: most hubs and every
test app read only small documents, inline, and never pay for the processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

import structlog
from aiohttp import web

from eadrcc.appkeys import METRICS, PARSER, SETTINGS
from eadrcc.errors import TooSlowToRead, Unavailable

log = structlog.get_logger(__name__)
T = TypeVar("T")
WARM_SECONDS = 120.0  # starting a worker: a fresh interpreter, imports and schemas
STOP_SECONDS = 10.0
COUNTERS = ("inline", "offloaded", "over_budget", "crashed", "started")


def _start_worker(level: str, fmt: str) -> None:
    """Initializer: the worker logs as the hub does (its discarded feed items)."""
    from eadrcc import logs

    logs.configure(level, fmt)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the hub, which stops us


def warm() -> int:
    """Pay the one-off costs (imports, schema compilation, the country index) before
    the first document, so the budget measures documents only; the worker's pid."""
    # Every module whose functions the hub sends here, imported now rather than with
    # the first document (whose budget would pay for it).
    import eadrcc.alerts.feeds
    import eadrcc.alerts.reading
    import eadrcc.edxl.parse  # noqa: F401
    from eadrcc.alerts import cap, geography

    cap.warm()
    geography.world()
    return os.getpid()


class _Slot:
    """One worker process; `pid` is None until it has started and warmed up."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.executor: ProcessPoolExecutor | None = None
        self.pid: int | None = None


class ParsePool:
    def __init__(
        self,
        *,
        workers: int,
        budget_seconds: float,
        inline_below_bytes: int,
        log_level: str = "info",
        log_format: str = "json",
        warm_up: Callable[[], int] = warm,
    ) -> None:
        self.workers = workers
        self.budget = budget_seconds
        self.inline_below = inline_below_bytes
        self._log = (log_level, log_format)
        self._warm_up = warm_up
        self._idle: asyncio.Queue[_Slot] = asyncio.Queue()
        self._slots = [_Slot(n) for n in range(workers)]
        for slot in self._slots:
            self._idle.put_nowait(slot)
        self.busy = 0
        self.counters = dict.fromkeys(COUNTERS, 0)

    def offloads(self, raw: bytes) -> bool:
        return self.workers > 0 and len(raw) >= self.inline_below

    def pids(self) -> list[int]:
        """The live workers' process ids (for /metrics and tests)."""
        return [s.pid for s in self._slots if s.pid is not None]

    def gauges(self) -> dict[str, float]:
        return {
            **self.counters,
            "workers": float(len(self.pids())),
            "busy": float(self.busy),
            "budget_seconds": self.budget,
        }

    async def run(self, read: Callable[[bytes], T], raw: bytes) -> T:
        """`read(raw)` (a top-level function, so that it pickles): inline for a small
        document, else in a worker within the budget. What `read` raises reaches the
        caller as raised (EadrccError keeps its status and errors)."""
        if not self.offloads(raw):
            # Below the threshold, reading costs less than a round trip to a worker
            # (pickling the document and the result), and holds the loop a few ms.
            self.counters["inline"] += 1
            return read(raw)
        self.counters["offloaded"] += 1
        slot = await self._idle.get()
        self.busy += 1
        try:
            return await self._on(slot, read, raw)
        finally:
            self.busy -= 1
            self._idle.put_nowait(slot)

    async def _on(self, slot: _Slot, read: Callable[[bytes], T], raw: bytes) -> T:
        executor = await self._ready(slot)
        try:
            future = executor.submit(read, raw)
        except BrokenProcessPool:  # died while idle (OOM killer, kill): not this document's doing
            await self._replace(slot, "died_idle")
            future = (await self._ready(slot)).submit(read, raw)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.budget)
        except asyncio.CancelledError:  # the request went away: its document's work too
            await self._replace(slot, "cancelled")
            raise
        except TimeoutError:
            self.counters["over_budget"] += 1
            await self._replace(slot, "over_budget")
            raise TooSlowToRead(
                f"the document took longer than {self.budget:g} s to read (parse and "
                "validate); nothing was stored"
            ) from None
        except BrokenProcessPool:
            self.counters["crashed"] += 1
            await self._replace(slot, "crashed")
            raise Unavailable(
                "the document reader stopped while reading this document; nothing was "
                "stored and a new reader was started: send it again",
                headers={"Retry-After": "1"},
            ) from None

    async def _ready(self, slot: _Slot) -> ProcessPoolExecutor:
        if slot.executor is not None:
            return slot.executor
        # "spawn": a fresh interpreter, never a fork of this threaded, running hub.
        executor = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=self._log,
        )
        try:
            # submit() starts the process: a fork and exec, kept off the loop too.
            started = await asyncio.to_thread(executor.submit, self._warm_up)
            pid = await asyncio.wait_for(asyncio.wrap_future(started), WARM_SECONDS)
        except (TimeoutError, BrokenProcessPool, OSError) as exc:
            await _stop(executor, None)
            log.error("parse_worker_start_failed", slot=slot.number, error=type(exc).__name__)
            raise Unavailable(
                "no document reader could be started; nothing was stored",
                headers={"Retry-After": "5"},
            ) from None
        slot.executor, slot.pid = executor, pid
        self.counters["started"] += 1
        log.info("parse_worker_started", slot=slot.number, pid=pid)
        return executor

    async def _replace(self, slot: _Slot, why: str) -> None:
        """Kill the slot's process; the slot's next document starts a new one."""
        executor, pid = slot.executor, slot.pid
        slot.executor, slot.pid = None, None
        log.warning("parse_worker_replaced", slot=slot.number, pid=pid, reason=why)
        if executor is not None:
            await _stop(executor, pid)

    async def close(self) -> None:
        for slot in self._slots:
            executor, pid, slot.executor, slot.pid = slot.executor, slot.pid, None, None
            if executor is not None:
                await _stop(executor, pid, kill=False)


async def _stop(executor: ProcessPoolExecutor, pid: int | None, *, kill: bool = True) -> None:
    """Stop a slot's process: killed at once (stuck or broken), or asked to finish
    its document and exit, then killed if it has not within STOP_SECONDS."""
    if kill and pid is not None:
        _kill(pid)
    try:
        await asyncio.wait_for(
            asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True), STOP_SECONDS
        )
    except TimeoutError:
        if pid is not None:
            _kill(pid)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


async def parse_pool(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: the app's document readers, stopped on cleanup."""
    settings = app[SETTINGS]
    pool = ParsePool(
        workers=settings.parse_workers,
        budget_seconds=settings.parse_seconds,
        inline_below_bytes=settings.parse_inline_below_bytes,
        log_level=settings.log_level,
        log_format=settings.log_format,
    )
    app[PARSER] = pool
    app[METRICS].add_gauges("eadrcc_parse_pool", "Document readers (worker processes)", pool.gauges)
    yield
    await pool.close()
