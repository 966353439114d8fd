from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from eadrcc.appkeys import POOL
from eadrcc.db import queries
from eadrcc.emergencies import service as emergencies
from eadrcc.errors import NotAcceptable, NotFound
from eadrcc.policy import audience, authorize
from eadrcc.sitrep import build, render
from eadrcc.sitrep.models import Sitrep, SitrepQuery
from eadrcc.web import Routes, parse_query, principal, respond

routes = Routes("sitrep")
q = queries("sitrep")
FORMATS = {
    "application/json": None,
    "text/markdown": render.markdown,
    "text/csv": render.csv_text,
    "text/html": render.html,
}
FORMAT_NAMES = {
    "json": "application/json",
    "md": "text/markdown",
    "markdown": "text/markdown",
    "csv": "text/csv",
    "html": "text/html",
}


@routes.get(
    "/api/v1/emergencies/{id}/sitrep",
    summary="Situation report (JSON, Markdown, CSV or HTML by Accept or format=); as_of= rebuilds "
    "any past moment from the event log",
    query=SitrepQuery,
    response=Sitrep,
    media_types=tuple(FORMATS),
    extra_responses={406: "No format the caller accepts"},
)
async def get_sitrep(request: web.Request) -> web.StreamResponse:
    who = principal(request)
    authorize(who, "sitrep.read")
    query = parse_query(request, SitrepQuery)
    media = (
        FORMAT_NAMES[query.format]
        if query.format
        else _negotiate(request.headers.get("Accept", "application/json"))
    )
    async with request.app[POOL].acquire() as conn:
        emergency = await emergencies.get(conn=conn, emergency_id=request.match_info["id"])
        rows = await conn.fetch(
            *q.bind(
                "emergency_events",
                emergency_id=emergency.id,
                as_of=query.as_of,
                audience=audience(who),
            )
        )
    if not rows:
        raise NotFound("the emergency did not exist yet at that moment")
    state = build.fold((r["seq"], r["kind"], r["data"]) for r in rows)
    report = build.report(state, query.as_of or datetime.now(UTC))
    renderer = FORMATS[media]
    if renderer is None:
        return respond(report)
    name = f"sitrep-{emergency.id}.{media.split('/')[1].replace('markdown', 'md')}"
    return web.Response(
        text=renderer(report),
        content_type=media,
        charset="utf-8",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


def _negotiate(accept: str) -> str:
    """The first acceptable format, by the client's q-values then its order."""
    ranked = []
    for i, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        weight = 1.0
        for p in params:
            if p.startswith("q="):
                try:
                    weight = float(p[2:])
                except ValueError:
                    weight = 0.0
        ranked.append((-weight, i, media.lower()))
    for weight, _, media in sorted(ranked):
        if weight == 0:
            continue
        if media in FORMATS:
            return media
        if media in ("*/*", "application/*"):
            return "application/json"
        if media == "text/*":
            return "text/markdown"
    raise NotAcceptable(f"available formats: {', '.join(FORMATS)}")
