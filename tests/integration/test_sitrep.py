"""Situation reports: formats, as_of rebuilt from events, and the fold agrees with the tables."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import asyncpg
from aiohttp.test_utils import TestClient

from eadrcc.requests import store as requests_store
from tests.conftest import TokenFactory, bearer
from tests.integration.ops_helpers import api, emergency_body, item

Client = TestClient  # type: ignore[type-arg]


async def _scenario(client: Client, make_token: TokenFactory) -> tuple[str, dict, str]:  # type: ignore[type-arg]
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    rfa = await officer.post(
        f"/api/v1/emergencies/{emergency['id']}/requests",
        {
            "requesting_country": "TUR",
            "needs": [
                {"resource_type": "shelter.tent.family", "quantity": 100, "priority": "high"},
                {"resource_type": "power.generator", "quantity": 10, "priority": "critical"},
            ],
        },
        expect=201,
    )
    offer = await officer.post(
        "/api/v1/offers",
        {
            "emergency_id": emergency["id"],
            "offering_country": "NOR",
            "channel": "direct",
            "items": [item("shelter.tent.family", 60)],
        },
        expect=201,
    )
    return emergency["id"], rfa, offer["matches"][0]["id"]


async def test_formats_and_as_of(client: Client, make_token: TokenFactory) -> None:
    emergency_id, _rfa, match_id = await _scenario(client, make_token)
    officer = await api(client, make_token, "duty_officer")
    path = f"/api/v1/emergencies/{emergency_id}/sitrep"
    before = await officer.get(path)
    assert before["summary"]["needs"] == 2 and before["summary"]["needs_uncovered"] == 2
    assert [n["resource_type"] for n in before["outstanding"]] == [
        "power.generator",
        "shelter.tent.family",
    ]  # critical first
    moment = datetime.fromisoformat(before["as_of"])

    await officer.post(f"/api/v1/matches/{match_id}/accept", expect=200)
    after = await officer.get(path)
    tents = next(n for n in after["needs"] if n["resource_type"] == "shelter.tent.family")
    assert (tents["accepted"], tents["uncovered_quantity"]) == (60, 40)
    assert after["offers_by_nation"] == [
        {
            "country": "NOR",
            "channel": "direct",
            "resource_type": "shelter.tent.family",
            "offered": 60,
            "accepted": 60,
            "in_transit": 0,
            "delivered": 0,
            "withdrawn": 0,
        }
    ]

    then = await officer.get(
        f"{path}?as_of={(moment + timedelta(microseconds=1)).isoformat()}".replace("+", "%2B")
    )
    assert then["needs"] == before["needs"] and then["last_seq"] == before["last_seq"]
    too_early = await client.get(
        f"{path}?as_of=2000-01-01T00:00:00Z", headers=bearer(officer.token)
    )
    assert too_early.status == 404

    md = await client.get(path, headers={**bearer(officer.token), "Accept": "text/markdown"})
    assert md.content_type == "text/markdown"
    text = await md.text()
    assert "# Situation report: Kahramanmaraş earthquakes" in text
    assert "NOR | direct | shelter.tent.family | 60 | 60 | 0 | 0 | 0" in text

    sheet = await client.get(path, headers={**bearer(officer.token), "Accept": "text/csv"})
    rows = list(csv.DictReader(io.StringIO(await sheet.text())))
    assert {r["section"] for r in rows} == {"need", "offer", "supply"}
    assert next(r for r in rows if r["section"] == "offer")["accepted"] == "60"

    page = await client.get(
        path, headers={**bearer(officer.token), "Accept": "text/html;q=0.9, text/csv;q=0.1"}
    )
    assert page.content_type == "text/html" and "<table>" in await page.text()
    refused = await client.get(path, headers={**bearer(officer.token), "Accept": "image/png"})
    assert refused.status == 406


async def test_replayed_events_equal_the_tables(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    emergency_id, rfa, match_id = await _scenario(client, make_token)
    officer = await api(client, make_token, "duty_officer")
    await officer.post(f"/api/v1/matches/{match_id}/accept", {"quantity": 50}, expect=200)
    await officer.post(f"/api/v1/matches/{match_id}/dispatch", {"quantity": 20}, expect=200)
    await officer.call(
        "PATCH",
        f"/api/v1/requests/{rfa['id']}/needs/{rfa['needs'][1]['id']}",
        {"quantity": 12},
        expect=200,
    )
    report = await officer.get(f"/api/v1/emergencies/{emergency_id}/sitrep")
    async with pool.acquire() as conn:
        tables = await requests_store.pictures(conn, request_ids=[rfa["id"]])
    fields = [
        "requested",
        "proposed",
        "accepted",
        "in_transit",
        "delivered",
        "uncovered_quantity",
        "duplicated",
        "uncovered",
        "late",
        "at_risk",
        "eta",
    ]
    replayed = {n["need_id"]: {f: n[f] for f in fields} for n in report["needs"]}
    direct = {n.id: {f: n.model_dump(mode="json")[f] for f in fields} for n in tables}
    assert replayed == direct
