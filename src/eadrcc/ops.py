"""Operations endpoints: liveness, readiness, metrics and the API description."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from eadrcc.appkeys import METRICS, POOL
from eadrcc.events.log import q as events_q
from eadrcc.web import Routes, respond

routes = Routes("ops")
OPENAPI = web.AppKey("openapi", dict[str, Any])
READINESS_CHECKS = web.AppKey("readiness_checks", dict[str, Any])


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


@routes.get("/healthz", summary="The process is up", response=Health, auth=False)
async def healthz(_request: web.Request) -> web.Response:
    return respond(Health(status="ok"))


@routes.get(
    "/readyz",
    summary="Database reachable and event listener running",
    response=Health,
    auth=False,
    extra_responses={503: "Not ready; `checks` says why"},
)
async def readyz(request: web.Request) -> web.Response:
    checks = {"database": await _database_ok(request.app)}
    for name, check in request.app.get(READINESS_CHECKS, {}).items():
        checks[name] = check()
    ready = all(v == "ok" for v in checks.values())
    return respond(
        Health(status="ready" if ready else "not ready", checks=checks),
        status=200 if ready else 503,
    )


async def _database_ok(app: web.Application) -> str:
    try:
        async with asyncio.timeout(2):
            async with app[POOL].acquire() as conn:
                await conn.fetchval("SELECT 1")
        return "ok"
    except Exception as exc:  # any failure means not ready; say which
        return f"failed: {type(exc).__name__}"


@routes.get("/metrics", summary="Prometheus metrics (text format)", auth=False)
async def metrics(request: web.Request) -> web.Response:
    metrics = request.app[METRICS]
    with contextlib.suppress(Exception):  # metrics must answer even with the database down
        async with asyncio.timeout(1), request.app[POOL].acquire() as conn:
            metrics.notification_queue.set(await conn.fetchval(events_q.notification_queue_usage))
    body = metrics.render()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4"})


@routes.get("/api/v1/openapi.json", summary="This API, as OpenAPI 3.1", auth=False)
async def openapi(request: web.Request) -> web.Response:
    return respond(request.app[OPENAPI])
