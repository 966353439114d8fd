from __future__ import annotations

from aiohttp import web

from eadrcc.appkeys import POOL
from eadrcc.events import log
from eadrcc.events.models import EventPage, EventQuery
from eadrcc.policy import authorize, event_audience
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
    async with request.app[POOL].acquire() as conn:
        page = await log.read_since(
            conn, since=query.since, limit=query.limit, audience=event_audience(who)
        )
    return respond(page)
