from __future__ import annotations

from aiohttp import web

from eadrcc.appkeys import POOL, SETTINGS
from eadrcc.capacities import export, service
from eadrcc.capacities.models import (
    Capacity,
    CapacityCreate,
    CapacityOffer,
    CapacityQuery,
    CapacityUpdate,
)
from eadrcc.errors import NotAcceptable
from eadrcc.idempotency import check_key
from eadrcc.offers.models import OfferCreated
from eadrcc.web import Routes, parse_body, parse_query, principal, respond

routes = Routes("capacities")
CHANGE = {409: "A public record, or already withdrawn"}


@routes.post(
    "/api/v1/capacities",
    summary="Declare a standing national capacity",
    body=CapacityCreate,
    response=Capacity,
    status=201,
)
async def declare(request: web.Request) -> web.Response:
    body = await parse_body(request, CapacityCreate)
    created = await service.create(
        pool=request.app[POOL],
        who=principal(request),
        body=body,
        remind_days=request.app[SETTINGS].capacity_reminder_days,
    )
    return respond(created, status=201, headers={"Location": f"/api/v1/capacities/{created.id}"})


@routes.get(
    "/api/v1/capacities",
    summary="The register: declared capacities and known ones from public lists "
    "(JSON, or CSV with Accept: text/csv)",
    query=CapacityQuery,
    response=list[Capacity],
    media_types=("application/json", "text/csv"),
    extra_responses={406: "Neither JSON nor CSV acceptable"},
)
async def list_capacities(request: web.Request) -> web.Response:
    query = parse_query(request, CapacityQuery)
    as_csv = _wants_csv(request.headers.get("Accept", "application/json"))
    async with request.app[POOL].acquire() as conn:
        found = await service.search(conn=conn, who=principal(request), query=query)
    if not as_csv:
        return respond(found)
    return web.Response(
        text=export.csv_text(found),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="capacities.csv"'},
    )


@routes.get("/api/v1/capacities/{id}", summary="One capacity", response=Capacity)
async def get_capacity(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        found = await service.get(
            conn=conn, who=principal(request), capacity_id=request.match_info["id"]
        )
    return respond(found)


@routes.patch(
    "/api/v1/capacities/{id}",
    summary="Change a declared capacity (history kept)",
    body=CapacityUpdate,
    response=Capacity,
    extra_responses=CHANGE,
)
async def change(request: web.Request) -> web.Response:
    body = await parse_body(request, CapacityUpdate)
    changed = await service.update(
        pool=request.app[POOL],
        who=principal(request),
        capacity_id=request.match_info["id"],
        body=body,
        remind_days=request.app[SETTINGS].capacity_reminder_days,
    )
    return respond(changed)


@routes.delete(
    "/api/v1/capacities/{id}",
    summary="Withdraw a declared capacity (kept, never suggested again)",
    response=Capacity,
    extra_responses=CHANGE,
)
async def withdraw(request: web.Request) -> web.Response:
    withdrawn = await service.withdraw(
        pool=request.app[POOL], who=principal(request), capacity_id=request.match_info["id"]
    )
    return respond(withdrawn)


@routes.post(
    "/api/v1/capacities/{id}/offer",
    summary="Offer a declared capacity to an emergency in one step (answers as POST /offers)",
    body=CapacityOffer,
    response=OfferCreated,
    status=201,
    extra_responses={409: "Idempotency-Key reused with another body; capacity not offerable"},
)
async def offer(request: web.Request) -> web.Response:
    key = check_key(request.headers.get("Idempotency-Key"))
    body = await parse_body(request, CapacityOffer)
    status, answer = await service.offer(
        pool=request.app[POOL],
        who=principal(request),
        capacity_id=request.match_info["id"],
        body=body,
        idempotency_key=key,
    )
    return respond(answer, status=status, headers={"Location": f"/api/v1/offers/{answer['id']}"})


def _wants_csv(accept: str) -> bool:
    """CSV only when asked for before JSON; anything else acceptable gets JSON."""
    kinds = [p.split(";")[0].strip().lower() for p in accept.split(",")]
    for kind in kinds:
        if kind == "text/csv":
            return True
        if kind in ("application/json", "*/*", "application/*", "") or kind.endswith("+json"):
            return False
    raise NotAcceptable("available formats: application/json, text/csv")
