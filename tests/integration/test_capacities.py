"""National capacities: the register, its rules, likely providers, the one-step
offer and the expiry reminder — against real PostgreSQL through real HTTP."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from eadrcc.capacities import service, store
from eadrcc.capacities.providers import MAX_PER_NEED, MIN_TRANSIT_HOURS, SHORTLIST, rank
from eadrcc.matching.scoring import distance_km, transit
from tests.conftest import TokenFactory, bearer
from tests.integration.ops_helpers import Api, api, emergency_body, item

Client = TestClient  # type: ignore[type-arg]
KAHRAMANMARAS = {"lat": 37.57, "lon": 36.93, "place": "Kahramanmaraş"}
OSLO = {"lat": 59.91, "lon": 10.75, "place": "Oslo"}


def _later(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def declared(country: str = "NOR", **over: Any) -> dict[str, Any]:
    return {
        "country": country,
        "resource_type": "usar.heavy",
        "quantity": 1,
        "readiness_hours": 10,
        "home_base": OSLO,
        "credentials": ["insarag.classified"],
        "self_sufficient": True,
        "valid_until": _later(365),
        **over,
    }


async def _events(who: Api, kind: str) -> list[dict[str, Any]]:
    page = await who.get("/api/v1/events?since=0&limit=1000")
    return [e for e in page["events"] if e["kind"] == kind]


async def _rfa(officer: Api, tur: Api, *needs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    rfa = await tur.post(
        f"/api/v1/emergencies/{emergency['id']}/requests",
        {"requesting_country": "TUR", "needs": list(needs)},
        expect=201,
    )
    return emergency["id"], rfa


def _need(resource_type: str, quantity: int = 1) -> dict[str, Any]:
    return {"resource_type": resource_type, "quantity": quantity, "delivery": KAHRAMANMARAS}


# ---- the register ----------------------------------------------------------------


async def test_a_poc_declares_for_its_own_country_and_staff_on_a_nations_behalf(
    client: Client, make_token: TokenFactory
) -> None:
    nor = await api(client, make_token, "poc", "NOR")
    officer = await api(client, make_token, "duty_officer")
    mine = await nor.post("/api/v1/capacities", declared(), expect=201)
    assert mine["source"] == "declared" and mine["citation"] is None
    assert mine["status"] == "active" and not mine["expired"] and mine["version"] == 1
    assert mine["home_base"] == OSLO
    await nor.post("/api/v1/capacities", declared("DEU"), expect=403)
    on_behalf = await officer.post("/api/v1/capacities", declared("DEU"), expect=201)
    assert on_behalf["country"] == "DEU"
    listed = await nor.get("/api/v1/capacities?source=declared")
    assert {c["id"] for c in listed} == {mine["id"], on_behalf["id"]}
    assert await nor.get(f"/api/v1/capacities/{mine['id']}") == mine


async def test_integrations_read_no_capacities(client: Client, make_token: TokenFactory) -> None:
    nor = await api(client, make_token, "poc", "NOR")
    made = await nor.post("/api/v1/capacities", declared(), expect=201)
    robot = await api(client, make_token, "integration")
    await robot.get("/api/v1/capacities", expect=403)
    await robot.get(f"/api/v1/capacities/{made['id']}", expect=403)
    await robot.post("/api/v1/capacities", declared(), expect=403)
    observer = await api(client, make_token, "observer")
    await observer.get(f"/api/v1/capacities/{made['id']}")
    await observer.post("/api/v1/capacities", declared(), expect=403)


async def test_bad_input_names_the_field_and_where_valid_values_are(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    nor = await api(client, make_token, "poc", "NOR")
    before = await pool.fetchval("SELECT count(*) FROM capacities")
    bad_type = await nor.post(
        "/api/v1/capacities", declared(resource_type="usar.gigantic"), expect=422
    )
    assert "/api/v1/resource-types" in bad_type["errors"]["resource_type"]
    bad_cred = await nor.post("/api/v1/capacities", declared(credentials=["made.up"]), expect=422)
    assert "/api/v1/credentials" in bad_cred["errors"]["credentials"]
    past = await nor.post("/api/v1/capacities", declared(valid_until=_later(-1)), expect=422)
    assert set(past["errors"]) == {"valid_until"}
    end_of_time = declared(valid_until="9999-12-31T23:59:59-14:00")
    await nor.post("/api/v1/capacities", end_of_time, expect=422)
    # The same rule as offers: a credential tied to a programme needs it on record.
    occ = await nor.post(
        "/api/v1/capacities",
        declared("UZB", credentials=["nato.occ.evaluated"]),
        expect=403,  # a NOR POC may not declare for Uzbekistan at all
    )
    assert occ["status"] == 403
    officer = await api(client, make_token, "duty_officer")
    no_occ = await officer.post(
        "/api/v1/capacities", declared("UZB", credentials=["nato.occ.evaluated"]), expect=422
    )
    offered = await officer.post(
        "/api/v1/offers",
        {
            "emergency_id": (
                await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
            )["id"],
            "offering_country": "UZB",
            "channel": "direct",
            "items": [item("usar.heavy", 1, credentials=["nato.occ.evaluated"])],
        },
        expect=422,
    )
    assert no_occ["errors"]["credentials"] == offered["errors"]["items.0.credentials"]
    await officer.post("/api/v1/capacities", declared("XXX"), expect=422)
    assert await pool.fetchval("SELECT count(*) FROM capacities") == before


async def test_change_and_withdraw_keep_history_and_stay_within_the_nation(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    nor = await api(client, make_token, "poc", "NOR")
    deu = await api(client, make_token, "poc", "DEU")
    made = await nor.post("/api/v1/capacities", declared(), expect=201)
    path = f"/api/v1/capacities/{made['id']}"
    await deu.call("PATCH", path, {"quantity": 2}, expect=403)
    await deu.call("DELETE", path, expect=403)
    await nor.call("PATCH", path, {"valid_until": _later(-2)}, expect=422)
    await nor.call("PATCH", path, {"resource_type": "nothing.here"}, expect=422)
    await nor.call("PATCH", path, {"credentials": None}, expect=422)
    changed = await nor.call("PATCH", path, {"quantity": 2, "readiness_hours": 6}, expect=200)
    assert (changed["quantity"], changed["readiness_hours"], changed["version"]) == (2, 6, 2)
    gone = await nor.call("DELETE", path, expect=200)
    assert gone["status"] == "withdrawn"
    await nor.call("DELETE", path, expect=409)
    await nor.call("PATCH", path, {"quantity": 3}, expect=409)
    assert made["id"] not in {c["id"] for c in await nor.get("/api/v1/capacities")}
    withdrawn = await nor.get("/api/v1/capacities?status=withdrawn")
    assert [c["id"] for c in withdrawn] == [made["id"]]
    versions = await pool.fetch(
        "SELECT version, record->>'quantity' AS q, record->>'status' AS s "
        "FROM capacity_history WHERE capacity_id = $1 ORDER BY version",
        made["id"],
    )
    assert [(r["version"], r["q"], r["s"]) for r in versions] == [
        (1, "1", "active"),
        (2, "2", "active"),
        (3, "2", "withdrawn"),
    ]


async def test_capacity_events_reach_staff_and_that_nation_only(
    client: Client, make_token: TokenFactory
) -> None:
    nor = await api(client, make_token, "poc", "NOR")
    deu = await api(client, make_token, "poc", "DEU")
    officer = await api(client, make_token, "duty_officer")
    made = await nor.post("/api/v1/capacities", declared(), expect=201)
    await nor.call("PATCH", f"/api/v1/capacities/{made['id']}", {"quantity": 2}, expect=200)
    await nor.call("DELETE", f"/api/v1/capacities/{made['id']}", expect=200)
    for who in (nor, officer):
        kinds = [
            e["kind"]
            for e in (await who.get("/api/v1/events?since=0&limit=1000"))["events"]
            if e["kind"].startswith("capacity.")
        ]
        assert kinds == ["capacity.created", "capacity.updated", "capacity.withdrawn"]
    seen_by_deu = (await deu.get("/api/v1/events?since=0&limit=1000"))["events"]
    assert not [e for e in seen_by_deu if e["kind"].startswith("capacity.")]


async def test_public_records_are_cited_read_only_and_kept_apart(
    client: Client, make_token: TokenFactory
) -> None:
    officer = await api(client, make_token, "duty_officer")
    known = await officer.get("/api/v1/capacities?source=public")
    assert len(known) >= 10
    assert all(c["citation"] and c["read_on"] for c in known)
    assert {c["source"] for c in known} == {"public"}
    expired = [c for c in known if c["expired"]]
    assert expired and all(c["valid_until"] < datetime.now(UTC).isoformat() for c in expired)
    fresh = await officer.get("/api/v1/capacities?source=public&include_expired=false")
    assert not [c for c in fresh if c["expired"]]
    await officer.call("PATCH", f"/api/v1/capacities/{known[0]['id']}", {"quantity": 2}, expect=409)
    await officer.call("DELETE", f"/api/v1/capacities/{known[0]['id']}", expect=409)
    assert not await officer.get("/api/v1/capacities?source=declared")


async def test_filters_and_csv_export_neutralise_formulas(
    client: Client, make_token: TokenFactory
) -> None:
    nor = await api(client, make_token, "poc", "NOR")
    officer = await api(client, make_token, "duty_officer")
    made = await nor.post(
        "/api/v1/capacities",
        declared(name='=HYPERLINK("http://x")', notes="+1 call\t-2 @ops"),
        expect=201,
    )
    await nor.post(
        "/api/v1/capacities",
        declared(
            resource_type="shelter.tent.family", quantity=500, credentials=[], readiness_hours=48
        ),
        expect=201,
    )
    usar = await officer.get("/api/v1/capacities?resource_type=usar&source=declared")
    assert [c["id"] for c in usar] == [made["id"]]
    quick = await officer.get("/api/v1/capacities?ready_within=12&source=declared")
    assert [c["id"] for c in quick] == [made["id"]]
    cred = await officer.get("/api/v1/capacities?credential=insarag.classified&country=NOR")
    assert [c["id"] for c in cred] == [made["id"]]
    assert await officer.get("/api/v1/capacities?region=ICI&source=declared") == []
    assert len(await officer.get("/api/v1/capacities?region=EAPC&source=declared")) == 2
    await officer.get("/api/v1/capacities?ready_within=-1", expect=422)
    resp = await client.get(
        "/api/v1/capacities?country=NOR", headers={**bearer(officer.token), "Accept": "text/csv"}
    )
    assert resp.status == 200 and resp.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    row = next(r for r in rows if r["id"] == made["id"])
    assert row["name"] == '\'=HYPERLINK("http://x")'
    assert row["notes"] == "'+1 call\t-2 @ops"
    assert row["credentials"] == "insarag.classified"


# ---- likely providers ------------------------------------------------------------


async def test_likely_providers_follow_the_fill_relation_declared_first(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    officer = await api(client, make_token, "duty_officer")
    tur = await api(client, make_token, "poc", "TUR")
    nor = await api(client, make_token, "poc", "NOR")
    heavy = await nor.post("/api/v1/capacities", declared(), expect=201)  # substitute
    await nor.post(  # a type that fills nothing asked for
        "/api/v1/capacities", declared(resource_type="shelter.blanket", credentials=[]), expect=201
    )
    own = await tur.post("/api/v1/capacities", declared("TUR"), expect=201)
    stale = await officer.post("/api/v1/capacities", declared("POL"), expect=201)
    await pool.execute(
        "UPDATE capacities SET valid_until = now() - interval '1 day' WHERE id = $1", stale["id"]
    )
    gone = await officer.post("/api/v1/capacities", declared("FRA"), expect=201)
    await officer.call("DELETE", f"/api/v1/capacities/{gone['id']}", expect=200)
    emergency_id, rfa = await _rfa(officer, tur, _need("usar.medium"))
    need = (await officer.get(f"/api/v1/requests/{rfa['id']}"))["needs"][0]
    providers = need["likely_providers"]
    ids = [p["capacity_id"] for p in providers]
    assert ids[0] == heavy["id"]
    assert own["id"] not in ids and stale["id"] not in ids and gone["id"] not in ids
    assert [p["source"] for p in providers] == sorted(
        (p["source"] for p in providers), key=lambda s: s != "declared"
    )
    first = providers[0]
    km = distance_km(OSLO["lat"], OSLO["lon"], KAHRAMANMARAS["lat"], KAHRAMANMARAS["lon"])
    assert first["ready_in_hours"] == round(10 + transit(km).total_seconds() / 3600, 1)
    assert (first["country"], first["quantity"], first["credentials"]) == (
        "NOR",
        1,
        ["insarag.classified"],
    )
    public = [p for p in providers if p["source"] == "public"]
    assert public and {"DEU", "NLD"} <= {p["country"] for p in public}  # cited teams
    # Public ones in order of arrival among themselves.
    hours = [p["ready_in_hours"] for p in public]
    assert hours == sorted(hours)
    # Once Norway offers help that fills the need, Norway is no longer "likely".
    await nor.post(
        "/api/v1/offers",
        {
            "emergency_id": emergency_id,
            "offering_country": "NOR",
            "channel": "direct",
            "items": [item("usar.heavy", 1)],
        },
        expect=201,
    )
    after = (await officer.get(f"/api/v1/requests/{rfa['id']}"))["needs"][0]
    assert "NOR" not in {p["country"] for p in after["likely_providers"]}


async def test_a_declared_capacity_replaces_the_public_record_of_the_same_team(
    client: Client, make_token: TokenFactory
) -> None:
    officer = await api(client, make_token, "duty_officer")
    tur = await api(client, make_token, "poc", "TUR")
    nld = await api(client, make_token, "poc", "NLD")
    mine = await nld.post("/api/v1/capacities", declared("NLD", readiness_hours=72), expect=201)
    _, rfa = await _rfa(officer, tur, _need("usar.heavy"))
    need = (await officer.get(f"/api/v1/requests/{rfa['id']}"))["needs"][0]
    dutch = [p for p in need["likely_providers"] if p["country"] == "NLD"]
    assert [p["capacity_id"] for p in dutch] == [mine["id"]]


async def test_a_close_nation_outside_the_shortlist_by_readiness_still_comes_first(
    client: Client, make_token: TokenFactory
) -> None:
    """Twenty capacities are readier but have no known home base (48 h of travel);
    Italy's, 21st by readiness, is at the delivery point (12 h): it arrives first."""
    officer = await api(client, make_token, "duty_officer")
    tur = await api(client, make_token, "poc", "TUR")
    for hours in range(1, SHORTLIST + 1):
        await officer.post(
            "/api/v1/capacities",
            declared("NOR", readiness_hours=hours, home_base=None),
            expect=201,
        )
    close = await officer.post(
        "/api/v1/capacities",
        declared("ITA", readiness_hours=SHORTLIST + 1, home_base=KAHRAMANMARAS),
        expect=201,
    )
    _, rfa = await _rfa(officer, tur, _need("usar.heavy"))
    need = (await officer.get(f"/api/v1/requests/{rfa['id']}"))["needs"][0]
    providers = need["likely_providers"]
    assert providers[0]["capacity_id"] == close["id"]
    assert providers[0]["ready_in_hours"] == SHORTLIST + 1 + MIN_TRANSIT_HOURS
    # The rest are the readiest nine of the far ones, in order.
    assert [p["ready_in_hours"] for p in providers[1:]] == [h + 48.0 for h in range(1, 10)]


async def test_likely_providers_equal_a_ranking_of_every_candidate(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    """Hundreds of capacities, dense in readiness and spread from next door to the
    far side of the world (and some with no home base): what the hub answers, after
    its shortlist and any bounded second read, is the ranking of all candidates."""
    officer = await api(client, make_token, "duty_officer")
    tur = await api(client, make_token, "poc", "TUR")
    await pool.execute(
        """
        INSERT INTO capacities (id, country, resource_type, quantity, readiness_hours,
                                home_lat, home_lon, valid_until, source, created_by)
        SELECT format('cap_prop_%s', g),
               (ARRAY['NOR', 'DEU', 'FRA', 'POL', 'ITA', 'ESP'])[1 + g % 6],
               (ARRAY['usar.heavy', 'usar.medium', 'shelter.tent.family'])[1 + g % 3],
               1 + g % 5, (g * 7919) % 30,
               CASE WHEN g % 9 = 0 THEN NULL ELSE -60 + (g * 37) % 120 END,
               CASE WHEN g % 9 = 0 THEN NULL ELSE -170 + (g * 53) % 340 END,
               now() + interval '30 days', 'declared', 'test'
        FROM generate_series(1, 600) AS g
        """
    )
    _, rfa = await _rfa(
        officer, tur, _need("usar.medium"), _need("usar.heavy"), _need("shelter.tent.family")
    )
    needs = (await officer.get(f"/api/v1/requests/{rfa['id']}"))["needs"]
    async with pool.acquire() as conn:
        everything = await store.fitting(
            conn, dict.fromkeys((n["id"] for n in needs), store.NO_BOUND), None
        )
    assert len(everything) > 10 * SHORTLIST  # far more candidates than one shortlist
    expected = rank(everything)
    for need in needs:
        got = [(p["capacity_id"], p["ready_in_hours"]) for p in need["likely_providers"]]
        want = [(p.capacity_id, p.ready_in_hours) for p in expected[need["id"]]]
        assert got == want and len(got) == MAX_PER_NEED


# ---- the one-step offer ----------------------------------------------------------


async def test_one_step_offer_goes_through_the_offers_service(
    client: Client, make_token: TokenFactory
) -> None:
    officer = await api(client, make_token, "duty_officer")
    tur = await api(client, make_token, "poc", "TUR")
    nor = await api(client, make_token, "poc", "NOR")
    deu = await api(client, make_token, "poc", "DEU")
    made = await nor.post("/api/v1/capacities", declared(quantity=3), expect=201)
    emergency_id, rfa = await _rfa(officer, tur, _need("usar.medium", 2))
    path = f"/api/v1/capacities/{made['id']}/offer"
    body = {"emergency_id": emergency_id, "request_id": rfa["id"], "quantity": 2}
    await deu.post(path, body, expect=403)
    await (await api(client, make_token, "integration")).post(path, body, expect=403)
    await nor.post(path, {**body, "quantity": 4}, expect=422)
    await nor.post(path, {**body, "emergency_id": "emg_0000000000000000"}, expect=422)
    key = {"Idempotency-Key": "cap-offer-1"}
    before = datetime.now(UTC)
    offer = await nor.post(path, body, expect=201, headers=key)
    after = datetime.now(UTC)
    again = await nor.post(path, body, expect=201, headers=key)
    assert again == offer
    await nor.post(path, {**body, "quantity": 1}, expect=409, headers=key)
    # The same shape as POST /offers answers, built from the capacity.
    direct = await nor.post(
        "/api/v1/offers",
        {
            "emergency_id": emergency_id,
            "offering_country": "NOR",
            "channel": "direct",
            "items": [item("usar.heavy", 1)],
        },
        expect=201,
    )
    assert set(offer) == set(direct) and set(offer["items"][0]) == set(direct["items"][0])
    (built,) = offer["items"]
    assert built["resource_type"] == "usar.heavy" and built["quantity"] == 2
    assert built["origin"] == {"lat": OSLO["lat"], "lon": OSLO["lon"]}
    assert built["credentials"] == ["insarag.classified"] and built["self_sufficient"]
    ready = datetime.fromisoformat(built["available_from"])
    assert before + timedelta(hours=10) <= ready <= after + timedelta(hours=10)
    assert offer["offering_country"] == "NOR" and offer["request_id"] == rfa["id"]
    assert [m["need_id"] for m in offer["matches"]] == [rfa["needs"][0]["id"]]
    kinds = [e["kind"] for e in (await nor.get("/api/v1/events?since=0&limit=1000"))["events"]]
    assert kinds.count("offer.created") == 2  # one per offer, none for the retry
    # A public record or a withdrawn capacity is not offered in one step.
    public = (await officer.get("/api/v1/capacities?source=public&country=NLD"))[0]
    await officer.post(f"/api/v1/capacities/{public['id']}/offer", body, expect=409)
    await nor.call("DELETE", f"/api/v1/capacities/{made['id']}", expect=200)
    await nor.post(path, body, expect=409)


# ---- the expiry reminder ---------------------------------------------------------


async def test_the_expiry_reminder_goes_once_to_the_nation(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    nor = await api(client, make_token, "poc", "NOR")
    deu = await api(client, make_token, "poc", "DEU")
    officer = await api(client, make_token, "duty_officer")
    soon = await nor.post("/api/v1/capacities", declared(valid_until=_later(10)), expect=201)
    later = await nor.post("/api/v1/capacities", declared(valid_until=_later(90)), expect=201)
    # Several instances sweeping at once: the reminder still goes out once.
    sent = await asyncio.gather(*(service.send_due_reminders(pool=pool) for _ in range(4)))
    assert sum(n or 0 for n in sent) == 1
    assert await service.send_due_reminders(pool=pool) == 0
    expiring = await _events(nor, "capacity.expiring")
    assert [e["data"]["id"] for e in expiring] == [soon["id"]]
    assert [e["data"]["id"] for e in await _events(officer, "capacity.expiring")] == [soon["id"]]
    assert await _events(deu, "capacity.expiring") == []
    # Extending the date schedules a new reminder; a withdrawn capacity gets none.
    await nor.call(
        "PATCH", f"/api/v1/capacities/{later['id']}", {"valid_until": _later(20)}, expect=200
    )
    await nor.call("DELETE", f"/api/v1/capacities/{soon['id']}", expect=200)
    assert await service.send_due_reminders(pool=pool) == 1
    expiring = await _events(nor, "capacity.expiring")
    assert [e["data"]["id"] for e in expiring] == [soon["id"], later["id"]]


async def test_the_running_hub_sweeps_due_reminders_by_itself(
    db_url: str, make_token: TokenFactory
) -> None:
    from aiohttp.test_utils import TestServer

    from eadrcc.app import create_app
    from eadrcc.config import Settings

    fast = Settings(
        database_url=db_url, pool_min_size=1, pool_max_size=5, capacity_sweep_seconds=0.05
    )
    async with TestClient(TestServer(create_app(fast))) as hub:
        nor = await api(hub, make_token, "poc", "NOR")
        soon = await nor.post("/api/v1/capacities", declared(valid_until=_later(3)), expect=201)
        async with asyncio.timeout(30):
            while not (expiring := await _events(nor, "capacity.expiring")):
                await asyncio.sleep(0.05)  # polling the condition, bounded by the timeout
    assert [e["data"]["id"] for e in expiring] == [soon["id"]]
