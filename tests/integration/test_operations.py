"""Emergencies, RFAs, offers, proposals, acceptance, dispatch and delivery."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.conftest import TokenFactory
from tests.integration.ops_helpers import Api, api, emergency_body, item

Client = TestClient  # type: ignore[type-arg]


async def _setup(client: Client, make_token: TokenFactory) -> tuple[Api, Api, Api, str, dict]:  # type: ignore[type-arg]
    officer = await api(client, make_token, "duty_officer")
    tur = await api(client, make_token, "poc", "TUR")
    nor = await api(client, make_token, "poc", "NOR")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    rfa = await tur.post(
        f"/api/v1/emergencies/{emergency['id']}/requests",
        {
            "requesting_country": "TUR",
            "needs": [
                {
                    "resource_type": "usar.medium",
                    "quantity": 2,
                    "priority": "critical",
                    "needed_by": "2026-02-07T06:00:00+03:00",
                    "delivery": {"lat": 37.57, "lon": 36.93, "place": "Kahramanmaraş"},
                },
                {"resource_type": "shelter.tent.family", "quantity": 1000, "priority": "high"},
            ],
        },
        expect=201,
    )
    return officer, tur, nor, emergency["id"], rfa


async def test_offer_is_matched_accepted_dispatched_and_delivered(
    client: Client, make_token: TokenFactory
) -> None:
    officer, tur, nor, emergency_id, rfa = await _setup(client, make_token)
    usar_need, tent_need = rfa["needs"]
    assert usar_need["uncovered"] and usar_need["requested"] == 2

    offer = await nor.post(
        "/api/v1/offers",
        {
            "emergency_id": emergency_id,
            "offering_country": "NOR",
            "channel": "direct",
            "items": [
                item(
                    "usar.heavy",
                    1,
                    origin={"lat": 59.9, "lon": 10.7},
                    credentials=["insarag.classified"],
                    self_sufficient=True,
                ),
                item("shelter.tent.winterised", 600),
            ],
        },
        expect=201,
    )
    by_need = {m["need_id"]: m for m in offer["matches"]}
    assert by_need[usar_need["id"]]["quantity"] == 1  # heavy fills medium (substitute)
    assert by_need[tent_need["id"]]["quantity"] == 600  # winterised fills family

    picture = await tur.get(f"/api/v1/requests/{rfa['id']}")
    tents = next(n for n in picture["needs"] if n["id"] == tent_need["id"])
    # A proposal is not cover: all 1,000 tents are still uncovered.
    assert (tents["proposed"], tents["accepted"], tents["uncovered_quantity"]) == (600, 0, 1000)

    match = by_need[tent_need["id"]]
    accepted = await tur.post(
        f"/api/v1/matches/{match['id']}/accept", {"quantity": 500}, expect=200
    )
    assert accepted["status"] == "accepted" and accepted["quantity"] == 500
    # The remaining 100 tents are proposed again for the remaining gap.
    picture = await tur.get(f"/api/v1/requests/{rfa['id']}")
    tents = next(n for n in picture["needs"] if n["id"] == tent_need["id"])
    assert (tents["accepted"], tents["proposed"], tents["uncovered_quantity"]) == (500, 100, 500)

    moved = await nor.post(
        f"/api/v1/matches/{match['id']}/dispatch",
        {"quantity": 300, "eta": "2026-02-08T12:00:00+03:00"},
        expect=200,
    )
    assert moved["status"] == "in_transit"
    tents = next(
        n
        for n in (await tur.get(f"/api/v1/requests/{rfa['id']}"))["needs"]
        if n["id"] == tent_need["id"]
    )
    # accepted, in transit and delivered are disjoint; the dispatch's ETA is on the need.
    assert (tents["accepted"], tents["in_transit"], tents["uncovered_quantity"]) == (200, 300, 500)
    assert [(d["match_id"], d["quantity"]) for d in tents["dispatches"]] == [(match["id"], 300)]
    assert tents["dispatches"][0]["eta"] == "2026-02-08T09:00:00Z"
    await tur.post(f"/api/v1/matches/{match['id']}/deliver", {"quantity": 300}, expect=200)
    await tur.post(f"/api/v1/matches/{match['id']}/deliver", {"quantity": 300}, expect=409)
    done = await officer.post(
        f"/api/v1/matches/{match['id']}/deliver", {"quantity": 200}, expect=200
    )
    assert done["status"] == "delivered" and done["delivered"] == 500
    tents = next(
        n
        for n in (await tur.get(f"/api/v1/requests/{rfa['id']}"))["needs"]
        if n["id"] == tent_need["id"]
    )
    assert (tents["delivered"], tents["in_transit"]) == (500, 0)
    again = await tur.post(f"/api/v1/matches/{match['id']}/accept", expect=409)
    assert again["current_status"] == "delivered"


async def test_a_need_is_proposed_no_more_than_it_lacks(
    client: Client, make_token: TokenFactory
) -> None:
    officer, tur, nor, emergency_id, rfa = await _setup(client, make_token)
    usar_need = rfa["needs"][0]
    first = await nor.post(
        "/api/v1/offers",
        {
            "emergency_id": emergency_id,
            "offering_country": "NOR",
            "channel": "direct",
            "items": [item("usar.medium", 2)],
        },
        expect=201,
    )
    second = await officer.post(
        "/api/v1/offers",
        {
            "emergency_id": emergency_id,
            "offering_country": "DEU",
            "channel": "eu_ucpm",
            "items": [item("usar.heavy", 2)],
        },
        expect=201,
    )
    # The need lacks 2 and Norway's 2 stand proposed: Germany's teams are listed as an
    # alternative, not proposed, and nothing counts as cover before acceptance.
    assert second["matches"] == []
    need = (await tur.get(f"/api/v1/requests/{rfa['id']}"))["needs"][0]
    assert (need["proposed"], need["uncovered_quantity"], need["duplicated"]) == (2, 2, False)
    assert [a["offer_item_id"] for a in need["alternatives"]] == [second["items"][0]["id"]]

    # Norway's proposal is declined: the German teams take its place, and the
    # declined pairing never comes back.
    await tur.post(
        f"/api/v1/matches/{first['matches'][0]['id']}/decline", {"reason": "no"}, expect=200
    )
    matches = await officer.get(f"/api/v1/emergencies/{emergency_id}/matches?status=proposed")
    assert [(m["offering_country"], m["quantity"]) for m in matches] == [("DEU", 2)]
    await tur.post(f"/api/v1/matches/{matches[0]['id']}/accept", expect=200)
    need = (await tur.get(f"/api/v1/requests/{rfa['id']}"))["needs"][0]
    assert (need["accepted"], need["proposed"], need["uncovered"], need["alternatives"]) == (
        2,
        0,
        False,
        [],
    )

    # A second USAR need arrives: Norway's free teams are proposed for it.
    more = await tur.post(
        f"/api/v1/emergencies/{emergency_id}/requests",
        {
            "requesting_country": "TUR",
            "needs": [{"resource_type": "usar.medium", "quantity": 1, "priority": "critical"}],
        },
        expect=201,
    )
    assert more["needs"][0]["proposed"] == 1
    assert usar_need["id"] != more["needs"][0]["id"]


async def test_over_accepting_is_409(client: Client, make_token: TokenFactory) -> None:
    _officer, tur, nor, emergency_id, _rfa = await _setup(client, make_token)
    offer = await nor.post(
        "/api/v1/offers",
        {
            "emergency_id": emergency_id,
            "offering_country": "NOR",
            "channel": "direct",
            "items": [item("shelter.tent.family", 5000)],
        },
        expect=201,
    )
    match = offer["matches"][0]
    assert match["quantity"] == 1000
    problem = await tur.post(
        f"/api/v1/matches/{match['id']}/accept", {"quantity": 1001}, expect=409
    )
    assert "exceed the need" in problem["detail"]


async def test_amend_and_cancel_keep_history(client: Client, make_token: TokenFactory) -> None:
    _officer, tur, nor, emergency_id, rfa = await _setup(client, make_token)
    tent = rfa["needs"][1]
    offer = await nor.post(
        "/api/v1/offers",
        {
            "emergency_id": emergency_id,
            "offering_country": "NOR",
            "channel": "direct",
            "items": [item("shelter.tent.family", 300)],
        },
        expect=201,
    )
    await tur.post(
        f"/api/v1/matches/{offer['matches'][0]['id']}/accept", {"quantity": 200}, expect=200
    )
    path = f"/api/v1/requests/{rfa['id']}/needs/{tent['id']}"
    low = await tur.call("PATCH", path, {"quantity": 150}, expect=409)
    assert low["accepted"] == 200
    amended = await tur.call("PATCH", path, {"quantity": 250, "priority": "critical"}, expect=200)
    assert (amended["requested"], amended["priority"], amended["version"]) == (250, "critical", 2)
    assert amended["proposed"] == 50  # the rest of Norway's tents, shrunk to the new gap
    cancelled = await tur.call("PATCH", path, {"status": "cancelled"}, expect=200)
    assert cancelled["status"] == "cancelled" and cancelled["accepted"] == 0
    offer_now = await nor.get(f"/api/v1/offers/{offer['id']}")
    assert offer_now["items"][0]["allocated"] == 0
    await tur.call("PATCH", path, {"quantity": 10}, expect=409)


async def test_withdrawal_releases_and_rematches(client: Client, make_token: TokenFactory) -> None:
    officer, tur, nor, emergency_id, rfa = await _setup(client, make_token)
    tent = rfa["needs"][1]
    norway = await nor.post(
        "/api/v1/offers",
        {
            "emergency_id": emergency_id,
            "offering_country": "NOR",
            "channel": "direct",
            "items": [item("shelter.tent.family", 1000)],
        },
        expect=201,
    )
    await tur.post(f"/api/v1/matches/{norway['matches'][0]['id']}/accept", expect=200)
    sweden = await officer.post(
        "/api/v1/offers",
        {
            "emergency_id": emergency_id,
            "offering_country": "SWE",
            "channel": "eu_ucpm",
            "items": [item("shelter.tent.family", 400)],
        },
        expect=201,
    )
    assert sweden["matches"] == []  # nothing left to fill
    withdrawn = await nor.post(
        f"/api/v1/offers/{norway['id']}/withdraw", {"reason": "aircraft unavailable"}, expect=200
    )
    assert withdrawn["status"] == "withdrawn"
    need = next(
        n
        for n in (await tur.get(f"/api/v1/requests/{rfa['id']}"))["needs"]
        if n["id"] == tent["id"]
    )
    assert (need["accepted"], need["proposed"]) == (0, 400)  # Sweden's tents step in
    await nor.post(f"/api/v1/offers/{norway['id']}/withdraw", expect=409)


async def test_same_help_through_a_second_channel_is_not_counted_twice(
    client: Client, make_token: TokenFactory
) -> None:
    _officer, tur, nor, emergency_id, rfa = await _setup(client, make_token)
    body = {
        "emergency_id": emergency_id,
        "offering_country": "NOR",
        "items": [item("shelter.tent.family", 300)],
    }
    direct = await nor.post("/api/v1/offers", {**body, "channel": "direct"}, expect=201)
    via_eu = await nor.post("/api/v1/offers", {**body, "channel": "eu_ucpm"}, expect=201)
    assert via_eu["items"][0]["possible_duplicate_of"] == direct["items"][0]["id"]
    assert via_eu["matches"] == []
    need = (await tur.get(f"/api/v1/requests/{rfa['id']}"))["needs"][1]
    assert need["proposed"] == 300


async def test_idempotent_posts(client: Client, make_token: TokenFactory) -> None:
    officer, tur, nor, emergency_id, _rfa = await _setup(client, make_token)
    body = {
        "emergency_id": emergency_id,
        "offering_country": "NOR",
        "channel": "direct",
        "items": [item("shelter.blanket", 5000)],
    }
    key = {"Idempotency-Key": "nor-offer-0001"}
    first = await nor.post("/api/v1/offers", body, headers=key, expect=201)
    again = await nor.post("/api/v1/offers", body, headers=key, expect=201)
    assert again == first
    other = await nor.post(
        "/api/v1/offers", {**body, "channel": "bilateral"}, headers=key, expect=409
    )
    assert other["status"] == 409
    offers = await officer.get(f"/api/v1/emergencies/{emergency_id}/matches")
    assert len({m["offer_id"] for m in offers}) <= 1
    # The answer is stored with the COMMIT, written into its text: a key or a body
    # with quote and dollar-quote characters is replayed exactly.
    odd = {"Idempotency-Key": "it's-$v$-$v"}
    noted = {**body, "notes": "it's $v$ 'quoted' \\ $v"}
    first = await nor.post("/api/v1/offers", noted, headers=odd, expect=201)
    assert first["notes"] == noted["notes"]
    assert await nor.post("/api/v1/offers", noted, headers=odd, expect=201) == first

    rfa_body = {
        "requesting_country": "TUR",
        "needs": [{"resource_type": "power.generator", "quantity": 50}],
    }
    path = f"/api/v1/emergencies/{emergency_id}/requests"
    r1 = await tur.post(path, rfa_body, headers={"Idempotency-Key": "rfa-7"}, expect=201)
    r2 = await tur.post(path, rfa_body, headers={"Idempotency-Key": "rfa-7"}, expect=201)
    assert r1["id"] == r2["id"]


async def test_bad_offers_change_nothing(client: Client, make_token: TokenFactory) -> None:
    officer, _tur, _nor, emergency_id, _rfa = await _setup(client, make_token)
    base = {"emergency_id": emergency_id, "offering_country": "NOR", "channel": "direct"}
    cases = [
        ({**base, "items": [item("no.such.type", 1)]}, 422, "items.0.resource_type"),
        (
            {**base, "items": [item("usar.heavy", 1, credentials=["who.emt.classified"])]},
            422,
            "items.0.credentials",
        ),
        (
            {**base, "items": [item("usar.heavy", 1, credentials=["nato.occ.evaluated"])]},
            422,
            "items.0.credentials",
        ),
        ({**base, "items": [item("usar.heavy", 0)]}, 422, "items.0.quantity"),
        (
            {**base, "items": [item("usar.heavy", 1, available_from="2026-02-06T06:00:00")]},
            422,
            "items.0.available_from",
        ),
        ({**base, "channel": "pigeon", "items": [item("usar.heavy", 1)]}, 422, "channel"),
        ({**base, "items": []}, 422, "items"),
        ({**base, "items": [item("usar.heavy", 1)], "bribe": 1}, 422, "bribe"),
        (
            {**base, "emergency_id": "emg_0000000000", "items": [item("usar.heavy", 1)]},
            422,
            "emergency_id",
        ),
    ]
    for body, status, field in cases:
        problem = await officer.post("/api/v1/offers", body, expect=status)
        assert field in problem["errors"], (field, problem)
    matches = await officer.get(f"/api/v1/emergencies/{emergency_id}/matches")
    assert matches == []
    # A closed emergency takes no offers: 409, and still nothing was offered.
    await officer.call(
        "PATCH", f"/api/v1/emergencies/{emergency_id}", {"status": "closed"}, expect=200
    )
    good = {**base, "items": [item("usar.heavy", 1)]}
    closed = await officer.post("/api/v1/offers", good, expect=409)
    assert closed["current_status"] == "closed"
    logged = (await officer.get("/api/v1/events?since=0&limit=1000"))["events"]
    assert not [e for e in logged if e["kind"] == "offer.created"]


async def test_resource_types_and_emergency_listing(
    client: Client, make_token: TokenFactory
) -> None:
    officer = await api(client, make_token, "observer")
    types = {t["code"]: t for t in await officer.get("/api/v1/resource-types")}
    assert types["usar.medium"]["substitutes"] == ["usar.heavy"]
    assert types["medical.emt.type2"]["parent"] == "medical.emt"
    duty = await api(client, make_token, "duty_officer")
    drill = await duty.post(
        "/api/v1/emergencies", emergency_body(title="Drill", exercise=True), expect=201
    )
    real = await duty.post("/api/v1/emergencies", emergency_body(), expect=201)
    listed = await duty.get("/api/v1/emergencies")
    assert [e["id"] for e in listed] == [real["id"], drill["id"]]
    assert [e["id"] for e in await duty.get("/api/v1/emergencies?exercise=true")] == [drill["id"]]
    closed = await duty.call(
        "PATCH", f"/api/v1/emergencies/{real['id']}", {"status": "closed"}, expect=200
    )
    assert closed["status"] == "closed"
    back = await duty.call(
        "PATCH", f"/api/v1/emergencies/{real['id']}", {"status": "watch"}, expect=409
    )
    assert back["current_status"] == "closed"
    reopened = await duty.call(
        "PATCH",
        f"/api/v1/emergencies/{real['id']}",
        {"status": "active", "reason": "aftershock, closed too early"},
        expect=200,
    )
    assert reopened["status"] == "active"
    events = (await duty.get("/api/v1/events?since=0&limit=1000"))["events"]
    mine = [e for e in events if e["emergency_id"] == real["id"]]
    assert [(e["kind"], e["data"]["status"], e["data"].get("previous_status")) for e in mine] == [
        ("emergency.created", "active", None),
        ("emergency.updated", "closed", "active"),
        ("emergency.updated", "active", "closed"),
    ]
    assert mine[-1]["data"]["reason"] == "aftershock, closed too early"
    observer = await api(client, make_token, "observer")
    await observer.call(
        "PATCH", f"/api/v1/emergencies/{real['id']}", {"status": "closed"}, expect=403
    )
