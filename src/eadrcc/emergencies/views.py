from __future__ import annotations

from aiohttp import web

from eadrcc.appkeys import POOL
from eadrcc.emergencies import service, store
from eadrcc.emergencies.models import Emergency, EmergencyCreate, EmergencyQuery, EmergencyUpdate
from eadrcc.policy import authorize
from eadrcc.web import Routes, parse_body, parse_query, principal, respond

routes = Routes("emergencies")


@routes.post(
    "/api/v1/emergencies",
    summary="Open an emergency",
    body=EmergencyCreate,
    response=Emergency,
    status=201,
)
async def create_emergency(request: web.Request) -> web.Response:
    body = await parse_body(request, EmergencyCreate)
    emergency = await service.create(pool=request.app[POOL], who=principal(request), body=body)
    return respond(
        emergency, status=201, headers={"Location": f"/api/v1/emergencies/{emergency.id}"}
    )


@routes.get(
    "/api/v1/emergencies",
    summary="Emergencies, real before exercises, newest first",
    query=EmergencyQuery,
    response=list[Emergency],
)
async def list_emergencies(request: web.Request) -> web.Response:
    authorize(principal(request), "emergency.read")
    query = parse_query(request, EmergencyQuery)
    async with request.app[POOL].acquire() as conn:
        found = await store.list_all(conn, status=query.status, exercise=query.exercise)
    return respond(found)


@routes.get("/api/v1/emergencies/{id}", summary="One emergency", response=Emergency)
async def get_emergency(request: web.Request) -> web.Response:
    authorize(principal(request), "emergency.read")
    async with request.app[POOL].acquire() as conn:
        return respond(await service.get(conn=conn, emergency_id=request.match_info["id"]))


@routes.patch(
    "/api/v1/emergencies/{id}",
    summary="Promote, close, or re-grade an emergency",
    body=EmergencyUpdate,
    response=Emergency,
    extra_responses={409: "Not allowed now"},
)
async def update_emergency(request: web.Request) -> web.Response:
    body = await parse_body(request, EmergencyUpdate)
    emergency = await service.update(
        pool=request.app[POOL],
        who=principal(request),
        emergency_id=request.match_info["id"],
        body=body,
    )
    return respond(emergency)
