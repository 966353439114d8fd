"""Reading inbound documents (XML parsing, schema validation, conversion to our
models) in worker processes, so that a large CAP alert, EDXL-RM message or feed
never holds the event loop.

Each worker is one process with a pipe of its own (a "slot"). A document is only
handed to an idle slot, so the time budget measures reading it, not queueing; a
document over the budget (processor time, see WALL_FACTOR) gets a 422 and its
process is killed and replaced, which a shared multi-process executor could not do
without failing its neighbours' documents too. A worker that dies mid-document
fails only that document (503, send again: the machine may have killed it). A
document that stops a worker twice is the document's doing: it gets a 422 then, and
again at once whenever it is sent, without reaching a worker (the pool remembers the
last CRASH_MEMORY such documents by digest).

Workers start on the first large document, not with the app: most hubs and every
test app read only small documents, inline, and never pay for the processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import multiprocessing
import os
import pickle
import signal
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

import structlog
from aiohttp import web

from eadrcc.appkeys import METRICS, PARSER, SETTINGS
from eadrcc.errors import StopsTheReader, TooSlowToRead, Unavailable

log = structlog.get_logger(__name__)
T = TypeVar("T")
WARM_SECONDS = 120.0  # starting a worker: a fresh interpreter, imports and schemas
# The budget is processor time, so a busy machine (an earthquake's alert flood, a CI
# run) does not turn genuine documents into 422s. A worker that gets no processor
# at all (stopped, starved) is judged by the wall clock at this multiple instead.
WALL_FACTOR = 6.0
STOP_SECONDS = 10.0
# Documents remembered for stopping a reader: once (a second time makes it the
# document's doing), and twice (refused from then on). A digest and a count each.
CRASH_MEMORY = 256
COUNTERS = ("inline", "offloaded", "over_budget", "crashed", "refused_crashing", "started")


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


class _OverBudget(Exception):
    """Raised inside a worker when its document has used up the processor budget."""


def _over_budget(signum: int, frame: Any) -> None:
    raise _OverBudget


def _serve(conn: Connection, level: str, fmt: str, warm_up: Callable[[], int]) -> None:
    """A worker's life: warm up, then read one document at a time until the hub's end
    of the pipe closes (or the hub kills it). Each read may use its budget in seconds
    of this process's processor time (ITIMER_PROF counts user and system time)."""
    _start_worker(level, fmt)
    signal.signal(signal.SIGPROF, _over_budget)
    conn.send(warm_up())
    while True:
        try:
            read, raw, budget = conn.recv()
        except EOFError:
            return
        try:
            signal.setitimer(signal.ITIMER_PROF, budget)
            try:
                answer: tuple[bool, Any] = (True, read(raw))
            finally:
                signal.setitimer(signal.ITIMER_PROF, 0)
        except _OverBudget:
            answer = (False, _OverBudget())
        except Exception as exc:
            answer = (False, exc)
        try:
            conn.send(answer)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            conn.send((False, RuntimeError(f"unpicklable answer: {exc!r}")))


class _Died(Exception):
    """The worker's end of the pipe closed: it exited or was killed."""


class _Worker:
    """One process and the only other end of its pipe, so that its death reads as
    EOF here at once. (ProcessPoolExecutor's shared result pipe, whose write end the
    hub also holds, can leave a reader blocked for good when a worker is killed
    halfway through sending a result; a stuck reader then hangs shutdown.)"""

    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process, self.conn = process, conn
        self.pid: int = process.pid or 0

    @classmethod
    def start(cls, log: tuple[str, str], warm_up: Callable[[], int]) -> _Worker:
        """Blocking (run in a thread): start the process, wait until it has warmed up."""
        # "spawn": a fresh interpreter, never a fork of this threaded, running hub.
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(
            target=_serve,
            args=(theirs, *log, warm_up),
            name="eadrcc-parse",
            daemon=True,
        )
        process.start()
        theirs.close()  # the worker's end lives in the worker only
        worker = cls(process, ours)
        if not ours.poll(WARM_SECONDS):
            worker.kill()
            raise _Died("no answer while warming up")
        worker.pid = worker.call_raw()
        return worker

    def call(self, read: Callable[[bytes], T], raw: bytes, budget: float) -> tuple[bool, Any]:
        """Blocking (run in a thread): send a document, wait for the answer."""
        try:
            self.conn.send((read, raw, budget))
        except OSError as exc:  # BrokenPipeError: it died while idle
            raise _Died(str(exc)) from None
        answer: tuple[bool, Any] = self.call_raw()
        return answer

    def call_raw(self) -> Any:
        try:
            return self.conn.recv()
        except (EOFError, OSError) as exc:
            raise _Died(type(exc).__name__) from None

    def kill(self) -> None:
        """Blocking (run in a thread): SIGKILL, then reap. The pipe is left to be closed
        when the last reference goes: a thread may still be reading it, and closing
        its descriptor under it could hand that number to another file."""
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.join(STOP_SECONDS)

    def stop(self) -> None:
        """Blocking (run in a thread): SIGTERM (a worker holds nothing worth finishing),
        then SIGKILL if it has not gone within STOP_SECONDS."""
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        self.process.join(STOP_SECONDS)
        if self.process.is_alive():
            self.kill()


class _Slot:
    """A place for one worker; empty until a document needs it, and again once its
    worker was killed (the next document starts another)."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.worker: _Worker | None = None


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
        # One thread per slot waits on its pipe; the loop's default executor stays free.
        self._threads = ThreadPoolExecutor(max(workers, 1), thread_name_prefix="eadrcc-parse")
        self.busy = 0
        self.counters = dict.fromkeys(COUNTERS, 0)
        self._crashes: dict[bytes, int] = {}  # digest -> times it stopped a reader (oldest first)

    def offloads(self, raw: bytes) -> bool:
        return self.workers > 0 and len(raw) >= self.inline_below

    def pids(self) -> list[int]:
        """The live workers' process ids (for /metrics and tests)."""
        return [s.worker.pid for s in self._slots if s.worker is not None]

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
        # Hashed only while some document is remembered: a large one costs ~2 ms a MB.
        digest = _digest(read, raw) if self._crashes else None
        if digest is not None and self._crashes.get(digest, 0) >= 2:
            self.counters["refused_crashing"] += 1
            raise _stops_the_reader()
        self.counters["offloaded"] += 1
        slot = await self._idle.get()
        self.busy += 1
        try:
            ok, value = await self._on(slot, read, raw, digest)
        finally:
            self.busy -= 1
            self._idle.put_nowait(slot)
        if not ok:
            raise value
        result: T = value
        return result

    async def _on(
        self, slot: _Slot, read: Callable[[bytes], T], raw: bytes, digest: bytes | None
    ) -> tuple[bool, Any]:
        loop = asyncio.get_running_loop()
        worker = await self._ready(slot)
        call = loop.run_in_executor(self._threads, worker.call, read, raw, self.budget)
        try:
            answer: tuple[bool, Any] = await asyncio.wait_for(call, self.budget * WALL_FACTOR)
        except asyncio.CancelledError:  # the request went away: its document's work too
            await self._replace(slot, "cancelled")
            raise
        except TimeoutError:  # no answer at all: a stopped or starved worker
            answer = (False, _OverBudget())
        except _Died:
            self.counters["crashed"] += 1
            await self._replace(slot, "crashed")
            if self._crashed(digest or _digest(read, raw)) >= 2:
                raise _stops_the_reader() from None
            raise Unavailable(
                "the document reader stopped while reading this document; nothing was "
                "stored and a new reader was started: send it again",
                headers={"Retry-After": "1"},
            ) from None
        ok, value = answer
        if not ok and isinstance(value, _OverBudget):
            self.counters["over_budget"] += 1
            await self._replace(slot, "over_budget")  # whatever it built up goes with it
            raise TooSlowToRead(
                f"the document took longer than {self.budget:g} s to read (parse and "
                "validate); nothing was stored"
            )
        return answer

    def _crashed(self, digest: bytes) -> int:
        """Count one more stop for this document; the times it has stopped a reader."""
        times = self._crashes.pop(digest, 0) + 1
        self._crashes[digest] = times  # newest last
        while len(self._crashes) > CRASH_MEMORY:
            del self._crashes[next(iter(self._crashes))]
        return times

    async def _ready(self, slot: _Slot) -> _Worker:
        if slot.worker is not None and slot.worker.process.is_alive():
            return slot.worker
        if slot.worker is not None:  # died while idle (OOM killer, kill): not a document's doing
            await self._replace(slot, "died_idle")
        loop = asyncio.get_running_loop()
        try:
            worker = await loop.run_in_executor(
                self._threads, _Worker.start, self._log, self._warm_up
            )
        except (_Died, OSError) as exc:
            log.error("parse_worker_start_failed", slot=slot.number, error=str(exc))
            raise Unavailable(
                "no document reader could be started; nothing was stored",
                headers={"Retry-After": "5"},
            ) from None
        slot.worker = worker
        self.counters["started"] += 1
        log.info("parse_worker_started", slot=slot.number, pid=worker.pid)
        return worker

    async def _replace(self, slot: _Slot, why: str) -> None:
        """Kill the slot's process; the slot's next document starts a new one."""
        worker, slot.worker = slot.worker, None
        if worker is None:
            return
        log.warning("parse_worker_replaced", slot=slot.number, pid=worker.pid, reason=why)
        # Killed from this thread at once (a signal); joined off the loop.
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, signal.SIGKILL)
        await asyncio.get_running_loop().run_in_executor(None, worker.kill)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        for slot in self._slots:
            worker, slot.worker = slot.worker, None
            if worker is not None:
                await loop.run_in_executor(None, worker.stop)
        self._threads.shutdown(wait=False, cancel_futures=True)


def _digest(read: Callable[[bytes], Any], raw: bytes) -> bytes:
    """A document as read by one reader (the same bytes may be CAP to one, a feed to
    another)."""
    name = f"{read.__module__}.{read.__qualname__}".encode()
    return hashlib.sha256(name + b"\0" + raw).digest()


def _stops_the_reader() -> StopsTheReader:
    return StopsTheReader(
        "reading this document stopped the reader twice; it will not be read again "
        "(nothing was stored): check it, or send a corrected document"
    )


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
