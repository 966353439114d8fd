"""Running the hub: the app on a TCP port until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import errno
import signal
import socket

import structlog
from aiohttp import web

from eadrcc import auth, db, demo
from eadrcc.app import create_app
from eadrcc.appkeys import POOL
from eadrcc.config import ConfigError, Settings
from eadrcc.readtimeouts import HubRunner
from eadrcc.seed import seed_reference

log = structlog.get_logger(__name__)


DEMO_TOKEN_NAME = "demo duty officer"


def serve(
    settings: Settings, *, demo: bool = False, auto_migrate: bool = True, reuse_port: bool = False
) -> None:
    # Before the database starts or a demo token is minted: a busy port is the
    # commonest start-up failure, and it deserves one clear line. (The workers of
    # `serve --workers N` share the port on purpose: their parent checked it.)
    if not reuse_port:
        check_port(settings.host, settings.port)
    asyncio.run(_serve(settings, demo=demo, auto_migrate=auto_migrate, reuse_port=reuse_port))


def check_port(host: str, port: int) -> None:
    """Raise ConfigError naming a free port to try when host:port is taken."""
    if port and not _can_bind(host, port):
        hint = next((p for p in range(port + 1, port + 50) if _can_bind(host, p)), None)
        advice = f"; try --port {hint}" if hint else ""
        raise ConfigError(f"port {port} is in use on {host}{advice}")


def _can_bind(host: str, port: int) -> bool:
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return False
                raise
    return True


async def _serve(settings: Settings, *, demo: bool, auto_migrate: bool, reuse_port: bool) -> None:
    app = create_app(settings, auto_migrate=auto_migrate)
    # With read deadlines; an idle keep-alive connection closes after 75 s (what
    # aiohttp's run_app uses), not the 3,630 s a bare runner would allow.
    runner = HubRunner(app, handle_signals=False, access_log=None, keepalive_timeout=75.0)
    await runner.setup()  # starts the database, migrates, opens the pool
    try:
        if demo:
            await _load_demo(app)
        # reuse_port: the workers of `serve --workers N` share the port (workers.py).
        site = web.TCPSite(runner, settings.host, settings.port, reuse_port=reuse_port or None)
        try:
            await site.start()
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise ConfigError(f"port {settings.port} is in use on {settings.host}") from None
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
        # One demo token at a time: each start revokes the previous one.
        for row in await auth.list_tokens(conn=conn):
            if row["name"] == DEMO_TOKEN_NAME and row["revoked_at"] is None:
                await auth.revoke(conn=conn, token_id=row["id"])
        issued = await auth.create(conn=conn, role=auth.Role.DUTY_OFFICER, name=DEMO_TOKEN_NAME)
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
