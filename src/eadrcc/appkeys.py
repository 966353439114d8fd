"""Typed application keys: everything create_app() wires, named in one place."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

import asyncpg
from aiohttp import web

from eadrcc.config import Settings

if TYPE_CHECKING:
    from eadrcc.auth import Principal
    from eadrcc.circulation.receipts import Receipts
    from eadrcc.events.hub import EventHub
    from eadrcc.events.lean import LiveSockets
    from eadrcc.events.socket import TokenSockets
    from eadrcc.metrics import Metrics
    from eadrcc.offers.batching import OfferBatcher
    from eadrcc.parsepool import ParsePool
    from eadrcc.subscriptions.outbound import Guard
    from eadrcc.tokencache import TokenCache

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)
DATABASE_URL = web.AppKey("database_url", str)
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
HUB: web.AppKey[EventHub] = web.AppKey("hub")
TOKENS: web.AppKey[TokenCache] = web.AppKey("tokens")
RECEIPTS: web.AppKey[Receipts] = web.AppKey("receipts")
WEBHOOK_GUARD: web.AppKey[Guard] = web.AppKey("webhook_guard")
SOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("sockets")
TOKEN_SOCKETS: web.AppKey[TokenSockets] = web.AppKey("token_sockets")
PARSER: web.AppKey[ParsePool] = web.AppKey("parser")
LIVE_SOCKETS: web.AppKey[LiveSockets] = web.AppKey("live_sockets")
OFFERS: web.AppKey[OfferBatcher] = web.AppKey("offers")

# Per request
REQUEST_ID = web.RequestKey("request_id", str)
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal")
