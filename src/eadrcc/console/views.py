"""The live console: GET /console (and /, which leads there), its static files, and
the two reads it needs.

The page is plain HTML, CSS and ES modules shipped in static/ (no build step and
no external URL: consoles may sit on closed networks). Static URLs carry a
version taken from the files' contents, so they can be cached for good while a
new release is fetched at once; every console response carries a strict CSP.
"""

from __future__ import annotations

import hashlib
import mimetypes
from functools import cache
from pathlib import Path

from aiohttp import web

from eadrcc.appkeys import POOL
from eadrcc.auth import Role
from eadrcc.console.models import EmergencyCounts, EmergencySnapshot, Me
from eadrcc.db import queries
from eadrcc.emergencies import service as emergencies
from eadrcc.emergencies import store as emergency_store
from eadrcc.errors import NotFound
from eadrcc.events import log as events
from eadrcc.matching import store as matches
from eadrcc.offers import store as offers
from eadrcc.policy import audience, authorize, authorize_kind
from eadrcc.requests import service as requests
from eadrcc.web import Routes, principal, respond

routes = Routes("console")
q = queries("console")
STATIC = Path(__file__).parent / "static"
CSP = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".md": "text/markdown",
}
IMMUTABLE = "public, max-age=31536000, immutable"


@cache
def version() -> str:
    """A digest of every static file: it changes whenever any of them does."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# The hub's bare address leads to the console: whoever opens http://host:port/ lands
# there. 302, not 301/308: browsers keep permanent redirects for good, and / may
# one day answer something else; for GET and HEAD, 302 and 307 behave alike, and
# 302 is the one every client (curl -L, old proxies) follows without question.
# Returned, not raised: the problem middleware turns raised HTTPExceptions into
# problem+json. The query rides along (/?lang=fr opens the French console).
@routes.get("/", summary="The hub's address: a redirect to /console", auth=False, status=302)
async def root(request: web.Request) -> web.Response:
    query = request.rel_url.raw_query_string  # as sent, still percent-encoded
    return web.Response(
        status=302, headers={"Location": "/console" + (f"?{query}" if query else "")}
    )


# HEAD too (curl -I, link checkers); a handler of its own, as operationIds are unique.
@routes.add("HEAD", "/", summary="The hub's address, headers only", auth=False, status=302)
async def root_head(request: web.Request) -> web.StreamResponse:
    return await root(request)


@routes.get("/console", summary="The duty-officer / POC console (HTML)", auth=False)
async def console(_request: web.Request) -> web.Response:
    page = (STATIC / "index.html").read_text("utf-8")
    page = page.replace("%STATIC%", f"/console/static/{version()}")
    return web.Response(
        text=page,
        content_type="text/html",
        charset="utf-8",
        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
    )


# HEAD too: an uptime monitor or a proxy's health check asks for the page's headers
# (aiohttp sends them without the body).
@routes.add("HEAD", "/console", summary="The console's headers only", auth=False)
async def console_head(request: web.Request) -> web.StreamResponse:
    return await console(request)


# Two plain routes rather than one regex: the OpenAPI document names them as routed.
@routes.get(
    "/console/static/{version}/{folder}/{name}",
    summary="The console's static files (immutable under their version)",
    auth=False,
)
async def static_file(request: web.Request) -> web.StreamResponse:
    info = request.match_info
    return _serve(request, f"{info['folder']}/{info['name']}")


@routes.get(
    "/console/static/{version}/{folder}/{sub}/{name}",
    summary="The console's static files, one folder deeper",
    auth=False,
)
async def static_file_below(request: web.Request) -> web.StreamResponse:
    info = request.match_info
    return _serve(request, f"{info['folder']}/{info['sub']}/{info['name']}")


def _serve(request: web.Request, relative: str) -> web.Response:
    path = _resolve(relative)
    ctype = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
    if ctype is None:
        raise NotFound("no such console file")
    current = request.match_info["version"] == version()
    # An older page may still ask for its version: answer, but let it not be kept.
    headers = {**SECURITY_HEADERS, "Cache-Control": IMMUTABLE if current else "no-cache"}
    body = path.read_bytes()
    tag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
    if request.headers.get("If-None-Match") == tag:
        return web.Response(status=304, headers={**headers, "ETag": tag})
    charset = "utf-8" if ctype.startswith("text/") or ctype.endswith(("json", "svg+xml")) else None
    return web.Response(
        body=body,
        content_type=ctype,
        charset=charset,
        headers={**headers, "ETag": tag},
    )


def _resolve(relative: str) -> Path:
    """A file under static/, never outside it."""
    root = STATIC.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise NotFound("no such console file")
    return path


@routes.get("/api/v1/me", summary="The principal behind the caller's token", response=Me)
async def me(request: web.Request) -> web.Response:
    return respond(Me.model_validate(principal(request).public()))


@routes.get(
    "/api/v1/emergencies/{id}/snapshot",
    summary="An emergency with its RFAs, offers and matches as the caller may see them, "
    "current to event `head` (resume the event stream from there)",
    response=EmergencySnapshot,
)
async def snapshot(request: web.Request) -> web.Response:
    who = principal(request)
    authorize_kind(who, "snapshot.read")
    # The same audience its events are filtered by: the snapshot and the stream agree.
    held = audience(who)
    async with (
        request.app[POOL].acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        head = await events.head(conn)
        emergency = await emergencies.get(conn=conn, emergency_id=request.match_info["id"])
        found = EmergencySnapshot(
            head=head,
            emergency=emergency,
            requests=await requests.emergency_requests(
                conn=conn, emergency_id=emergency.id, who=who
            ),
            offers=await offers.emergency_offers(
                conn, emergency.id, audience=held, affected=emergency.countries
            ),
            matches=await matches.emergency_matches(conn, emergency.id, status=None, audience=held),
        )
    return respond(found)


@routes.get(
    "/api/v1/emergency-counts",
    summary="Per emergency (the 500 the list shows): needs uncovered, critical, late, "
    "at risk and duplicated, offers, nations and the time of the latest event",
    response=list[EmergencyCounts],
)
async def emergency_counts(request: web.Request) -> web.Response:
    who = principal(request)
    authorize(who, "emergency.read")
    country = who.country if who.role is Role.POC else None
    async with request.app[POOL].acquire() as conn:
        listed = await emergency_store.list_all(conn, status=None, exercise=None)
        # Two statements whatever the number of emergencies: the list, then every count.
        rows = await conn.fetch(
            *q.bind("board_counts", emergency_ids=[e.id for e in listed], country=country)
        )
    return respond([EmergencyCounts.model_validate(dict(r)) for r in rows])
