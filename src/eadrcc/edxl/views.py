from __future__ import annotations

from aiohttp import web

from eadrcc.appkeys import PARSER, POOL
from eadrcc.edxl import service
from eadrcc.edxl.models import ImportQuery, OfferImported, RequestImported
from eadrcc.errors import UnsupportedMediaType
from eadrcc.web import Routes, parse_query, principal, read_body, respond

routes = Routes("edxl-rm")
XML_TYPES = ("application/xml", "application/edxl-rm+xml", "text/xml")
EXPORT = {404: "Unknown, or not visible to the caller"}


@routes.post(
    "/api/v1/edxl-rm",
    summary="Import one EDXL-RM 1.0 message: RequestResource → RFA, "
    "OfferUnsolicitedResource or ResponseToRequestResource → offer; "
    "its MessageID is the Idempotency-Key",
    body=str,
    media_types=XML_TYPES,
    query=ImportQuery,
    response=RequestImported | OfferImported,
    status=201,
    extra_responses={
        400: "Not well-formed XML, or XML with a DTD (entities, external references)",
        409: "MessageID already imported with another content, or the emergency is closed",
        415: "Not XML",
        422: "Not a message this hub takes, or it took longer than EADRCC_PARSE_SECONDS to read",
        503: "The document reader stopped while reading it (Retry-After); nothing stored",
    },
)
async def import_message(request: web.Request) -> web.Response:
    if request.content_type not in XML_TYPES:
        raise UnsupportedMediaType(f"expected one of {', '.join(XML_TYPES)}")
    query = parse_query(request, ImportQuery)
    status, answer = await service.import_message(
        pool=request.app[POOL],
        parser=request.app[PARSER],
        who=principal(request),
        raw=await read_body(request),
        query=query,
    )
    where = "requests" if answer["edxl"]["message_type"] == "RequestResource" else "offers"
    return respond(answer, status=status, headers={"Location": f"/api/v1/{where}/{answer['id']}"})


@routes.get(
    "/api/v1/requests/{id}/edxl-rm",
    summary="The RFA as an EDXL-RM RequestResource (application/xml)",
    extra_responses={**EXPORT, 409: "Every need is cancelled"},
)
async def export_request(request: web.Request) -> web.Response:
    return _xml(
        await service.export_request(
            pool=request.app[POOL], who=principal(request), request_id=request.match_info["id"]
        )
    )


@routes.get(
    "/api/v1/offers/{id}/edxl-rm",
    summary="The offer as an EDXL-RM OfferUnsolicitedResource (application/xml)",
    extra_responses={**EXPORT, 409: "The offer is withdrawn"},
)
async def export_offer(request: web.Request) -> web.Response:
    return _xml(
        await service.export_offer(
            pool=request.app[POOL], who=principal(request), offer_id=request.match_info["id"]
        )
    )


@routes.get(
    "/api/v1/matches/{id}/edxl-rm",
    summary="An accepted, moving or delivered match as an EDXL-RM CommitResource (application/xml)",
    extra_responses={**EXPORT, 409: "Only a proposal (or declined): nothing is committed"},
)
async def export_match(request: web.Request) -> web.Response:
    return _xml(
        await service.export_match(
            pool=request.app[POOL], who=principal(request), match_id=request.match_info["id"]
        )
    )


def _xml(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/xml")
