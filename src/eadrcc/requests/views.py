from __future__ import annotations

from aiohttp import web

from eadrcc.appkeys import POOL
from eadrcc.circulation import service as circulation
from eadrcc.idempotency import check_key
from eadrcc.policy import authorize
from eadrcc.requests import service
from eadrcc.requests.models import Need, NeedUpdate, Request, RequestCreate
from eadrcc.web import Routes, parse_body, principal, respond

routes = Routes("requests")
IDEMPOTENT = {409: "Idempotency-Key reused with another body, or the emergency is closed"}


@routes.post(
    "/api/v1/emergencies/{id}/requests",
    summary="File a request for assistance",
    body=RequestCreate,
    response=Request,
    status=201,
    extra_responses=IDEMPOTENT,
)
async def create_request(request: web.Request) -> web.Response:
    key = check_key(request.headers.get("Idempotency-Key"))
    body = await parse_body(request, RequestCreate)
    status, answer = await service.create(
        pool=request.app[POOL],
        who=principal(request),
        emergency_id=request.match_info["id"],
        body=body,
        idempotency_key=key,
    )
    return respond(answer, status=status, headers={"Location": f"/api/v1/requests/{answer['id']}"})


@routes.get("/api/v1/requests/{id}", summary="An RFA with each need's picture", response=Request)
async def get_request(request: web.Request) -> web.Response:
    who = principal(request)
    authorize(who, "request.read")
    async with request.app[POOL].acquire() as conn:
        rfa = await service.get(conn=conn, request_id=request.match_info["id"], who=who)
    # A POC of a nation it was circulated to has opened it: its row becomes `seen`.
    # (Its response.updated wakes the event hubs when it commits, like any write.)
    await circulation.mark_seen(
        pool=request.app[POOL],
        who=who,
        emergency_id=rfa.emergency_id,
        requesting_country=rfa.requesting_country,
    )
    return respond(rfa)


@routes.patch(
    "/api/v1/requests/{id}/needs/{need_id}",
    summary="Amend a need (quantity, priority, needed_by) or cancel it",
    body=NeedUpdate,
    response=Need,
    extra_responses={409: "Not possible now"},
)
async def amend_need(request: web.Request) -> web.Response:
    body = await parse_body(request, NeedUpdate)
    need = await service.amend(
        pool=request.app[POOL],
        who=principal(request),
        request_id=request.match_info["id"],
        need_id=request.match_info["need_id"],
        body=body,
    )
    return respond(need)
