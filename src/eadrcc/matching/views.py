from __future__ import annotations

from aiohttp import web

from eadrcc.appkeys import POOL
from eadrcc.emergencies import service as emergencies
from eadrcc.matching import service, store
from eadrcc.matching.models import (
    AcceptBody,
    CredentialOut,
    DeclineBody,
    DeliverBody,
    DispatchBody,
    Match,
    MatchQuery,
    ResourceTypeOut,
)
from eadrcc.policy import audience, authorize, authorize_kind
from eadrcc.web import Routes, parse_body, parse_query, principal, respond

routes = Routes("matching")
CONFLICT = {409: "Not allowed in the match's current state, or would over-allocate"}


@routes.get(
    "/api/v1/resource-types", summary="The resource taxonomy", response=list[ResourceTypeOut]
)
async def list_resource_types(request: web.Request) -> web.Response:
    authorize(principal(request), "resource_type.read")
    async with request.app[POOL].acquire() as conn:
        return respond(await store.list_types(conn))


@routes.get(
    "/api/v1/credentials",
    summary="The credential codes an offer item may carry, with their names",
    response=list[CredentialOut],
)
async def list_credentials(request: web.Request) -> web.Response:
    authorize(principal(request), "credential.read")
    async with request.app[POOL].acquire() as conn:
        found = await store.credentials(conn)
    return respond([CredentialOut.model_validate(dict(r)) for r in found.values()])


@routes.get(
    "/api/v1/emergencies/{id}/matches",
    summary="Proposals and allocations",
    query=MatchQuery,
    response=list[Match],
)
async def list_matches(request: web.Request) -> web.Response:
    who = principal(request)
    query = parse_query(request, MatchQuery)
    async with request.app[POOL].acquire() as conn:
        emergency = await emergencies.get(conn=conn, emergency_id=request.match_info["id"])
        authorize_kind(who, "match.read")
        found = await store.emergency_matches(
            conn, emergency.id, status=query.status, audience=audience(who)
        )
    return respond(found)


@routes.post(
    "/api/v1/matches/{id}/accept",
    summary="Accept (allocate) all or part",
    body=AcceptBody,
    response=Match,
    extra_responses=CONFLICT,
)
async def accept_match(request: web.Request) -> web.Response:
    body = await parse_body(request, AcceptBody)
    return respond(
        await service.accept(
            pool=request.app[POOL],
            who=principal(request),
            match_id=request.match_info["id"],
            quantity=body.quantity,
        )
    )


@routes.post(
    "/api/v1/matches/{id}/decline",
    summary="Decline a proposal",
    body=DeclineBody,
    response=Match,
    extra_responses=CONFLICT,
)
async def decline_match(request: web.Request) -> web.Response:
    body = await parse_body(request, DeclineBody)
    return respond(
        await service.decline(
            pool=request.app[POOL],
            who=principal(request),
            match_id=request.match_info["id"],
            reason=body.reason,
        )
    )


@routes.post(
    "/api/v1/matches/{id}/dispatch",
    summary="Record that help is on its way",
    body=DispatchBody,
    response=Match,
    extra_responses=CONFLICT,
)
async def dispatch_match(request: web.Request) -> web.Response:
    body = await parse_body(request, DispatchBody)
    return respond(
        await service.dispatch(
            pool=request.app[POOL],
            who=principal(request),
            match_id=request.match_info["id"],
            quantity=body.quantity,
            eta=body.eta,
        )
    )


@routes.post(
    "/api/v1/matches/{id}/deliver",
    summary="Record arrival",
    body=DeliverBody,
    response=Match,
    extra_responses=CONFLICT,
)
async def deliver_match(request: web.Request) -> web.Response:
    body = await parse_body(request, DeliverBody)
    return respond(
        await service.deliver(
            pool=request.app[POOL],
            who=principal(request),
            match_id=request.match_info["id"],
            quantity=body.quantity,
        )
    )
