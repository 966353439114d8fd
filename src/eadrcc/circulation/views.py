from __future__ import annotations

import re

from aiohttp import web

from eadrcc.appkeys import POOL
from eadrcc.circulation import service
from eadrcc.circulation.models import (
    Distribution,
    DistributionUpdate,
    MatrixRow,
    Response,
    ResponseUpdate,
)
from eadrcc.errors import NotFound
from eadrcc.web import Routes, parse_body, principal, respond

routes = Routes("circulation")
_ID = re.compile(r"^[a-z]{2,5}_[0-9a-z]{10,40}$")
_ISO3 = re.compile(r"^[A-Z]{3}$")


def _emergency_id(request: web.Request) -> str:
    """The path's emergency id; one that cannot be an id is simply not found."""
    value = request.match_info["id"]
    if not _ID.match(value):
        raise NotFound(f"no emergency {value!r}")
    return value


def _country(request: web.Request) -> str:
    value = request.match_info["country"]
    if not _ISO3.match(value):
        raise NotFound(f"no Ally or partner {value!r}")
    return value


@routes.get(
    "/api/v1/emergencies/{id}/distribution",
    summary="Who this emergency's RFAs are circulated to",
    response=Distribution,
)
async def get_distribution(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        found = await service.get_distribution(
            conn=conn, who=principal(request), emergency_id=_emergency_id(request)
        )
    return respond(found)


@routes.put(
    "/api/v1/emergencies/{id}/distribution",
    summary="Set who this emergency's RFAs are circulated to (nations added get open RFAs now)",
    body=DistributionUpdate,
    response=Distribution,
    extra_responses={409: "The emergency is closed"},
)
async def put_distribution(request: web.Request) -> web.Response:
    body = await parse_body(request, DistributionUpdate)
    saved = await service.set_distribution(
        pool=request.app[POOL],
        who=principal(request),
        emergency_id=_emergency_id(request),
        body=body,
    )
    return respond(saved)


@routes.get(
    "/api/v1/emergencies/{id}/responses",
    summary="The response matrix: each nation the RFAs went to and how it answered",
    response=list[MatrixRow],
)
async def get_responses(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        rows = await service.matrix(
            conn=conn, who=principal(request), emergency_id=_emergency_id(request)
        )
    return respond(rows)


@routes.post(
    "/api/v1/emergencies/{id}/responses/{country}",
    summary="A nation acknowledges the RFAs, or says it is unable to assist (with a reason)",
    body=ResponseUpdate,
    response=Response,
    extra_responses={409: "Nothing was circulated to that nation, or it has help on offer"},
)
async def post_response(request: web.Request) -> web.Response:
    body = await parse_body(request, ResponseUpdate)
    row = await service.respond(
        pool=request.app[POOL],
        who=principal(request),
        emergency_id=_emergency_id(request),
        country=_country(request),
        body=body,
    )
    return respond(row)
