"""Every mutating operations endpoint refuses a POC acting for another country (403),
and read-only roles; objects a POC may not see are 404 to it."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import TokenFactory
from tests.integration.ops_helpers import Api, api, emergency_body, item

Client = TestClient  # type: ignore[type-arg]


@pytest.fixture
async def world(client: Client, make_token: TokenFactory) -> dict[str, Any]:
    """Türkiye asks, Norway offers; Germany's POC is a bystander."""
    roles = {
        "officer": await api(client, make_token, "duty_officer"),
        "tur": await api(client, make_token, "poc", "TUR"),
        "nor": await api(client, make_token, "poc", "NOR"),
        "deu": await api(client, make_token, "poc", "DEU"),
        "observer": await api(client, make_token, "observer"),
        "integration": await api(client, make_token, "integration"),
    }
    emergency = await roles["officer"].post("/api/v1/emergencies", emergency_body(), expect=201)
    rfa = await roles["tur"].post(
        f"/api/v1/emergencies/{emergency['id']}/requests",
        {
            "requesting_country": "TUR",
            "needs": [{"resource_type": "shelter.tent.family", "quantity": 100}],
        },
        expect=201,
    )
    offer = await roles["nor"].post(
        "/api/v1/offers",
        {
            "emergency_id": emergency["id"],
            "offering_country": "NOR",
            "channel": "direct",
            "items": [item("shelter.tent.family", 100)],
        },
        expect=201,
    )
    return {
        **roles,
        "emergency": emergency,
        "rfa": rfa,
        "offer": offer,
        "match": offer["matches"][0],
    }


def _calls(w: dict[str, Any]) -> dict[str, tuple[str, str, Any]]:
    e, rfa, offer, match = w["emergency"], w["rfa"], w["offer"], w["match"]
    need = rfa["needs"][0]
    return {
        "create_emergency": ("POST", "/api/v1/emergencies", emergency_body()),
        "update_emergency": ("PATCH", f"/api/v1/emergencies/{e['id']}", {"severity": "minor"}),
        "create_request": (
            "POST",
            f"/api/v1/emergencies/{e['id']}/requests",
            {
                "requesting_country": "TUR",
                "needs": [{"resource_type": "shelter.blanket", "quantity": 1}],
            },
        ),
        "amend_need": (
            "PATCH",
            f"/api/v1/requests/{rfa['id']}/needs/{need['id']}",
            {"quantity": 1},
        ),
        "create_offer": (
            "POST",
            "/api/v1/offers",
            {
                "emergency_id": e["id"],
                "offering_country": "NOR",
                "channel": "direct",
                "items": [item("shelter.blanket", 1)],
            },
        ),
        "withdraw_offer": ("POST", f"/api/v1/offers/{offer['id']}/withdraw", {}),
        "accept": ("POST", f"/api/v1/matches/{match['id']}/accept", {}),
        "decline": ("POST", f"/api/v1/matches/{match['id']}/decline", {"reason": "no"}),
        "dispatch": ("POST", f"/api/v1/matches/{match['id']}/dispatch", {"quantity": 1}),
        "deliver": ("POST", f"/api/v1/matches/{match['id']}/deliver", {"quantity": 1}),
    }


# Who may NOT make each call in this world (Türkiye asks, Norway offers).
REFUSED = {
    "create_emergency": ["nor", "deu", "observer", "integration"],
    "update_emergency": ["tur", "nor", "deu", "observer", "integration"],
    "create_request": ["nor", "deu", "observer", "integration"],
    "amend_need": ["nor", "deu", "observer", "integration"],
    "create_offer": ["tur", "deu", "observer", "integration"],
    "withdraw_offer": ["tur", "deu", "observer", "integration"],
    "accept": ["nor", "deu", "observer", "integration"],
    "decline": ["nor", "deu", "observer", "integration"],
    "dispatch": ["tur", "deu", "observer", "integration"],
    "deliver": ["deu", "observer", "integration"],
}


@pytest.mark.parametrize("call", sorted(REFUSED))
async def test_refused_callers_get_403_and_change_nothing(
    world: dict[str, Any], call: str, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn:
        before = await _snapshot(conn)
    method, path, body = _calls(world)[call]
    for who in REFUSED[call]:
        caller: Api = world[who]
        problem = await caller.call(method, path, body, expect=403)
        assert problem["status"] == 403 and problem["detail"], (call, who)
    async with pool.acquire() as conn:
        assert await _snapshot(conn) == before, f"a refused {call} changed something"


async def _snapshot(conn: asyncpg.Connection) -> list[Any]:
    return [
        await conn.fetchval("SELECT max(seq) FROM events"),
        await conn.fetchval("SELECT count(*) FROM emergencies"),
        await conn.fetch("SELECT id, quantity, allocated, status, version FROM needs ORDER BY id"),
        await conn.fetch("SELECT id, status FROM offers ORDER BY id"),
        await conn.fetch("SELECT id, status, quantity FROM matches ORDER BY id"),
    ]


async def test_the_right_callers_succeed(world: dict[str, Any]) -> None:
    tur, nor, match = world["tur"], world["nor"], world["match"]
    await tur.post(f"/api/v1/matches/{match['id']}/accept", {"quantity": 10}, expect=200)
    await nor.post(f"/api/v1/matches/{match['id']}/dispatch", {"quantity": 10}, expect=200)
    await nor.post(f"/api/v1/matches/{match['id']}/deliver", {"quantity": 5}, expect=200)
    await tur.post(f"/api/v1/matches/{match['id']}/deliver", {"quantity": 5}, expect=200)
    own = await tur.post("/api/v1/emergencies", emergency_body(title="Aftershock"), expect=201)
    assert own["countries"] == ["TUR"]


async def test_a_bystander_cannot_see_offers_or_matches(world: dict[str, Any]) -> None:
    offer, e = world["offer"], world["emergency"]
    await world["deu"].get(f"/api/v1/offers/{offer['id']}", expect=404)
    assert (await world["tur"].get(f"/api/v1/offers/{offer['id']}"))["id"] == offer["id"]
    assert (await world["nor"].get(f"/api/v1/offers/{offer['id']}"))["id"] == offer["id"]
    assert await world["deu"].get(f"/api/v1/emergencies/{e['id']}/matches") == []
    assert len(await world["tur"].get(f"/api/v1/emergencies/{e['id']}/matches")) == 1
    assert len(await world["observer"].get(f"/api/v1/emergencies/{e['id']}/matches")) == 1


async def test_bystander_events_hide_offers_and_matches(world: dict[str, Any]) -> None:
    kinds_for = {}
    for who in ("deu", "tur", "nor", "officer"):
        page = await world[who].get("/api/v1/events?since=0&limit=5000")
        kinds_for[who] = {
            e["kind"] for e in page["events"] if e["emergency_id"] == world["emergency"]["id"]
        }
    # A bystander sees the RFA, and its own circulation of it: no offers, no matches.
    assert kinds_for["deu"] == {"emergency.created", "request.created", "request.circulated"}
    for who in ("tur", "nor", "officer"):
        assert {"offer.created", "match.proposed"} <= kinds_for[who]
