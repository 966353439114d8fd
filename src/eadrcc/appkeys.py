"""Typed application keys: everything create_app() wires, named in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg
from aiohttp import web

from eadrcc.config import Settings

if TYPE_CHECKING:
    from eadrcc.auth import Principal
    from eadrcc.metrics import Metrics

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)
DATABASE_URL = web.AppKey("database_url", str)
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")

# Per request
REQUEST_ID = web.RequestKey("request_id", str)
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal")
