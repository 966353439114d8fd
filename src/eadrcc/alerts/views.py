from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from pydantic import BaseModel, Field

from eadrcc.alerts import reading, service, signature, store
from eadrcc.alerts.models import Alert, AlertIn, AlertQuery
from eadrcc.alerts.ratelimit import RateLimiter
from eadrcc.alerts.reading import ReadAlert
from eadrcc.appkeys import PARSER, POOL, SETTINGS
from eadrcc.auth import Role
from eadrcc.errors import NotFound, UnsupportedMediaType
from eadrcc.policy import authorize
from eadrcc.web import Routes, parse_query, principal, read_body, respond

routes = Routes("alerts")
LIMITER = web.AppKey("alert_limiter", RateLimiter)
XML_TYPES = {"application/cap+xml", "application/xml", "text/xml"}


class AlertGroup(BaseModel):
    id: str
    hazard: str
    emergency_id: str | None
    previous_emergency_ids: list[str] = Field(
        description="closed watches this event was attached to before, oldest first"
    )
    external_ids: dict[str, str]
    alerts: list[Alert]


@routes.post(
    "/api/v1/alerts",
    summary="Receive a CAP 1.2/1.1 alert (XML) or an alert in JSON",
    body=AlertIn,
    response=Alert,
    status=201,
    media_types=("application/cap+xml", "application/xml", "application/json"),
    extra_responses={
        200: "Already received (same sender, identifier, sent)",
        415: "Not XML or JSON",
        422: "Not a valid alert, or it took longer than EADRCC_PARSE_SECONDS to read",
        429: "Rate limited (Retry-After)",
        503: "The document reader stopped while reading it (Retry-After); nothing stored",
    },
)
async def receive_alert(request: web.Request) -> web.Response:
    who = principal(request)
    authorize(who, "alert.create")
    settings = request.app[SETTINGS]
    request.app[LIMITER].take(who.token_id)
    raw = await read_body(request)
    if who.role is Role.INTEGRATION:
        sig = request.headers.get("X-EADRCC-Signature")
        signature.verify(
            secrets=who.secrets,
            timestamp=request.headers.get("X-EADRCC-Timestamp"),
            signature=sig,
            body=raw,
            window_seconds=settings.signature_window_seconds,
        )
        await service.check_replay(
            pool=request.app[POOL],
            token_id=who.token_id,
            signature=sig or "",
            window_seconds=settings.signature_window_seconds,
        )
    read, text = await _read(request, raw)
    stored, created = await service.ingest(
        pool=request.app[POOL],
        alert=read.alert,
        actor=who.actor,
        raw=text,
        max_age=timedelta(hours=settings.alert_max_age_hours),
        touched=read.touched,
        area_json=read.area_json,
    )
    return respond(
        stored, status=201 if created else 200, headers={"Location": f"/api/v1/alerts/{stored.id}"}
    )


async def _read(request: web.Request, raw: bytes) -> tuple[ReadAlert, str]:
    """The alert and the text stored as sent; large documents are read off the loop."""
    if request.content_type in XML_TYPES:
        read = await request.app[PARSER].run(reading.read_cap, raw)
        return read, raw.decode("utf-8", errors="replace")
    if request.content_type == "application/json":
        read = await request.app[PARSER].run(reading.read_json, raw)
        return read, raw.decode()  # read_json proved it UTF-8
    raise UnsupportedMediaType("send application/cap+xml, application/xml or application/json")


@routes.get(
    "/api/v1/alerts",
    summary="Alerts, newest first, filterable",
    query=AlertQuery,
    response=list[Alert],
)
async def list_alerts(request: web.Request) -> web.Response:
    authorize(principal(request), "alert.read")
    query = parse_query(request, AlertQuery)
    async with request.app[POOL].acquire() as conn:
        return respond(await store.list_alerts(conn, query))


@routes.get("/api/v1/alerts/{id}", summary="One alert", response=Alert)
async def get_alert(request: web.Request) -> web.Response:
    authorize(principal(request), "alert.read")
    async with request.app[POOL].acquire() as conn:
        found = await store.get(conn, request.match_info["id"])
    if found is None:
        raise NotFound(f"no alert {request.match_info['id']!r}")
    return respond(found)


@routes.post("/api/v1/alerts/{id}/acknowledge", summary="Acknowledge an alert", response=Alert)
async def acknowledge_alert(request: web.Request) -> web.Response:
    who = principal(request)
    authorize(who, "alert.triage")
    return respond(
        await service.acknowledge(
            pool=request.app[POOL], alert_id=request.match_info["id"], actor=who.actor
        )
    )


@routes.get(
    "/api/v1/alert-groups/{id}",
    summary="One real-world event and all its alerts",
    response=AlertGroup,
)
async def get_group(request: web.Request) -> web.Response:
    authorize(principal(request), "alert.read")
    async with request.app[POOL].acquire() as conn:
        group = await store.group(conn, request.match_info["id"])
        if group is None:
            raise NotFound(f"no alert group {request.match_info['id']!r}")
        members = await store.list_alerts(conn, AlertQuery(group_id=group["id"], limit=1000))
    return respond(
        AlertGroup(
            id=group["id"],
            hazard=group["hazard"],
            emergency_id=group["emergency_id"],
            previous_emergency_ids=group["previous_emergency_ids"],
            external_ids=group["external_ids"],
            alerts=members,
        )
    )
