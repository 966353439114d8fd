"""Running the hub: the app on a TCP port until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import signal

import structlog
from aiohttp import web

from eadrcc import auth, db, demo
from eadrcc.app import create_app
from eadrcc.appkeys import POOL
from eadrcc.config import Settings
from eadrcc.seed import seed_reference

log = structlog.get_logger(__name__)


def serve(settings: Settings, *, demo: bool = False, auto_migrate: bool = True) -> None:
    asyncio.run(_serve(settings, demo=demo, auto_migrate=auto_migrate))


async def _serve(settings: Settings, *, demo: bool, auto_migrate: bool) -> None:
    app = create_app(settings, auto_migrate=auto_migrate)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()  # starts the database, migrates, opens the pool
    try:
        if demo:
            await _load_demo(app)
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        url = f"http://{settings.host}:{_bound_port(runner, settings.port)}"
        log.info("serving", url=url, console=f"{url}/console")
        print(f"eadrcc is running at {url}  (console: {url}/console)", flush=True)
        await _until_stopped()
    finally:
        log.info("shutting_down")
        await runner.cleanup()


async def _load_demo(app: web.Application) -> None:
    counts = await seed_reference(app[POOL])
    await demo.load(app[POOL])
    async with db.transaction(app[POOL]) as conn:
        issued = await auth.create(conn=conn, role=auth.Role.DUTY_OFFICER, name="demo duty officer")
    log.info("demo_loaded", **counts)
    print(f"demo duty-officer token (sign in with it): {issued.token}", flush=True)


def _bound_port(runner: web.AppRunner, wanted: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    return wanted


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
