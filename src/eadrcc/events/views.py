from __future__ import annotations

from aiohttp import web

from eadrcc.appkeys import HUB, POOL
from eadrcc.events import log
from eadrcc.events.models import EventPage, EventQuery
from eadrcc.policy import audience, authorize
from eadrcc.web import Routes, parse_query, principal, respond

routes = Routes("events")


@routes.get(
    "/api/v1/events",
    summary="Events after `since`, in order, as the caller may see them",
    query=EventQuery,
    response=EventPage,
)
async def list_events(request: web.Request) -> web.Response:
    who = principal(request)
    authorize(who, "event.read")
    query = parse_query(request, EventQuery)
    held = audience(who)
    async with request.app[POOL].acquire() as conn:
        page = await log.read_since(conn, since=query.since, limit=query.limit, audience=held)
    if not page.events and query.wait > 0:
        # Nothing yet: sleep until this instance's hub reads past the head (or time is up).
        await request.app[HUB].wait_past(page.next_since, query.wait)
        async with request.app[POOL].acquire() as conn:
            page = await log.read_since(
                conn, since=page.next_since, limit=query.limit, audience=held
            )
    return respond(page)
