"""create_app(settings): the one place where the hub is wired together."""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from eadrcc import db, openapi, ops
from eadrcc.alerts import geography
from eadrcc.alerts import views as alert_views
from eadrcc.alerts.poller import feed_pollers
from eadrcc.alerts.ratelimit import RateLimiter
from eadrcc.appkeys import (
    DATABASE_URL,
    HUB,
    LIVE_SOCKETS,
    METRICS,
    OFFERS,
    POOL,
    SETTINGS,
    SOCKETS,
    TOKEN_SOCKETS,
    TOKENS,
    WEBHOOK_GUARD,
)
from eadrcc.capacities import views as capacity_views
from eadrcc.capacities.reminders import capacity_reminders
from eadrcc.circulation import views as circulation_views
from eadrcc.circulation.receipts import console_receipts
from eadrcc.circulation.scheduler import response_scheduler
from eadrcc.config import Settings
from eadrcc.console import views as console_views
from eadrcc.edxl import views as edxl_views
from eadrcc.emergencies import views as emergency_views
from eadrcc.events import socket as event_socket
from eadrcc.events import views as event_views
from eadrcc.events.hub import EventHub
from eadrcc.events.lean import LiveSockets
from eadrcc.matching import views as matching_views
from eadrcc.metrics import Metrics
from eadrcc.migrate import MigrationError, migrate, pending
from eadrcc.offers import views as offer_views
from eadrcc.offers.batching import OfferBatcher
from eadrcc.parsepool import parse_pool
from eadrcc.partners import views as partner_views
from eadrcc.requests import views as request_views
from eadrcc.sitrep import views as sitrep_views
from eadrcc.subscriptions import views as subscription_views
from eadrcc.subscriptions.daily import daily_sitreps
from eadrcc.subscriptions.outbound import Guard
from eadrcc.subscriptions.worker import delivery_worker
from eadrcc.tokencache import TokenCache
from eadrcc.web import Route, Routes, request_context

log = structlog.get_logger(__name__)

ROUTE_TABLES: list[Routes] = [
    ops.routes,
    partner_views.routes,
    event_views.routes,
    event_socket.routes,
    emergency_views.routes,
    request_views.routes,
    offer_views.routes,
    matching_views.routes,
    sitrep_views.routes,
    alert_views.routes,
    console_views.routes,
    edxl_views.routes,
    capacity_views.routes,
    circulation_views.routes,
    subscription_views.routes,
]


def all_routes() -> list[Route]:
    return [route for table in ROUTE_TABLES for route in table.items]


def create_app(settings: Settings, *, auto_migrate: bool = True) -> web.Application:
    app = web.Application(middlewares=[request_context], client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[METRICS].watch_pool(lambda: app.get(POOL))
    routes = all_routes()
    for route in routes:
        app.router.add_route(route.method, route.path, route.handler)
    app[ops.OPENAPI] = openapi.build(routes)
    app[ops.READINESS_CHECKS] = {}
    app[SOCKETS] = weakref.WeakSet()
    app[TOKEN_SOCKETS] = event_socket.TokenSockets()
    app[LIVE_SOCKETS] = LiveSockets(settings.ws_ping_seconds, app[TOKEN_SOCKETS])
    app[alert_views.LIMITER] = RateLimiter(settings.alert_rate_per_minute, settings.alert_burst)
    app.on_startup.append(geography.index_at_start)  # country shapes, indexed once
    app.cleanup_ctx.append(_database(auto_migrate))
    app.cleanup_ctx.append(_event_hub)
    app.cleanup_ctx.append(_offer_batcher)
    app.cleanup_ctx.append(parse_pool)  # large documents read in worker processes
    app.cleanup_ctx.append(feed_pollers)  # after the hub and the parse pool: pollers use both
    app.cleanup_ctx.append(capacity_reminders)  # after the hub: its events wake it
    app.cleanup_ctx.append(console_receipts)  # after the hub: it watches what the hub pushes
    app.cleanup_ctx.append(response_scheduler)
    app[WEBHOOK_GUARD] = Guard(settings.allowed_webhook_hosts)
    app.cleanup_ctx.append(delivery_worker)  # after the hub: it wakes on new events
    app.cleanup_ctx.append(daily_sitreps)
    app.on_shutdown.append(event_socket.close_all)
    return app


def _database(auto_migrate: bool):  # type: ignore[no-untyped-def]
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        url = await db.resolve_url(settings)
        app[DATABASE_URL] = url
        conn = await db.connect(url)
        try:
            if auto_migrate:
                await migrate(conn)
            elif waiting := await pending(conn):
                raise MigrationError(f"migrations {waiting} are pending: run `eadrcc migrate`")
        finally:
            await conn.close()
        app[POOL] = await db.create_pool(
            url, min_size=settings.pool_min_size, max_size=settings.pool_max_size
        )
        yield
        await app[POOL].close()

    return ctx


async def _offer_batcher(app: web.Application) -> AsyncIterator[None]:
    batcher = OfferBatcher(app[POOL])
    batcher.start()
    app[OFFERS] = batcher
    app[METRICS].add_gauges(
        "eadrcc_offer_batches", "New offers recorded in batches", batcher.gauges
    )
    yield
    await batcher.stop()


async def _event_hub(app: web.Application) -> AsyncIterator[None]:
    hub = EventHub(
        app[POOL],
        app[DATABASE_URL],
        poll_seconds=app[SETTINGS].event_poll_seconds,
        heartbeat_seconds=app[SETTINGS].ws_heartbeat_seconds,
    )
    await hub.start()
    app[HUB] = hub
    app[ops.READINESS_CHECKS]["event_listener"] = hub.ready
    app[METRICS].add_gauges("eadrcc_event_hub", "Event hub state and counters", hub.gauges())
    tokens = TokenCache(
        size=app[SETTINGS].token_cache_size,
        live=hub.live,
        ttl=app[SETTINGS].token_cache_seconds,
    )
    hub.on_read.append(tokens.read)
    hub.on_lost.append(tokens.forget)
    hub.on_token.append(app[TOKEN_SOCKETS].act)  # revoked tokens' sockets close (4001)
    app[TOKENS] = tokens
    app[METRICS].add_gauges("eadrcc_tokens", "Token cache", tokens.gauges())
    app[METRICS].add_gauges(
        "eadrcc_transaction_retries",
        "Transactions run again, by the error that stopped them (since the process started)",
        lambda: dict(db.RETRIES),
        label="error",
    )
    yield
    await hub.stop()
