from __future__ import annotations

from aiohttp import web

from eadrcc.appkeys import OFFERS, POOL
from eadrcc.idempotency import check_key
from eadrcc.offers import service
from eadrcc.offers.models import Offer, OfferCreate, OfferCreated, WithdrawBody
from eadrcc.web import Routes, parse_body, principal, respond

routes = Routes("offers")


@routes.post(
    "/api/v1/offers",
    summary="Offer assistance; matches are proposed at once",
    body=OfferCreate,
    response=OfferCreated,
    status=201,
    extra_responses={409: "Idempotency-Key reused with another body, or closed"},
)
async def create_offer(request: web.Request) -> web.Response:
    key = check_key(request.headers.get("Idempotency-Key"))
    body = await parse_body(request, OfferCreate)
    status, answer = await request.app[OFFERS].create(
        who=principal(request), body=body, idempotency_key=key
    )
    return respond(answer, status=status, headers={"Location": f"/api/v1/offers/{answer['id']}"})


@routes.get("/api/v1/offers/{id}", summary="One offer with its items", response=Offer)
async def get_offer(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        return respond(
            await service.get(conn=conn, who=principal(request), offer_id=request.match_info["id"])
        )


@routes.post(
    "/api/v1/offers/{id}/withdraw",
    summary="Withdraw an offer",
    body=WithdrawBody,
    response=Offer,
    extra_responses={409: "Already withdrawn"},
)
async def withdraw_offer(request: web.Request) -> web.Response:
    body = await parse_body(request, WithdrawBody)
    offer = await service.withdraw(
        pool=request.app[POOL],
        who=principal(request),
        offer_id=request.match_info["id"],
        reason=body.reason,
    )
    return respond(offer)
