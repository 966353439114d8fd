"""Circulation against real PostgreSQL: distribution lists, one `request.circulated`
per nation for every RFA and change, and the response matrix's rules."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from eadrcc import db
from eadrcc.circulation import service as circulation
from tests.conftest import TokenFactory
from tests.integration.ops_helpers import Api, api, emergency_body, item
from tests.integration.ws_helpers import next_message, stream

Client = TestClient  # type: ignore[type-arg]
BLANKETS = {"resource_type": "shelter.blanket", "quantity": 100}


@pytest.fixture
async def officer(client: Client, make_token: TokenFactory) -> Api:
    return await api(client, make_token, "duty_officer")


@pytest.fixture
async def tur(client: Client, make_token: TokenFactory) -> Api:
    return await api(client, make_token, "poc", "TUR")


@pytest.fixture
async def nor(client: Client, make_token: TokenFactory) -> Api:
    return await api(client, make_token, "poc", "NOR")


async def file_rfa(officer: Api, tur: Api, **emergency: Any) -> tuple[dict[str, Any], Any]:
    em = await officer.post("/api/v1/emergencies", emergency_body(**emergency), expect=201)
    rfa = await tur.post(
        f"/api/v1/emergencies/{em['id']}/requests",
        {"requesting_country": "TUR", "needs": [BLANKETS]},
        expect=201,
    )
    return em, rfa


async def events_of(who: Api, kind: str) -> list[dict[str, Any]]:
    page = await who.get("/api/v1/events?since=0&limit=1000")
    return [e for e in page["events"] if e["kind"] == kind]


async def partner_codes(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as conn:
        return [r["code"] for r in await conn.fetch("SELECT code FROM partners ORDER BY code")]


async def test_an_rfa_goes_to_every_ally_and_partner_but_the_requesting_nation(
    officer: Api, tur: Api, nor: Api, pool: asyncpg.Pool
) -> None:
    em, rfa = await file_rfa(officer, tur)
    expected = [c for c in await partner_codes(pool) if c != "TUR"]
    assert len(expected) > 60

    matrix = await officer.get(f"/api/v1/emergencies/{em['id']}/responses")
    assert [r["country"] for r in matrix] == expected
    assert {r["state"] for r in matrix} == {"notified"}
    assert all(r["notified_at"] and r["acknowledged_at"] is None for r in matrix)

    circulated = await events_of(officer, "request.circulated")
    assert sorted(e["data"]["country"] for e in circulated) == expected
    one = (await events_of(nor, "request.circulated"))[0]  # Norway sees its own only
    assert one["data"]["country"] == "NOR" and one["data"]["change"] == "filed"
    assert one["data"]["request"]["id"] == rfa["id"]
    assert one["data"]["request"]["needs"][0]["quantity"] == 100
    assert one["data"]["exercise"] is False and one["data"]["marking"] is None
    assert len(await events_of(nor, "request.circulated")) == 1
    assert await events_of(tur, "request.circulated") == []  # not to the requester

    dist = await officer.get(f"/api/v1/emergencies/{em['id']}/distribution")
    assert dist["countries"] == expected and dist["explicit"] is False


async def test_every_change_is_circulated_with_the_current_needs(
    officer: Api, tur: Api, nor: Api
) -> None:
    _, rfa = await file_rfa(officer, tur)
    need = rfa["needs"][0]["id"]
    await tur.call(
        "PATCH", f"/api/v1/requests/{rfa['id']}/needs/{need}", {"quantity": 250}, expect=200
    )
    await tur.call(
        "PATCH", f"/api/v1/requests/{rfa['id']}/needs/{need}", {"status": "cancelled"}, expect=200
    )
    seen = await events_of(nor, "request.circulated")
    assert [e["data"]["change"] for e in seen] == ["filed", "need_amended", "need_cancelled"]
    assert seen[1]["data"]["need_id"] == need
    assert seen[1]["data"]["request"]["needs"][0]["quantity"] == 250
    assert seen[2]["data"]["request"]["needs"][0]["status"] == "cancelled"
    # An amendment is no new ask: Norway's row is as it was.
    assert seen[2]["data"]["response"]["version"] == 1


async def test_an_exercise_goes_to_nobody_until_its_list_is_set_and_says_exercise(
    officer: Api, tur: Api, nor: Api
) -> None:
    em, rfa = await file_rfa(officer, tur, exercise=True)
    assert await officer.get(f"/api/v1/emergencies/{em['id']}/responses") == []
    assert await events_of(officer, "request.circulated") == []

    dist = await officer.call(
        "PUT", f"/api/v1/emergencies/{em['id']}/distribution", {"countries": ["NOR", "DEU"]}
    )
    assert dist["countries"] == ["DEU", "NOR"] and dist["added"] == ["DEU", "NOR"]
    # Added nations get the open RFAs at once.
    sent = await events_of(officer, "request.circulated")
    assert sorted(e["data"]["country"] for e in sent) == ["DEU", "NOR"]
    assert {e["data"]["change"] for e in sent} == {"distributed"}
    assert all(e["data"]["marking"] == "EXERCISE" and e["data"]["exercise"] for e in sent)
    assert [e["data"]["request"]["id"] for e in sent] == [rfa["id"]] * 2

    # A later change goes to the list as it is now.
    await tur.call(
        "PATCH",
        f"/api/v1/requests/{rfa['id']}/needs/{rfa['needs'][0]['id']}",
        {"priority": "critical"},
        expect=200,
    )
    assert len(await events_of(nor, "request.circulated")) == 2


# ---- what a nation declared it holds ---------------------------------------------


def _capacity(country: str, resource_type: str) -> dict[str, Any]:
    return {
        "country": country,
        "resource_type": resource_type,
        "quantity": 2,
        "readiness_hours": 10,
        "valid_until": (datetime.now(UTC) + timedelta(days=365)).isoformat(),
    }


async def test_a_nation_is_asked_for_what_it_declared_and_the_matrix_marks_it(
    officer: Api, tur: Api, nor: Api, pool: asyncpg.Pool
) -> None:
    heavy = await nor.post("/api/v1/capacities", _capacity("NOR", "usar.heavy"), expect=201)
    slow = await nor.post(
        "/api/v1/capacities", {**_capacity("NOR", "usar.heavy"), "readiness_hours": 40}
    )
    tents = await officer.post("/api/v1/capacities", _capacity("POL", "shelter.tent.family"))
    stale = await officer.post("/api/v1/capacities", _capacity("DEU", "usar.heavy"))
    await pool.execute(
        "UPDATE capacities SET valid_until = now() - interval '1 day' WHERE id = $1", stale["id"]
    )
    em = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    rfa = await tur.post(
        f"/api/v1/emergencies/{em['id']}/requests",
        {
            "requesting_country": "TUR",
            "needs": [BLANKETS, {"resource_type": "usar.medium", "quantity": 1}],
        },
        expect=201,
    )
    usar = rfa["needs"][1]["id"]
    asked = {
        "need_id": usar,
        "request_id": rfa["id"],
        "need_type": "usar.medium",
        "capacity_id": heavy["id"],  # the readier of Norway's two
        "resource_type": "usar.heavy",
        "quantity": 2,
    }
    (mine,) = await events_of(nor, "request.circulated")
    assert mine["data"]["your_declared_capacities"] == [asked]
    by_country = {e["data"]["country"]: e for e in await events_of(officer, "request.circulated")}
    assert by_country["POL"]["data"]["your_declared_capacities"] == []  # tents fill nothing asked
    assert by_country["DEU"]["data"]["your_declared_capacities"] == []  # expired
    assert slow["id"] != heavy["id"] and tents["resource_type"] == "shelter.tent.family"

    path = f"/api/v1/emergencies/{em['id']}/responses"
    rows = {r["country"]: r for r in await officer.get(path)}
    assert rows["NOR"]["declared_capacities"] == [asked]
    assert [c for c, r in rows.items() if r["declared_capacities"]] == ["NOR"]
    assert [r["declared_capacities"] for r in await nor.get(path)] == [[asked]]

    # A need no longer open asks nothing: the change says so, and the mark goes.
    await tur.call("PATCH", f"/api/v1/requests/{rfa['id']}/needs/{usar}", {"status": "cancelled"})
    *_, cancelled = await events_of(nor, "request.circulated")
    assert cancelled["data"]["change"] == "need_cancelled"
    assert cancelled["data"]["your_declared_capacities"] == []
    assert all(not r["declared_capacities"] for r in await officer.get(path))


async def test_a_nation_added_to_the_list_is_asked_for_what_it_declared(
    officer: Api, tur: Api, nor: Api
) -> None:
    await nor.post("/api/v1/capacities", _capacity("NOR", "shelter.blanket"), expect=201)
    em, rfa = await file_rfa(officer, tur, exercise=True)
    path = f"/api/v1/emergencies/{em['id']}/distribution"
    await officer.call("PUT", path, {"countries": ["NOR", "DEU"]}, expect=200)
    sent = {e["data"]["country"]: e["data"] for e in await events_of(officer, "request.circulated")}
    assert [d["need_id"] for d in sent["NOR"]["your_declared_capacities"]] == [
        rfa["needs"][0]["id"]
    ]
    assert sent["DEU"]["your_declared_capacities"] == []


async def test_a_nation_taken_off_the_list_keeps_its_row_and_is_no_longer_chased(
    officer: Api, tur: Api
) -> None:
    em, _ = await file_rfa(officer, tur, exercise=True)
    path = f"/api/v1/emergencies/{em['id']}/distribution"
    await officer.call("PUT", path, {"countries": ["NOR", "DEU"]}, expect=200)
    dist = await officer.call("PUT", path, {"countries": ["DEU"]}, expect=200)
    assert dist["removed"] == ["NOR"] and dist["added"] == []
    rows = {r["country"]: r for r in await officer.get(f"/api/v1/emergencies/{em['id']}/responses")}
    assert rows["NOR"]["on_distribution"] is False and rows["DEU"]["on_distribution"] is True
    # Back on the list: a new ask.
    await officer.call("PUT", path, {"countries": ["DEU", "NOR"]}, expect=200)
    rows = {r["country"]: r for r in await officer.get(f"/api/v1/emergencies/{em['id']}/responses")}
    assert rows["NOR"]["on_distribution"] is True


async def test_distribution_refuses_bad_lists_and_non_officers(
    officer: Api, tur: Api, client: Client, make_token: TokenFactory
) -> None:
    em, _ = await file_rfa(officer, tur)
    path = f"/api/v1/emergencies/{em['id']}/distribution"
    for body, field in (
        ({"countries": ["NOR", "XYZ"]}, "countries"),
        ({"countries": ["NOR", "NOR"]}, "countries"),
        ({"countries": ["nor"]}, "countries.0"),
        ({}, "countries"),
        ({"countries": [], "extra": 1}, "extra"),
    ):
        problem = await officer.call("PUT", path, body, expect=422)
        assert field in problem["errors"], (body, problem)
    for role, country in (("observer", None), ("poc", "TUR"), ("integration", None)):
        who = await api(client, make_token, role, country)
        await who.call("PUT", path, {"countries": ["NOR"]}, expect=403)
    assert (await officer.get(path))["explicit"] is False  # nothing changed
    await officer.call("PATCH", f"/api/v1/emergencies/{em['id']}", {"status": "closed"})
    await officer.call("PUT", path, {"countries": ["NOR"]}, expect=409)


async def test_acknowledge_and_unable_with_their_rules(
    officer: Api, tur: Api, nor: Api, client: Client, make_token: TokenFactory
) -> None:
    em, _ = await file_rfa(officer, tur)
    base = f"/api/v1/emergencies/{em['id']}/responses"
    row = await nor.post(f"{base}/NOR", {"state": "acknowledged"}, expect=200)
    assert row["state"] == "acknowledged" and row["acknowledged_at"]
    updated = await events_of(nor, "response.updated")
    assert [e["data"]["state"] for e in updated] == ["acknowledged"]

    # Another nation's answer is not Germany's to give.
    deu = await api(client, make_token, "poc", "DEU")
    problem = await deu.post(f"{base}/NOR", {"state": "unable", "reason": "x"}, expect=403)
    assert problem["status"] == 403
    await (await api(client, make_token, "observer")).post(
        f"{base}/NOR", {"state": "acknowledged"}, expect=403
    )

    missing = await nor.post(f"{base}/NOR", {"state": "unable"}, expect=422)
    assert "reason" in missing["errors"]
    bad = await nor.post(f"{base}/NOR", {"state": "seen"}, expect=422)
    assert "state" in bad["errors"]
    row = await nor.post(f"{base}/NOR", {"state": "unable", "reason": "no stock"}, expect=200)
    assert row["state"] == "unable" and row["reason"] == "no stock"

    # A duty officer records an answer given by telephone.
    row = await officer.post(f"{base}/DEU", {"state": "acknowledged"}, expect=200)
    assert row["state"] == "acknowledged"
    await officer.post(f"{base}/TUR", {"state": "acknowledged"}, expect=409)  # not sent to TUR
    await officer.post(f"{base}/XXX", {"state": "acknowledged"}, expect=404)
    await officer.post(
        "/api/v1/emergencies/emg_0000000000000000/responses/NOR",
        {"state": "acknowledged"},
        expect=404,
    )

    # A POC sees its own row only; an integration nothing.
    assert [r["country"] for r in await nor.get(base)] == ["NOR"]
    assert await tur.get(base) == []
    await (await api(client, make_token, "integration")).get(base, expect=403)


async def test_seen_offered_and_a_new_rfa_asking_again(officer: Api, tur: Api, nor: Api) -> None:
    em, rfa = await file_rfa(officer, tur)
    base = f"/api/v1/emergencies/{em['id']}/responses"

    async def state(country: str) -> dict[str, Any]:
        rows = await officer.get(base)
        return next(r for r in rows if r["country"] == country)

    await tur.get(f"/api/v1/requests/{rfa['id']}")  # the requester reading is no "seen"
    await nor.get(f"/api/v1/requests/{rfa['id']}")
    assert (await state("NOR"))["state"] == "seen"
    assert (await state("DEU"))["state"] == "notified"

    offer = await nor.post(
        "/api/v1/offers",
        {
            "emergency_id": em["id"],
            "offering_country": "NOR",
            "channel": "direct",
            "items": [item("shelter.blanket", 10)],
        },
        expect=201,
    )
    row = await state("NOR")
    assert row["state"] == "offered" and row["offers"] == 1
    conflict = await nor.post(f"{base}/NOR", {"state": "unable", "reason": "x"}, expect=409)
    assert conflict["current_state"] == "offered"

    await officer.post(f"{base}/DEU", {"state": "unable", "reason": "none left"}, expect=200)
    # A second RFA is a new ask: Germany's answer no longer holds; Norway's offer does.
    await tur.post(
        f"/api/v1/emergencies/{em['id']}/requests",
        {
            "requesting_country": "TUR",
            "needs": [{"resource_type": "shelter.tent.family", "quantity": 5}],
        },
        expect=201,
    )
    deu = await state("DEU")
    assert deu["state"] == "notified" and deu["reason"] is None
    assert (await state("NOR"))["state"] == "offered"

    await nor.post(f"/api/v1/offers/{offer['id']}/withdraw", {"reason": "recalled"}, expect=200)
    row = await state("NOR")
    assert row["state"] == "acknowledged" and row["offers"] == 0


async def test_mark_delivered_moves_notified_rows_only(
    officer: Api, tur: Api, nor: Api, pool: asyncpg.Pool
) -> None:
    em, rfa = await file_rfa(officer, tur)
    await nor.get(f"/api/v1/requests/{rfa['id']}")  # Norway: seen
    async with db.transaction(pool) as conn:
        await circulation.mark_delivered(conn, emergency_id=em["id"], country="DEU")
        await circulation.mark_delivered(conn, emergency_id=em["id"], country="NOR")
        await circulation.mark_delivered(conn, emergency_id=em["id"], country="TUR")  # no row
    rows = {r["country"]: r for r in await officer.get(f"/api/v1/emergencies/{em['id']}/responses")}
    assert rows["DEU"]["state"] == "delivered" and rows["DEU"]["delivered_at"]
    assert rows["NOR"]["state"] == "seen"  # a late delivery report undoes nothing
    async with pool.acquire() as conn:
        history = await conn.fetch(
            "SELECT version, record->>'state' AS state FROM response_history"
            " WHERE emergency_id = $1 AND country = 'DEU' ORDER BY version",
            em["id"],
        )
    assert [(h["version"], h["state"]) for h in history] == [(1, "notified"), (2, "delivered")]


async def test_an_open_console_of_the_nation_makes_it_delivered(
    client: Client, officer: Api, tur: Api, nor: Api, make_token: TokenFactory
) -> None:
    """Norway's console is open when the RFA is filed; Germany has none. A console
    that resumes later with `since` receives it in its backlog: delivered too."""
    url = str(client.make_url("/"))
    em = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    base = f"/api/v1/emergencies/{em['id']}/responses"

    async def rows() -> dict[str, dict[str, Any]]:
        return {r["country"]: r for r in await officer.get(base)}

    async with stream(url, nor.token) as (ws, _):
        await tur.post(
            f"/api/v1/emergencies/{em['id']}/requests",
            {"requesting_country": "TUR", "needs": [BLANKETS]},
            expect=201,
        )
        message = await next_message(ws)
        while message.get("kind") != "request.circulated":
            message = await next_message(ws)
        assert message["data"]["country"] == "NOR"
        async with asyncio.timeout(30):
            while (await rows())["NOR"]["state"] != "delivered":
                await asyncio.sleep(0.1)
    assert (await rows())["DEU"]["state"] == "notified"
    assert (await rows())["NOR"]["delivered_at"]

    deu = await make_token("poc", country="DEU")
    async with stream(url, deu, since=0) as (ws, _):
        message = await next_message(ws)
        while message.get("kind") != "request.circulated":
            message = await next_message(ws)
        async with asyncio.timeout(30):
            while (await rows())["DEU"]["state"] != "delivered":
                await asyncio.sleep(0.1)
    assert (await rows())["FRA"]["state"] == "notified"  # nobody's console, no channel
