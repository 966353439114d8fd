"""The console's HTTP side, no browser: CSP and cache headers, content types, no
external URL in any shipped file, /api/v1/me, and what a snapshot lets a POC see."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.test_utils import TestClient

from eadrcc.console.views import CSP, STATIC, version
from tests.conftest import TokenFactory, bearer
from tests.integration.ops_helpers import api, emergency_body, item

Client = TestClient[web.Request, web.Application]


async def test_the_page_carries_a_strict_csp_and_versioned_assets(client: Client) -> None:
    resp = await client.get("/console")
    assert resp.status == 200 and resp.content_type == "text/html"
    assert resp.headers["Content-Security-Policy"] == CSP
    assert "'unsafe-inline'" not in CSP and "unsafe-eval" not in CSP
    assert resp.headers["Cache-Control"] == "no-cache"
    page = await resp.text()
    assert "<script>" not in page and " on" not in re.sub(r"\s+", " ", page).replace(" only", "")
    assets = re.findall(r'(?:src|href)="(/console/static/[^"]+)"', page)
    assert len(assets) >= 3 and all(f"/{version()}/" in a for a in assets)
    for path, ctype in [
        (f"/console/static/{version()}/js/app.js", "text/javascript"),
        (f"/console/static/{version()}/css/console.css", "text/css"),
        (f"/console/static/{version()}/data/countries-110m.geo.json", "application/json"),
        (f"/console/static/{version()}/img/icon.svg", "image/svg+xml"),
    ]:
        got = await client.get(path)
        assert got.status == 200 and got.content_type == ctype, path
        assert got.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert got.headers["X-Content-Type-Options"] == "nosniff"
        again = await client.get(path, headers={"If-None-Match": got.headers["ETag"]})
        assert again.status == 304
    stale = await client.get("/console/static/000000000000/js/app.js")
    assert stale.status == 200 and stale.headers["Cache-Control"] == "no-cache"


async def test_the_hubs_address_leads_to_the_console_without_a_token(client: Client) -> None:
    for method in ("GET", "HEAD"):
        resp = await client.request(method, "/", allow_redirects=False)
        assert resp.status == 302, method
        assert resp.headers["Location"] == "/console"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"  # the middleware's, kept
    kept = await client.get("/?lang=fr", allow_redirects=False)
    assert kept.headers["Location"] == "/console?lang=fr"
    # the query goes on as it came, encoded: a CR LF in it never starts a header
    raw = await client.get("/?a=%0D%0ASet-Cookie:%20x=1&b=%26", allow_redirects=False)
    assert raw.headers["Location"] == "/console?a=%0D%0ASet-Cookie:%20x=1&b=%26"
    assert "Set-Cookie" not in raw.headers
    landed = await client.get("/")  # followed, as a browser or curl -L does
    assert landed.status == 200 and landed.content_type == "text/html"
    assert landed.url.path == "/console"
    assert "/console/static/" in await landed.text()


async def test_the_console_answers_head_with_its_headers_and_no_body(client: Client) -> None:
    page = await client.get("/console")
    resp = await client.head("/console")
    assert resp.status == 200 and resp.content_type == "text/html"
    assert resp.headers["Content-Security-Policy"] == CSP
    assert resp.headers["Cache-Control"] == "no-cache"
    assert resp.headers["Content-Length"] == page.headers["Content-Length"]
    assert await resp.read() == b""


async def test_unknown_paths_are_still_404_problems(client: Client) -> None:
    for path in ("/nope", "/console/nope", "/index.html"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 404, path
        assert resp.content_type == "application/problem+json", path
        assert "Location" not in resp.headers, path


async def test_nothing_outside_static_is_served(client: Client) -> None:
    for path in [
        "../views.py",
        "..%2Fviews.py",
        "js/../../views.py",
        "js/nothing.js",
        "data/SOURCES",
    ]:
        resp = await client.get(f"/console/static/{version()}/{path}")
        assert resp.status == 404, path


def test_no_shipped_file_names_an_external_url() -> None:
    allowed = {"http://www.w3.org/2000/svg"}  # the SVG namespace, never fetched
    for path in STATIC.rglob("*"):
        if path.suffix in {".js", ".css", ".html", ".svg"}:
            text = path.read_text("utf-8")
            found = (
                set(re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s'\"`)]*", text)) - allowed
            )
            assert not found, (path, found)
            assert "eval(" not in text and "new Function" not in text, path
            assert "innerHTML" not in text, path


async def test_me_names_the_principal_and_is_in_the_spec(
    client: Client, make_token: TokenFactory
) -> None:
    token = await make_token("poc", country="TUR", name="AFAD desk")
    resp = await client.get("/api/v1/me", headers=bearer(token))
    me = await resp.json()
    assert resp.status == 200
    assert {k: me[k] for k in ("name", "role", "country")} == {
        "name": "AFAD desk",
        "role": "poc",
        "country": "TUR",
    }
    assert me["token_id"].startswith("tok_") and token not in str(me)
    assert (await client.get("/api/v1/me")).status == 401
    spec = await (await client.get("/api/v1/openapi.json")).json()
    schema = spec["paths"]["/api/v1/me"]["get"]["responses"]["200"]["content"]
    described = schema["application/json"]["schema"]
    assert described["title"] == "Me"
    assert set(described["properties"]) == {"token_id", "name", "role", "country"}
    assert "/api/v1/emergencies/{id}/snapshot" in spec["paths"]
    assert "/console/static/{version}/{folder}/{name}" in spec["paths"]


async def test_a_snapshot_shows_a_poc_only_what_its_events_would(
    client: Client, make_token: TokenFactory
) -> None:
    officer = await api(client, make_token, "duty_officer")
    tur = await api(client, make_token, "poc", "TUR")
    nor = await api(client, make_token, "poc", "NOR")
    emergency = (await officer.post("/api/v1/emergencies", emergency_body(), expect=201))["id"]
    await tur.post(
        f"/api/v1/emergencies/{emergency}/requests",
        {"requesting_country": "TUR", "needs": [{"resource_type": "usar.heavy", "quantity": 3}]},
        expect=201,
    )
    for country in ("NOR", "DEU"):
        await officer.post(
            "/api/v1/offers",
            {
                "emergency_id": emergency,
                "offering_country": country,
                "channel": "direct",
                "items": [item("usar.heavy", 1)],
            },
            expect=201,
        )
    path = f"/api/v1/emergencies/{emergency}/snapshot"
    staff, stricken, norway = [await who.get(path) for who in (officer, tur, nor)]
    head = (await officer.get("/api/v1/events?since=0&limit=1"))["head"]
    assert staff["head"] == head
    assert len(staff["requests"]) == 1 and staff["requests"][0]["needs"][0]["proposed"] == 2
    assert {o["offering_country"] for o in staff["offers"]} == {"NOR", "DEU"}
    assert {o["offering_country"] for o in stricken["offers"]} == {"NOR", "DEU"}
    assert len(stricken["matches"]) == 2
    assert {o["offering_country"] for o in norway["offers"]} == {"NOR"}
    assert {m["offering_country"] for m in norway["matches"]} == {"NOR"}
    assert len(norway["requests"]) == 1  # RFAs and their pictures are everyone's
    missing = await officer.call("GET", "/api/v1/emergencies/emg_0000000000nothing/snapshot")
    assert missing["status"] == 404
