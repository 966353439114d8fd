"""Every endpoint that takes an id, called as every role and as POCs of other
countries: 401 without a token, 403 where the caller may not act, 404 for what it
may not see or what does not exist — and never a 2xx or a 5xx where it must not.

The table of ids below must cover every such route in the app: a new endpoint
fails `test_every_id_route_is_covered` until it is added here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from eadrcc.app import all_routes
from tests.conftest import TokenFactory, bearer
from tests.integration.ops_helpers import api, emergency_body, item

Client = TestClient  # type: ignore[type-arg]
ID_ROUTES = sorted({(r.method, r.path) for r in all_routes() if "{" in r.path and r.auth})

# Valid bodies, so that a refusal is about who calls, not about what was sent.
BODIES: dict[tuple[str, str], Any] = {
    ("PUT", "/api/v1/partners/{code}"): "partner",
    ("PATCH", "/api/v1/emergencies/{id}"): {"severity": "severe"},
    ("POST", "/api/v1/emergencies/{id}/requests"): {
        "requesting_country": "TUR",
        "needs": [{"resource_type": "shelter.blanket", "quantity": 1}],
    },
    ("PATCH", "/api/v1/requests/{id}/needs/{need_id}"): {"priority": "critical"},
    ("POST", "/api/v1/offers/{id}/withdraw"): {"reason": "test"},
    ("POST", "/api/v1/matches/{id}/accept"): {"quantity": 1},
    ("POST", "/api/v1/matches/{id}/decline"): {"reason": "test"},
    ("POST", "/api/v1/matches/{id}/dispatch"): {"quantity": 1},
    ("POST", "/api/v1/matches/{id}/deliver"): {"quantity": 1},
    ("POST", "/api/v1/alerts/{id}/acknowledge"): None,
    ("PATCH", "/api/v1/capacities/{id}"): {"quantity": 2},
    ("DELETE", "/api/v1/capacities/{id}"): None,
    ("POST", "/api/v1/capacities/{id}/offer"): "capacity_offer",
}
# What a duty officer gets where it is not 200 (a proposal is no commitment yet).
OFFICER = {("GET", "/api/v1/matches/{id}/edxl-rm"): 409}
# What a bystander POC (Germany, in a Türkiye ← Norway story) gets.
BYSTANDER = {
    ("GET", "/api/v1/offers/{id}"): 404,  # not even its existence
    ("GET", "/api/v1/offers/{id}/edxl-rm"): 404,
    ("GET", "/api/v1/matches/{id}/edxl-rm"): 404,
    ("GET", "/api/v1/alerts/{id}"): 403,
    ("GET", "/api/v1/alert-groups/{id}"): 403,
}


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
    offer = await nor.post(
        "/api/v1/offers",
        {
            "emergency_id": emergency["id"],
            "offering_country": "NOR",
            "channel": "direct",
            "items": [item("shelter.blanket", 100)],
        },
        expect=201,
    )
    alert = await officer.post(
        "/api/v1/alerts",
        {"identifier": "M1", "sender": "s", "sent": "2026-11-27T01:00:00+00:00", "event": "Flood"},
        expect=201,
    )
    partner = await officer.get("/api/v1/partners/NOR")
    capacity = await nor.post(
        "/api/v1/capacities",
        {
            "country": "NOR",
            "resource_type": "shelter.blanket",
            "quantity": 100,
            "readiness_hours": 12,
            "valid_until": "2099-01-01T00:00:00+00:00",
        },
        expect=201,
    )
    return {
        "code": "NOR",
        "id": {
            "/api/v1/partners/{code}": "NOR",
            "/api/v1/emergencies/": emergency["id"],
            "/api/v1/requests/": rfa["id"],
            "/api/v1/offers/": offer["id"],
            "/api/v1/matches/": offer["matches"][0]["id"],
            "/api/v1/alerts/": alert["id"],
            "/api/v1/alert-groups/": alert["group_id"],
            "/api/v1/capacities/": capacity["id"],
        },
        "emergency_id": emergency["id"],
        "need_id": rfa["needs"][0]["id"],
        "partner": partner,
        "tokens": {
            "admin": await make_token("admin"),
            "officer": officer.token,
            "observer": await make_token("observer"),
            "integration": await make_token("integration"),
            "deu": await make_token("poc", country="DEU"),
        },
    }


def _url(world: dict[str, Any], path: str, *, unknown: bool = False) -> str:
    prefix = path.split("{")[0]
    value = world["id"].get(path) or world["id"][prefix]
    url = path.replace("{code}", "XXX" if unknown else value)
    url = url.replace("{id}", "zzz_0000000000000000" if unknown else value)
    return url.replace("{need_id}", "ned_0000000000000000" if unknown else world["need_id"])


def _body(world: dict[str, Any], method: str, path: str, unknown: bool) -> Any:
    body = BODIES.get((method, path))
    if body == "partner":  # the record as read, its code naming the path's partner
        return {**world["partner"], "code": None} if unknown else world["partner"]
    if body == "capacity_offer":  # a valid offer of the capacity to the world's emergency
        return {"emergency_id": world["emergency_id"], "quantity": 1}
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
    resp = await client.request(
        method,
        _url(world, path, unknown=unknown),
        headers=headers,
        json=_body(world, method, path, unknown),
    )
    assert resp.status < 500, (method, path, resp.status, await resp.text())
    return resp.status


def test_every_id_route_is_covered() -> None:
    for method, path in ID_ROUTES:
        assert path in {"/api/v1/partners/{code}"} or re.sub(r"\{.*", "", path).rsplit("/", 1)[
            0
        ] + "/" in {
            "/api/v1/emergencies/",
            "/api/v1/requests/",
            "/api/v1/offers/",
            "/api/v1/matches/",
            "/api/v1/alerts/",
            "/api/v1/alert-groups/",
            "/api/v1/capacities/",
        }
        if method != "GET":
            assert (method, path) in BODIES, f"add a valid body for {method} {path}"


@pytest.mark.parametrize(("method", "path"), ID_ROUTES)
async def test_matrix(client: Client, world: dict[str, Any], method: str, path: str) -> None:
    tokens = world["tokens"]
    assert await _call(client, world, method, path, None) == 401
    assert await _call(client, world, method, path, "eadrcc_forged") == 401
    if method == "GET":
        officer = OFFICER.get((method, path), 200)
        assert await _call(client, world, method, path, tokens["officer"]) == officer
        expected = BYSTANDER.get((method, path), 200)
        assert await _call(client, world, method, path, tokens["deu"]) == expected
    else:
        for who in ("observer", "integration", "deu"):
            status = await _call(client, world, method, path, tokens[who])
            assert status == 403, (who, method, path, status)
    # Ids that do not exist are 404 for those who could otherwise act.
    caller = tokens["admin"] if path.startswith("/api/v1/partners") else tokens["officer"]
    assert await _call(client, world, method, path, caller, unknown=True) == 404
