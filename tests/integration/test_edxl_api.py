"""EDXL-RM over HTTP: imports become RFAs and offers through the same rules, exports
read back as the same needs and items."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from eadrcc.edxl import parse
from tests.conftest import TokenFactory, bearer
from tests.integration.ops_helpers import Api, api, emergency_body, item

Client = TestClient[Any, Any]
DATA = Path(__file__).parents[1] / "data" / "edxl-rm"
XML = {"Content-Type": "application/xml"}


def sample(name: str) -> bytes:
    return (DATA / f"xchangecore_{name}.rm.xml").read_bytes()


def as_response(commit: bytes) -> bytes:
    """The CommitResource samples' content, sent as the ResponseToRequestResource that
    would have come before: two dozers accepted."""
    return commit.replace(b"CommitResource", b"ResponseToRequestResource")


async def post_xml(
    client: Client, token: str, body: bytes, content_type: str = "application/xml", **query: str
) -> ClientResponse:
    return await client.post(
        "/api/v1/edxl-rm",
        data=body,
        params=query,
        headers={**bearer(token), "Content-Type": content_type},
    )


async def imported(
    client: Client, token: str, body: bytes, *, expect: int = 201, **query: str
) -> dict[str, Any]:
    resp = await post_xml(client, token, body, **query)
    data: dict[str, Any] = await resp.json(content_type=None)
    assert resp.status == expect, (resp.status, data)
    return data


async def exported(client: Client, token: str, path: str, *, expect: int = 200) -> bytes:
    resp = await client.get(path, headers=bearer(token))
    assert resp.status == expect, (resp.status, await resp.text())
    if expect == 200:
        assert resp.headers["Content-Type"] == "application/xml"
    return await resp.read()


async def _setup(client: Client, make_token: TokenFactory) -> tuple[Api, Api, Api, str]:
    officer = await api(client, make_token, "duty_officer")
    tur = await api(client, make_token, "poc", "TUR")
    nor = await api(client, make_token, "poc", "NOR")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    return officer, tur, nor, emergency["id"]


async def _offer_dozers(nor: Api, emergency_id: str, quantity: int) -> dict[str, Any]:
    body = {
        "emergency_id": emergency_id,
        "offering_country": "NOR",
        "channel": "direct",
        "items": [item("plant.heavy.bulldozer", quantity, origin={"lat": 59.9, "lon": 10.7})],
    }
    offer: dict[str, Any] = await nor.post("/api/v1/offers", body, expect=201)
    return offer


# ---- import ----------------------------------------------------------------------


async def test_request_resource_becomes_an_rfa_with_proposals(
    client: Client, make_token: TokenFactory
) -> None:
    _, tur, nor, emergency_id = await _setup(client, make_token)
    await _offer_dozers(nor, emergency_id, 3)

    resp = await post_xml(
        client,
        tur.token,
        sample("RequestResource.2"),
        emergency_id=emergency_id,
        requesting_country="TUR",
    )
    rfa = await resp.json()
    assert resp.status == 201, rfa
    assert resp.headers["Location"] == f"/api/v1/requests/{rfa['id']}"
    assert rfa["edxl"] == {
        "message_id": "RequestResource.2",
        "message_type": "RequestResource",
        "idempotency_key": "edxl-rm:RequestResource.2",
    }
    assert (rfa["requesting_country"], rfa["reference"]) == ("TUR", "RequestResource.2")
    [need] = rfa["needs"]
    assert (need["resource_type"], need["requested"], need["priority"]) == (
        "plant.heavy.bulldozer",
        4,
        "normal",
    )
    assert need["delivery"] == {
        "lat": 38.801168,
        "lon": -77.127685,
        "place": "Arlington Waste Facility",
    }
    # Matching ran as for any RFA: Norway's three dozers are proposed at once.
    assert (need["proposed"], need["uncovered_quantity"]) == (3, 4)
    matches = await tur.get(f"/api/v1/emergencies/{emergency_id}/matches")
    assert [(m["need_id"], m["quantity"]) for m in matches] == [(need["id"], 3)]
    events = await tur.get("/api/v1/events?since=0")
    assert "request.created" in [e["kind"] for e in events["events"]]


async def test_reimport_gives_the_first_answer_and_a_changed_copy_is_409(
    client: Client, make_token: TokenFactory
) -> None:
    _, tur, _, emergency_id = await _setup(client, make_token)
    one = sample("RequestResource.1")
    first = await imported(
        client, tur.token, one, emergency_id=emergency_id, requesting_country="TUR"
    )
    again = await imported(
        client, tur.token, one, emergency_id=emergency_id, requesting_country="TUR"
    )
    assert again == first
    changed = one.replace(b">4<", b">5<")
    problem = await imported(
        client, tur.token, changed, expect=409, emergency_id=emergency_id, requesting_country="TUR"
    )
    assert "Idempotency-Key" in problem["detail"]
    events = await tur.get("/api/v1/events?since=0")
    assert [e["kind"] for e in events["events"]].count("request.created") == 1


async def test_bad_xml_and_dtd_payloads_are_400_fast(
    client: Client, make_token: TokenFactory
) -> None:
    _, tur, _, emergency_id = await _setup(client, make_token)
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(
            f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(9)
        )
        + b']><RequestResource xmlns="urn:oasis:names:tc:emergency:EDXL:RM:1.0:msg">'
        b"<MessageID>&j;</MessageID></RequestResource>"
    )
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<RequestResource xmlns="urn:oasis:names:tc:emergency:EDXL:RM:1.0:msg">'
        b"<MessageID>&x;</MessageID></RequestResource>"
    )
    for body, says in ((b"<RequestResource><oops>", "malformed"), (bomb, "DTD"), (xxe, "DTD")):
        started = time.perf_counter()
        resp = await post_xml(client, tur.token, body, emergency_id=emergency_id)
        assert time.perf_counter() - started < 2
        assert resp.status == 400
        assert resp.content_type == "application/problem+json"
        assert says in (await resp.json())["detail"]


async def test_unknown_types_are_422_listing_each(client: Client, make_token: TokenFactory) -> None:
    _, tur, _, emergency_id = await _setup(client, make_token)
    body = sample("RequestResource.1").replace(
        b"</rmsg:ResourceInformation>",
        b"""</rmsg:ResourceInformation>
        <rmsg:ResourceInformation><rmsg:ResourceInfoElementID>R2</rmsg:ResourceInfoElementID>
        <rmsg:Resource><rmsg:TypeInfo><Resource>Backhoe Loader</Resource></rmsg:TypeInfo>
        </rmsg:Resource></rmsg:ResourceInformation>
        <rmsg:ResourceInformation><rmsg:ResourceInfoElementID>R3</rmsg:ResourceInfoElementID>
        <rmsg:Resource><rmsg:TypeInfo><Resource>Sandbag Filler</Resource>
        <MinimumCapabilities>Type II</MinimumCapabilities></rmsg:TypeInfo></rmsg:Resource>
        </rmsg:ResourceInformation>""",
    )
    problem = await imported(
        client, tur.token, body, expect=422, emergency_id=emergency_id, requesting_country="TUR"
    )
    assert problem["errors"] == {
        "ResourceInformation[1].type": "unknown resource type 'Backhoe Loader' (R2)",
        "ResourceInformation[2].type": "unknown resource type 'Sandbag Filler Type II' (R3)",
    }


async def test_a_poc_cannot_import_for_another_country(
    client: Client, make_token: TokenFactory
) -> None:
    officer, tur, _, _ = await _setup(client, make_token)
    both = await officer.post(
        "/api/v1/emergencies", emergency_body(countries=["TUR", "USA"]), expect=201
    )
    # RequestResource.3's requester gives its address in the US.
    problem = await imported(
        client, tur.token, sample("RequestResource.3"), expect=403, emergency_id=both["id"]
    )
    assert problem["status"] == 403
    rfa = await imported(
        client, officer.token, sample("RequestResource.3"), emergency_id=both["id"]
    )
    assert rfa["requesting_country"] == "USA"


async def test_what_an_import_needs_to_be_told(client: Client, make_token: TokenFactory) -> None:
    _, tur, _, emergency_id = await _setup(client, make_token)
    missing = await imported(client, tur.token, sample("RequestResource.1"), expect=422)
    assert "emergency_id" in missing["errors"]
    unknown = await imported(
        client, tur.token, sample("RequestResource.1"), expect=422, emergency_id="emg_0000000000"
    )
    assert unknown["errors"] == {"emergency_id": "no such emergency"}
    no_country = await imported(
        client, tur.token, sample("RequestResource.1"), expect=422, emergency_id=emergency_id
    )
    assert "requesting_country" in no_country["errors"]
    commit = await imported(client, tur.token, sample("CommitResource.1"), expect=422)
    assert "CommitResource is not imported" in commit["detail"]
    resp = await post_xml(client, tur.token, b"{}", "application/json")
    assert resp.status == 415
    resp = await post_xml(
        client, tur.token, sample("RequestResource.1"), "application/edxl-rm+xml", x="1"
    )
    assert resp.status == 422  # unknown query parameter
    padding = b"<!--" + b"x" * 1_100_000 + b"-->"
    resp = await client.post(
        "/api/v1/edxl-rm",
        data=io.BytesIO(sample("RequestResource.1") + padding),
        headers={**bearer(tur.token), **XML},
    )
    assert resp.status == 413  # the hub's body limit (EADRCC_MAX_BODY_BYTES), as for JSON


async def test_a_response_links_to_the_rfa_it_answers(
    client: Client, make_token: TokenFactory
) -> None:
    _, tur, nor, emergency_id = await _setup(client, make_token)
    rfa = await imported(
        client,
        tur.token,
        sample("RequestResource.2"),
        emergency_id=emergency_id,
        requesting_country="TUR",
    )
    # OriginatingMessageID "RequestResource.2" is the reference the import kept.
    offer = await imported(
        client, nor.token, as_response(sample("CommitResource.2")), offering_country="NOR"
    )
    assert (offer["emergency_id"], offer["request_id"], offer["channel"]) == (
        emergency_id,
        rfa["id"],
        "other",
    )
    assert [(i["resource_type"], i["quantity"]) for i in offer["items"]] == [
        ("plant.heavy.bulldozer", 1),
        ("plant.heavy.bulldozer", 1),
    ]
    assert sum(m["quantity"] for m in offer["matches"]) == 2
    assert offer["edxl"]["message_type"] == "ResponseToRequestResource"


# ---- export ----------------------------------------------------------------------


async def test_exports_of_each_kind(client: Client, make_token: TokenFactory) -> None:
    officer, tur, nor, emergency_id = await _setup(client, make_token)
    observer = await make_token("observer")
    rfa = await tur.post(
        f"/api/v1/emergencies/{emergency_id}/requests",
        {
            "requesting_country": "TUR",
            "needs": [
                {
                    "resource_type": "plant.heavy.bulldozer",
                    "quantity": 4,
                    "priority": "critical",
                    "needed_by": "2026-02-07T06:00:00+03:00",
                    "delivery": {"lat": 37.57, "lon": 36.93, "place": "Kahramanmaraş"},
                }
            ],
        },
        expect=201,
    )
    offer = await _offer_dozers(nor, emergency_id, 3)
    [match] = offer["matches"]

    request_xml = parse.read(
        await exported(client, observer, f"/api/v1/requests/{rfa['id']}/edxl-rm")
    )
    assert request_xml.kind == "RequestResource"
    assert request_xml.message_id == f"urn:eadrcc:request:{rfa['id']}"
    assert request_xml.incident_id == emergency_id
    [need] = request_xml.resources
    assert (need.element_id, need.type_value, need.type_name, need.amount, need.unit) == (
        rfa["needs"][0]["id"],
        "plant.heavy.bulldozer",
        "Bulldozer",
        "4",
        "vehicle",
    )
    assert [(s.kind, s.at) for s in need.schedules] == [
        ("RequestedArrival", "2026-02-07T03:00:00+00:00")
    ]

    offer_xml = parse.read(
        await exported(client, officer.token, f"/api/v1/offers/{offer['id']}/edxl-rm")
    )
    assert offer_xml.kind == "OfferUnsolicitedResource"
    assert offer_xml.contacts[0].country == "NOR"
    assert offer_xml.resources[0].schedules[0].place.pos == "59.9 10.7"  # type: ignore[union-attr]
    await exported(client, tur.token, f"/api/v1/offers/{offer['id']}/edxl-rm")  # it answers TUR

    match_path = f"/api/v1/matches/{match['id']}/edxl-rm"
    proposal = await exported(client, tur.token, match_path, expect=409)
    assert b"accept it first" in proposal
    await tur.post(f"/api/v1/matches/{match['id']}/accept", expect=200)
    commit = parse.read(await exported(client, nor.token, match_path))
    assert commit.kind == "CommitResource"
    assert (commit.originating_id, commit.preceding_id) == (
        f"urn:eadrcc:request:{rfa['id']}",
        f"urn:eadrcc:offer:{offer['id']}",
    )
    [committed] = commit.resources
    assert (committed.response, committed.answers, committed.amount) == (
        "Accept",
        rfa["needs"][0]["id"],
        "3",
    )
    outsider = await make_token("poc", country="POL")
    await exported(client, outsider, match_path, expect=404)
    await exported(client, outsider, f"/api/v1/offers/{offer['id']}/edxl-rm", expect=404)
    await exported(client, tur.token, "/api/v1/requests/rfa_0000000000/edxl-rm", expect=404)


async def test_round_trips(client: Client, make_token: TokenFactory) -> None:
    officer, tur, nor, emergency_id = await _setup(client, make_token)
    other = await officer.post(
        "/api/v1/emergencies", emergency_body(title="Aftershock"), expect=201
    )
    needs = [
        {
            "resource_type": "usar.heavy",
            "quantity": 2,
            "priority": "critical",
            "needed_by": "2026-02-07T06:00:00+03:00",
            "delivery": {"lat": 37.57, "lon": 36.93, "place": "Kahramanmaraş"},
        },
        {"resource_type": "water.bottled", "quantity": 50000, "priority": "high"},
        {"resource_type": "shelter.tent.family", "quantity": 1000},
    ]
    rfa = await tur.post(
        f"/api/v1/emergencies/{emergency_id}/requests",
        {"requesting_country": "TUR", "needs": needs},
        expect=201,
    )
    xml = await exported(client, tur.token, f"/api/v1/requests/{rfa['id']}/edxl-rm")
    copy = await imported(client, tur.token, xml, emergency_id=other["id"])
    assert copy["emergency_id"] == other["id"] and copy["id"] != rfa["id"]
    fields = ("resource_type", "requested", "priority", "needed_by", "delivery")
    assert [[n[f] for f in fields] for n in copy["needs"]] == [
        [n[f] for f in fields] for n in rfa["needs"]
    ]

    offer = await nor.post(
        "/api/v1/offers",
        {
            "emergency_id": emergency_id,
            "offering_country": "NOR",
            "channel": "eu_ucpm",
            "items": [
                item(
                    "usar.heavy",
                    1,
                    origin={"lat": 59.9, "lon": 10.7},
                    credentials=["insarag.classified"],
                    self_sufficient=True,
                ),
                item("water.bottled", 20000),
            ],
        },
        expect=201,
    )
    xml = await exported(client, nor.token, f"/api/v1/offers/{offer['id']}/edxl-rm")
    again = await imported(client, nor.token, xml, emergency_id=other["id"], channel="eu_ucpm")
    kept = ("resource_type", "quantity", "available_from", "origin", "self_sufficient",
            "credentials")  # fmt: skip
    assert [[i[f] for f in kept] for i in again["items"]] == [
        [i[f] for f in kept] for i in offer["items"]
    ]
    assert (again["offering_country"], again["channel"]) == ("NOR", "eu_ucpm")
    # Norway answers Türkiye's exported RFA: the offer links back to it.
    rfa_xml = await exported(client, nor.token, f"/api/v1/requests/{rfa['id']}/edxl-rm")
    answer = (
        xml.replace(b"OfferUnsolicitedResource", b"ResponseToRequestResource")
        .replace(f"urn:eadrcc:offer:{offer['id']}".encode(), b"nor-answer-1")
        .replace(
            b"<rmsg:OriginatingMessageID>nor-answer-1",
            b"<rmsg:OriginatingMessageID>" + parse.read(rfa_xml).message_id.encode(),  # type: ignore[union-attr]
        )
    )
    linked = await imported(client, nor.token, answer)
    assert (linked["request_id"], linked["emergency_id"]) == (rfa["id"], emergency_id)
