from __future__ import annotations

from aiohttp import web

from eadrcc.appkeys import POOL, WEBHOOK_GUARD
from eadrcc.subscriptions import service
from eadrcc.subscriptions.models import (
    Channel,
    Delivery,
    DeliveryQuery,
    Subscription,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionQuery,
    SubscriptionResume,
)
from eadrcc.subscriptions.worker import DELIVERY
from eadrcc.web import Routes, parse_body, parse_query, principal, respond

routes = Routes("subscriptions")


@routes.post(
    "/api/v1/subscriptions",
    summary="Subscribe a webhook or an e-mail address to a nation's (or the staff) view",
    body=SubscriptionCreate,
    response=SubscriptionCreated,
    status=201,
)
async def create_subscription(request: web.Request) -> web.Response:
    body = await parse_body(request, SubscriptionCreate)
    created = await service.create(
        pool=request.app[POOL],
        who=principal(request),
        body=body,
        guard=request.app[WEBHOOK_GUARD],
    )
    return respond(created, status=201, headers={"Location": f"/api/v1/subscriptions/{created.id}"})


@routes.get(
    "/api/v1/subscriptions",
    summary="Subscriptions the caller may see (a POC: its country's; an integration: its own)",
    query=SubscriptionQuery,
    response=list[Subscription],
)
async def list_subscriptions(request: web.Request) -> web.Response:
    query = parse_query(request, SubscriptionQuery)
    async with request.app[POOL].acquire() as conn:
        found = await service.list_for(conn=conn, who=principal(request), country=query.country)
    return respond(found)


@routes.delete(
    "/api/v1/subscriptions/{id}", summary="Remove a subscription", status=204, response=None
)
async def delete_subscription(request: web.Request) -> web.Response:
    await service.delete(
        pool=request.app[POOL], who=principal(request), subscription_id=request.match_info["id"]
    )
    return web.Response(status=204)


@routes.post(
    "/api/v1/subscriptions/{id}/resume",
    summary="Resume a suspended subscription, from its cursor (default) or from the head",
    body=SubscriptionResume,
    response=Subscription,
)
async def resume_subscription(request: web.Request) -> web.Response:
    body = await parse_body(request, SubscriptionResume)
    resumed = await service.resume(
        pool=request.app[POOL],
        who=principal(request),
        subscription_id=request.match_info["id"],
        skip=body.start == "head",
    )
    if (worker := request.app.get(DELIVERY)) is not None:
        worker.wake()  # claimed at once here rather than at the next round
    return respond(resumed)


@routes.get(
    "/api/v1/subscriptions/{id}/deliveries",
    summary="Recent delivery attempts, newest first",
    query=DeliveryQuery,
    response=list[Delivery],
)
async def list_deliveries(request: web.Request) -> web.Response:
    query = parse_query(request, DeliveryQuery)
    async with request.app[POOL].acquire() as conn:
        found = await service.deliveries(
            conn=conn,
            who=principal(request),
            subscription_id=request.match_info["id"],
            limit=query.limit,
        )
    return respond(found)


@routes.get(
    "/api/v1/channels",
    summary="Per nation: whether it has a working delivery channel, last success, failing since",
    response=list[Channel],
)
async def list_channels(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        return respond(await service.channels(conn=conn, who=principal(request)))
