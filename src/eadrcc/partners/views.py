from __future__ import annotations

from aiohttp import web

from eadrcc.appkeys import POOL
from eadrcc.auth import Principal
from eadrcc.errors import BadRequest
from eadrcc.partners import service, store
from eadrcc.partners.models import ChangesQuery, Partner, PartnerChanges, PartnerWrite, Programme
from eadrcc.policy import allowed, authorize
from eadrcc.web import Routes, parse_body, parse_query, principal, respond

routes = Routes("partners")
NOT_MODIFIED = {304: "Not modified (If-None-Match matched)"}


def _not_modified(request: web.Request, tag: str) -> web.Response | None:
    header = request.headers.get("If-None-Match")
    if header and (tag in {t.strip().removeprefix("W/") for t in header.split(",")}):
        return web.Response(status=304, headers={"ETag": tag})
    return None


def _shown(who: Principal, partners: list[Partner]) -> list[Partner]:
    """Records as the caller may read them: without 24/7 contacts for integrations."""
    if allowed(who, "contact.read"):
        return partners
    return [p.model_copy(update={"contacts": []}) for p in partners]


@routes.get(
    "/api/v1/partners",
    summary="All partner records",
    response=list[Partner],
    extra_responses=NOT_MODIFIED,
)
async def list_partners(request: web.Request) -> web.Response:
    who = principal(request)
    authorize(who, "partner.read")
    async with request.app[POOL].acquire() as conn:
        version, count = await store.list_version(conn)
        tag = f'"l{version}.{count}"'
        if cached := _not_modified(request, tag):
            return cached
        partners = await store.list_partners(conn)
    return respond(_shown(who, partners), headers={"ETag": tag})


@routes.get(
    "/api/v1/partners/changes",
    summary="Records changed after version `since`",
    query=ChangesQuery,
    response=PartnerChanges,
)
async def partner_changes(request: web.Request) -> web.Response:
    who = principal(request)
    authorize(who, "partner.read")
    query = parse_query(request, ChangesQuery)
    async with request.app[POOL].acquire() as conn:
        page = await service.changes(conn=conn, since=query.since, limit=query.limit)
    return respond(page.model_copy(update={"changes": _shown(who, page.changes)}))


@routes.get(
    "/api/v1/partners/{code}",
    summary="One partner record",
    response=Partner,
    extra_responses=NOT_MODIFIED,
)
async def get_partner(request: web.Request) -> web.Response:
    who = principal(request)
    authorize(who, "partner.read")
    async with request.app[POOL].acquire() as conn:
        partner = await service.get(conn=conn, code=request.match_info["code"])
    tag = service.etag(partner.version)
    if cached := _not_modified(request, tag):
        return cached
    return respond(_shown(who, [partner])[0], headers={"ETag": tag})


@routes.put(
    "/api/v1/partners/{code}",
    summary="Replace a record (If-Match required)",
    body=PartnerWrite,
    response=Partner,
    extra_responses={412: "If-Match does not name the current version", 428: "If-Match missing"},
)
async def put_partner(request: web.Request) -> web.Response:
    who = principal(request)
    authorize(who, "partner.write")
    code = request.match_info["code"]
    body = await parse_body(request, PartnerWrite)
    if body.code is not None and body.code != code:
        raise BadRequest(f"the body's code {body.code!r} is not the path's {code!r}")
    partner, _changed = await service.replace(
        pool=request.app[POOL],
        code=code,
        fields=body,
        if_match=request.headers.get("If-Match"),
        actor=who.actor,
    )
    return respond(partner, headers={"ETag": service.etag(partner.version)})


@routes.get(
    "/api/v1/programmes", summary="The partnership programme catalogue", response=list[Programme]
)
async def list_programmes(request: web.Request) -> web.Response:
    authorize(principal(request), "programme.read")
    async with request.app[POOL].acquire() as conn:
        return respond(await store.programmes(conn))
