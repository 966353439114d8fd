"""Every route, called as every role: who gets in, and what each one sees.

The story: an earthquake strikes Türkiye (TUR, affected and requesting); Norway
(NOR) offers blankets and a match is proposed; Germany (DEU) is a bystander. Each
route is called with no token, a forged one, and as admin, duty officer, observer,
integration and the POCs of TUR, NOR and DEU. Statuses come from READS / WRITES
below; then the reads that carry offers and matches (the snapshot, the matches
list, the sitrep in every format, long-poll and /ws) are checked for WHAT each
role sees, all decided by `eadrcc.policy.visible`.

`test_every_route_has_a_row` fails when a route exists without a row: add yours.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
import websockets
from aiohttp.test_utils import TestClient

from eadrcc.app import all_routes
from tests.conftest import TokenFactory, bearer
from tests.integration.ops_helpers import api, emergency_body, item

Client = TestClient  # type: ignore[type-arg]
ROLES = ("admin", "officer", "observer", "integration", "tur", "nor", "deu")


def expect(default: int = 200, **status: int) -> dict[str, int]:
    """Status per role: `default` for every role not named."""
    unknown = set(status) - set(ROLES)
    assert not unknown, f"unknown roles {unknown}; roles are {ROLES}"
    return {role: status.get(role, default) for role in ROLES}


# ---- reads: every GET that needs a token -----------------------------------------
NO_ALERTS = {"tur": 403, "nor": 403, "deu": 403, "integration": 403}
READS: dict[str, dict[str, int]] = {
    "/api/v1/me": expect(),
    "/api/v1/partners": expect(),  # integrations get the records without contacts
    "/api/v1/partners/changes": expect(),
    "/api/v1/partners/{code}": expect(),
    "/api/v1/programmes": expect(),
    "/api/v1/resource-types": expect(),
    "/api/v1/credentials": expect(),
    "/api/v1/emergency-counts": expect(),  # a POC's offer counts are its own: test_console_counts
    "/api/v1/events": expect(),
    "/api/v1/emergencies": expect(),
    "/api/v1/emergencies/{id}": expect(),
    "/api/v1/emergencies/{id}/sitrep": expect(),  # filtered: see test_sitrep_*
    "/api/v1/emergencies/{id}/snapshot": expect(integration=403),
    "/api/v1/emergencies/{id}/matches": expect(integration=403),
    "/api/v1/requests/{id}": expect(),
    "/api/v1/requests/{id}/edxl-rm": expect(),
    "/api/v1/offers/{id}": expect(integration=403, deu=404),  # 404: not even its existence
    "/api/v1/offers/{id}/edxl-rm": expect(integration=403, deu=404),
    # A proposal commits nothing yet (409) for those who may see it.
    "/api/v1/matches/{id}/edxl-rm": expect(409, integration=403, deu=404),
    "/api/v1/alerts": expect(**NO_ALERTS),
    "/api/v1/alerts/{id}": expect(**NO_ALERTS),
    "/api/v1/alert-groups/{id}": expect(**NO_ALERTS),
    "/api/v1/capacities": expect(integration=403),
    "/api/v1/capacities/{id}": expect(integration=403),
    # Circulation: the list is staff's; a POC reads its own nation's row only
    # (test_circulation proves which rows).
    "/api/v1/emergencies/{id}/distribution": expect(integration=403, tur=403, nor=403, deu=403),
    "/api/v1/emergencies/{id}/responses": expect(integration=403),
    # Each sees its own subscriptions; the world's one is Norway's.
    "/api/v1/subscriptions": expect(observer=403),
    "/api/v1/subscriptions/{id}/deliveries": expect(
        observer=403, integration=404, tur=404, deu=404
    ),
    "/api/v1/channels": expect(integration=403),  # a POC sees its own nation's row
}


# ---- writes: every other method that needs a token --------------------------------
@dataclass(frozen=True)
class Write:
    """A valid body (so a refusal is about who calls), and who must get 403."""

    body: Any = None
    refused: tuple[str, ...] = ("observer", "integration", "deu")
    # Writes whose refusals another test covers in depth: only 401s are checked here.
    auth_only: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


NOT_NOR = ("observer", "integration", "tur", "deu")
SUBSCRIPTION = {"kind": "email", "address": "desk@nor.example", "country": "NOR"}
CAPACITY = {
    "country": "NOR",
    "resource_type": "shelter.blanket",
    "quantity": 100,
    "readiness_hours": 12,
    "valid_until": "2030-01-01T00:00:00+00:00",  # capacities are declared at most ten years ahead
}
WRITES: dict[tuple[str, str], Write] = {
    ("PUT", "/api/v1/partners/{code}"): Write(
        "partner", refused=("officer", "observer", "integration", "tur", "nor", "deu")
    ),
    ("POST", "/api/v1/emergencies"): Write(
        emergency_body(), refused=("observer", "integration", "nor", "deu")
    ),
    ("PATCH", "/api/v1/emergencies/{id}"): Write(
        {"severity": "severe"}, refused=("observer", "integration", "tur", "nor", "deu")
    ),
    ("POST", "/api/v1/emergencies/{id}/requests"): Write(
        {
            "requesting_country": "TUR",
            "needs": [{"resource_type": "shelter.blanket", "quantity": 1}],
        },
        refused=("observer", "integration", "nor", "deu"),
    ),
    ("PATCH", "/api/v1/requests/{id}/needs/{need_id}"): Write({"priority": "critical"}),
    ("POST", "/api/v1/offers"): Write("offer", refused=("observer", "integration", "tur", "deu")),
    ("POST", "/api/v1/offers/{id}/withdraw"): Write({"reason": "test"}),
    ("POST", "/api/v1/matches/{id}/accept"): Write({"quantity": 1}),
    ("POST", "/api/v1/matches/{id}/decline"): Write({"reason": "test"}),
    ("POST", "/api/v1/matches/{id}/dispatch"): Write({"quantity": 1}),
    ("POST", "/api/v1/matches/{id}/deliver"): Write({"quantity": 1}),
    ("POST", "/api/v1/alerts"): Write(auth_only=True),  # signed: test_alerts*, test_signature
    ("POST", "/api/v1/alerts/{id}/acknowledge"): Write(
        refused=("observer", "integration", "tur", "nor", "deu")
    ),
    ("POST", "/api/v1/edxl-rm"): Write(auth_only=True),  # XML bodies: test_edxl*
    # The world's capacity is Norway's.
    ("POST", "/api/v1/capacities"): Write("capacity", refused=NOT_NOR),
    ("PATCH", "/api/v1/capacities/{id}"): Write({"quantity": 2}, refused=NOT_NOR),
    ("DELETE", "/api/v1/capacities/{id}"): Write(refused=NOT_NOR),
    ("POST", "/api/v1/capacities/{id}/offer"): Write("capacity_offer", refused=NOT_NOR),
    ("PUT", "/api/v1/emergencies/{id}/distribution"): Write(
        {"countries": ["NOR", "DEU"]}, refused=("observer", "integration", "tur", "nor", "deu")
    ),
    # {country} is Norway: only its POC (and staff) may answer for it.
    ("POST", "/api/v1/emergencies/{id}/responses/{country}"): Write(
        {"state": "acknowledged"}, refused=NOT_NOR
    ),
    ("POST", "/api/v1/subscriptions"): Write("subscription", refused=NOT_NOR),
    ("DELETE", "/api/v1/subscriptions/{id}"): Write(refused=NOT_NOR),
    # The world's subscription is active: 409 for those who may (test_subscription_resume).
    ("POST", "/api/v1/subscriptions/{id}/resume"): Write({}, refused=NOT_NOR),
}

# Routes that take no bearer token, and where their access is proven instead.
NO_TOKEN = {
    "/ws": "test_ws_per_role below (the token comes in the hello)",
    "/healthz": "ops",
    "/readyz": "ops",
    "/metrics": "ops",
    "/api/v1/openapi.json": "public spec",
    "/": "a redirect to /console (test_console_static)",
    "/console": "static page; its data comes through the API",
    "/console/static/{version}/{folder}/{name}": "static files",
    "/console/static/{version}/{folder}/{sub}/{name}": "static files",
}


def test_every_route_has_a_row() -> None:
    """A route without a row here fails, saying exactly what to add."""
    missing = []
    for r in all_routes():
        if not r.auth:
            if r.path not in NO_TOKEN:
                missing.append(
                    f"{r.method} {r.path} takes no token: add NO_TOKEN[{r.path!r}] = "
                    "'<where its access is proven>'"
                )
        elif r.method == "GET":
            if r.path not in READS:
                missing.append(
                    f"GET {r.path}: add READS[{r.path!r}] = expect(...) — the status for "
                    f"each of {ROLES} (e.g. expect(integration=403, deu=404)); ids are "
                    "filled by _url() from the world fixture: extend it if your path is new"
                )
        elif (r.method, r.path) not in WRITES:
            missing.append(
                f"{r.method} {r.path}: add WRITES[({r.method!r}, {r.path!r})] = "
                "Write(<a valid body>, refused=(<roles that must get 403>))"
            )
    assert not missing, "tests/integration/test_authorization_matrix.py:\n" + "\n".join(missing)


# ---- the world -------------------------------------------------------------------


@pytest.fixture
async def world(client: Client, make_token: TokenFactory) -> dict[str, Any]:
    officer = await api(client, make_token, "duty_officer")
    tur = await api(client, make_token, "poc", "TUR")
    nor = await api(client, make_token, "poc", "NOR")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    rfa = await tur.post(
        f"/api/v1/emergencies/{emergency['id']}/requests",
        {
            "requesting_country": "TUR",
            "needs": [{"resource_type": "shelter.blanket", "quantity": 100}],
        },
        expect=201,
    )
    offer_body = {
        "emergency_id": emergency["id"],
        "offering_country": "NOR",
        "channel": "direct",
        "notes": "NOR-SECRET-NOTE",
        "items": [item("shelter.blanket", 100)],
    }
    offer = await nor.post("/api/v1/offers", offer_body, expect=201)
    capacity = await nor.post("/api/v1/capacities", CAPACITY, expect=201)
    alert = await officer.post(
        "/api/v1/alerts",
        {"identifier": "M1", "sender": "s", "sent": "2026-11-27T01:00:00+00:00", "event": "Flood"},
        expect=201,
    )
    subscription = await nor.post("/api/v1/subscriptions", SUBSCRIPTION, expect=201)
    partner = await officer.get("/api/v1/partners/NOR")
    return {
        "id": {
            "/api/v1/partners/{code}": "NOR",
            "/api/v1/emergencies/": emergency["id"],
            "/api/v1/requests/": rfa["id"],
            "/api/v1/offers/": offer["id"],
            "/api/v1/matches/": offer["matches"][0]["id"],
            "/api/v1/alerts/": alert["id"],
            "/api/v1/alert-groups/": alert["group_id"],
            "/api/v1/capacities/": capacity["id"],
            "/api/v1/subscriptions/": subscription["id"],
        },
        "emergency": emergency["id"],
        "need_id": rfa["needs"][0]["id"],
        "partner": partner,
        "offer": {**offer_body, "notes": "another"},
        "tokens": {
            "admin": await make_token("admin"),
            "officer": officer.token,
            "observer": await make_token("observer"),
            "integration": await make_token("integration"),
            "tur": tur.token,
            "nor": nor.token,
            "deu": await make_token("poc", country="DEU"),
        },
    }


def _url(world: dict[str, Any], path: str, *, unknown: bool = False) -> str:
    if "{" not in path:
        return path
    prefix = path.split("{")[0]
    value = world["id"].get(path) or world["id"][prefix]
    url = path.replace("{code}", "XXX" if unknown else value)
    url = url.replace("{id}", "zzz_0000000000000000" if unknown else value)
    url = url.replace("{country}", "NOR")  # a nation the world's RFA went to
    return url.replace("{need_id}", "ned_0000000000000000" if unknown else world["need_id"])


def _body(world: dict[str, Any], write: Write | None, unknown: bool) -> Any:
    body = write.body if write else None
    if body == "partner":  # the record as read, its code naming the path's partner
        return {**world["partner"], "code": None} if unknown else world["partner"]
    if body == "offer":
        return world["offer"]
    if body == "capacity":
        return CAPACITY
    if body == "subscription":
        return SUBSCRIPTION
    if body == "capacity_offer":  # a valid offer of the capacity to the world's emergency
        return {"emergency_id": world["emergency"], "quantity": 1}
    return body


async def _call(
    client: Client,
    world: dict[str, Any],
    method: str,
    path: str,
    token: str | None,
    *,
    unknown: bool = False,
) -> int:
    headers = bearer(token) if token else {}
    if path == "/api/v1/partners/{code}" and method == "PUT":
        headers["If-Match"] = f'"v{world["partner"]["version"]}"'
    write = WRITES.get((method, path))
    resp = await client.request(
        method,
        _url(world, path, unknown=unknown),
        headers=headers,
        json=_body(world, write, unknown),
    )
    assert resp.status < 500, (method, path, resp.status, await resp.text())
    return resp.status


@pytest.mark.parametrize("role", ["admin", "duty_officer", "poc", "integration", "observer"])
async def test_credentials_are_read_by_any_role(
    client: Client, make_token: TokenFactory, role: str
) -> None:
    assert (await client.get("/api/v1/credentials")).status == 401
    forged = await client.get("/api/v1/credentials", headers=bearer("eadrcc_forged"))
    assert forged.status == 401
    token = await make_token(role, country="NOR" if role == "poc" else None)
    resp = await client.get("/api/v1/credentials", headers=bearer(token))
    assert resp.status == 200
    found = {c["code"]: c for c in await resp.json()}
    assert found and all(c["name"] and c["applies_to"] for c in found.values())


TOKEN_ROUTES = sorted({(r.method, r.path) for r in all_routes() if r.auth})


@pytest.mark.parametrize(("method", "path"), TOKEN_ROUTES)
async def test_matrix(client: Client, world: dict[str, Any], method: str, path: str) -> None:
    tokens = world["tokens"]
    assert await _call(client, world, method, path, None) == 401
    assert await _call(client, world, method, path, "eadrcc_forged") == 401
    if method == "GET":
        for who, status in READS[path].items():
            got = await _call(client, world, method, path, tokens[who])
            assert got == status, (who, method, path, got)
    elif not WRITES[(method, path)].auth_only:
        for who in WRITES[(method, path)].refused:
            got = await _call(client, world, method, path, tokens[who])
            assert got == 403, (who, method, path, got)
    if "{" in path and not WRITES.get((method, path), Write()).auth_only:
        # Ids that do not exist are 404 for those who could otherwise act.
        caller = tokens["admin"] if path.startswith("/api/v1/partners") else tokens["officer"]
        assert await _call(client, world, method, path, caller, unknown=True) == 404


# ---- what each role sees ------------------------------------------------------------
# Who may see the NOR offer and its match: staff, NOR (offers), TUR (struck, requests).
SEES_OFFER = {"admin", "officer", "observer", "tur", "nor"}


async def _get(client: Client, world: dict[str, Any], who: str, url: str, **kw: Any) -> Any:
    resp = await client.get(url, headers={**bearer(world["tokens"][who]), **kw})
    assert resp.status == 200, (who, url, resp.status)
    return await resp.text()


@pytest.mark.parametrize("who", ["admin", "officer", "observer", "tur", "nor", "deu"])
async def test_snapshot_and_matches_show_only_what_the_role_may_see(
    client: Client, world: dict[str, Any], who: str
) -> None:
    base = f"/api/v1/emergencies/{world['emergency']}"
    snap = json.loads(await _get(client, world, who, f"{base}/snapshot"))
    matches = json.loads(await _get(client, world, who, f"{base}/matches"))
    sees = who in SEES_OFFER
    assert bool(snap["offers"]) is sees, who
    assert bool(snap["matches"]) is sees, who
    assert bool(matches) is sees, who


@pytest.mark.parametrize("media", ["application/json", "text/markdown", "text/csv", "text/html"])
@pytest.mark.parametrize("who", ROLES)
async def test_sitrep_shows_only_what_the_role_may_see(
    client: Client, world: dict[str, Any], who: str, media: str
) -> None:
    text = await _get(
        client, world, who, f"/api/v1/emergencies/{world['emergency']}/sitrep", Accept=media
    )
    # NOR appears in a sitrep only through its offer and match.
    assert ("NOR" in text) is (who in SEES_OFFER), (who, media)
    assert "NOR-SECRET-NOTE" not in text


async def _kinds_over_long_poll(client: Client, world: dict[str, Any], who: str) -> set[str]:
    page = json.loads(await _get(client, world, who, "/api/v1/events?since=0&limit=5000&wait=0.1"))
    return {e["kind"] for e in page["events"] if e.get("emergency_id") == world["emergency"]}


async def _kinds_over_ws(client: Client, world: dict[str, Any], who: str) -> set[str]:
    url = str(client.make_url("/ws")).replace("http", "ws", 1)
    kinds: set[str] = set()
    async with websockets.connect(url) as ws, asyncio.timeout(30):  # room for a loaded machine
        await ws.send(json.dumps({"type": "hello", "token": world["tokens"][who], "since": 0}))
        assert json.loads(await ws.recv())["type"] == "welcome"
        while True:  # the backlog, up to the public marker written last
            msg = json.loads(await ws.recv())
            if msg["type"] != "event":
                continue
            if msg["kind"] == "test.marker":
                return kinds
            if msg["emergency_id"] == world["emergency"]:
                kinds.add(msg["kind"])


@pytest.fixture
async def marked(world: dict[str, Any], pool: Any) -> dict[str, Any]:
    """A public event after the story, so a socket knows its backlog has ended."""
    from eadrcc import db
    from eadrcc.events import log as events

    async with db.transaction(pool) as conn:
        events.record(conn, kind="test.marker", actor="test", data={})
    return world


@pytest.mark.parametrize("who", ROLES)
async def test_events_show_only_what_the_role_may_see(
    client: Client, marked: dict[str, Any], who: str
) -> None:
    world = marked
    for kinds in (
        await _kinds_over_long_poll(client, world, who),
        await _kinds_over_ws(client, world, who),
    ):
        assert "emergency.created" in kinds and "request.created" in kinds, (who, kinds)
        assert ("offer.created" in kinds) is (who in SEES_OFFER), (who, kinds)
        assert ("match.proposed" in kinds) is (who in SEES_OFFER), (who, kinds)


async def test_integrations_read_no_contacts(client: Client, world: dict[str, Any]) -> None:
    for who, has in (("integration", False), ("observer", True), ("deu", True)):
        one = json.loads(await _get(client, world, who, "/api/v1/partners/NOR"))
        every = json.loads(await _get(client, world, who, "/api/v1/partners"))
        changes = json.loads(await _get(client, world, who, "/api/v1/partners/changes"))
        assert bool(one["contacts"]) is has, who
        assert any(p["contacts"] for p in every) is has, who
        assert any(p["contacts"] for p in changes["changes"]) is has, who
