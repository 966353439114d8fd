"""The expiry reminder sweep: every instance runs it, one at a time holds it (an
advisory lock per sweep), and a reminder is marked sent in the transaction that
emits its event, so none is lost on a restart and none goes out twice."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from eadrcc.appkeys import POOL, SETTINGS
from eadrcc.capacities import service

log = structlog.get_logger(__name__)


async def capacity_reminders(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: the sweep loop, stopped with the app."""
    task = asyncio.create_task(_run(app), name="capacity-reminders")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _run(app: web.Application) -> None:
    every = app[SETTINGS].capacity_sweep_seconds
    while True:
        try:
            # The events' after-commit hook wakes the hub: consoles and
            # subscriptions get the reminders at once.
            await service.send_due_reminders(pool=app[POOL])
        except Exception:  # a database outage must not end the loop
            log.exception("capacity_reminder_sweep_failed")
        await asyncio.sleep(every)
