"""EDXL-RM meaning: the mapping tables, messages into RFA and offer bodies, and our
exports read back (pure logic)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from eadrcc.edxl import convert, mapping, parse, render
from eadrcc.edxl.mapping import TypeResolver
from eadrcc.edxl.models import Message
from eadrcc.emergencies.models import Emergency
from eadrcc.errors import Invalid
from eadrcc.matching import taxonomy
from eadrcc.requests.models import Delivery, Need, Request

DATA = Path(__file__).parents[1] / "data" / "edxl-rm"
PARTNERS = Path(mapping.__file__).parents[1] / "partners" / "data" / "partners.json"
TAXONOMY = taxonomy.load()
RESOLVER = TypeResolver.build((t.code, t.name) for t in TAXONOMY.types.values())
RM = "urn:oasis:names:tc:emergency:EDXL:RM:1.0:msg"


def sample(name: str) -> Message:
    return parse.read((DATA / f"xchangecore_{name}.rm.xml").read_bytes())


def message(resources: str, *, kind: str = "RequestResource", head: str = "") -> Message:
    return parse.read(
        f"""<{kind} xmlns="{RM}" xmlns:rm="urn:oasis:names:tc:emergency:EDXL:RM:1.0">
        <MessageID>m-1</MessageID><SentDateTime>2026-02-06T06:00:00+03:00</SentDateTime>
        {head}{resources}</{kind}>""".encode()
    )


def info(type_text: str, quantity: str = "<rm:QuantityText>1</rm:QuantityText>") -> str:
    return f"""<ResourceInformation><ResourceInfoElementID>{type_text}</ResourceInfoElementID>
        <Resource><TypeInfo><Resource>{type_text}</Resource></TypeInfo></Resource>
        <AssignmentInformation><Quantity>{quantity}</Quantity></AssignmentInformation>
        </ResourceInformation>"""


# ---- the tables ------------------------------------------------------------------


def test_every_mapped_code_is_in_the_taxonomy_and_every_row_cites_a_source() -> None:
    table = json.loads((Path(mapping.__file__).parent / "data/resource_type_map.json").read_text())
    for row in table["rows"]:
        assert row["code"] in TAXONOMY.types, row
        assert row["source"] in table["sources"], row


def test_every_ally_and_partner_has_an_alpha2_row() -> None:
    codes = {p["code"] for p in json.loads(PARTNERS.read_text())["partners"]}
    table = json.loads((Path(mapping.__file__).parent / "data/countries.json").read_text())
    assert set(table["alpha2"].values()) == codes
    assert all(len(a2) == 2 and mapping.iso3(a2) == a3 for a2, a3 in table["alpha2"].items())


@pytest.mark.parametrize(
    ("sent", "expected"),
    [("US", "USA"), ("tr", "TUR"), (" NOR ", "NOR"), ("UK", "GBR"), ("EL", "GRC"),
     ("ZZ", None), ("United States", None), ("", None), (None, None)],
)  # fmt: skip
def test_iso3(sent: str | None, expected: str | None) -> None:
    assert mapping.iso3(sent) == expected


@pytest.mark.parametrize(
    ("texts", "code"),
    [
        (["Track Dozer Type I"], "plant.heavy.bulldozer"),
        (["Track Dozer Type II"], "plant.heavy.bulldozer"),
        (["DOZER  type 3"], "plant.heavy.bulldozer"),
        (["Bulldozer"], "plant.heavy.bulldozer"),  # our own name
        (["plant.heavy.bulldozer"], "plant.heavy.bulldozer"),  # our own code
        (["Hydraulic Excavator"], "plant.heavy.excavator"),
        (["Crawler Crane"], "plant.heavy.crane"),
        (["US&R Task Force Type I"], "usar"),
        (["Heavy USAR team"], "usar.heavy"),
        (["EMT Type 2"], "medical.emt.type2"),
        (["EMT Type 1 mobile"], "medical.emt.type1.mobile"),
        ([None, "Track Dozer #48", "Track Dozer"], "plant.heavy.bulldozer"),
        (["EMT Type 4"], None),  # "Type 4" is not dropped into "EMT"
        (["Backhoe Loader"], None),
        (["Dozer Tender"], None),
        ([], None),
    ],
)
def test_type_resolution(texts: list[str | None], code: str | None) -> None:
    assert RESOLVER.resolve(texts) == code


def test_message_ids_link_back() -> None:
    mid = mapping.message_id("request", "rfa_01abc")
    assert mid == "urn:eadrcc:request:rfa_01abc"
    assert mapping.named_object("request", mid) == "rfa_01abc"
    assert mapping.named_object("offer", mid) is None
    assert mapping.named_object("request", "RequestResource.1") is None


# ---- RequestResource → RFA ---------------------------------------------------------


def test_sample_1_names_the_place_in_the_notes() -> None:
    body = convert.to_request(sample("RequestResource.1"), country="TUR", resolver=RESOLVER)
    assert body.model_dump(exclude_none=True) == {
        "requesting_country": "TUR",
        "reference": "RequestResource.1",
        "needs": [{"resource_type": "plant.heavy.bulldozer", "quantity": 4, "priority": "normal"}],
        "notes": "Imported from EDXL-RM RequestResource RequestResource.1\n"
        "Requester: Arlington Fire Station\n"
        "ResourceInfoElementID.1: deliver to Arlington Waste Facility (no coordinates given)",
    }


def test_sample_2_delivers_to_the_point() -> None:
    body = convert.to_request(sample("RequestResource.2"), country="TUR", resolver=RESOLVER)
    assert body.needs[0].delivery == Delivery(
        lat=38.801168, lon=-77.127685, place="Arlington Waste Facility"
    )


def test_sample_3_names_its_country() -> None:
    body = convert.to_request(sample("RequestResource.3"), country=None, resolver=RESOLVER)
    assert body.requesting_country == "USA"
    assert "Arlington Waste Facility, Eisenhower Avenue 5301, Arlington, 22204, VA, US" in (
        body.notes or ""
    )
    with pytest.raises(Invalid) as caught:
        convert.to_request(sample("RequestResource.3"), country="TUR", resolver=RESOLVER)
    assert caught.value.errors == {"requesting_country": "the message names USA, the query TUR"}


def test_no_country_anywhere_is_422() -> None:
    with pytest.raises(Invalid) as caught:
        convert.to_request(sample("RequestResource.1"), country=None, resolver=RESOLVER)
    assert "requesting_country" in (caught.value.errors or {})


def test_every_unknown_type_and_bad_quantity_is_listed() -> None:
    msg = message(
        info("Backhoe Loader")
        + info("Track Dozer Type I", "<rm:QuantityText>2.5</rm:QuantityText>")
        + info("Water Tender Type 2", "<rm:MeasuredQuantity><rm:Amount>0</rm:Amount>"
               "</rm:MeasuredQuantity>")
    )  # fmt: skip
    with pytest.raises(Invalid) as caught:
        convert.to_request(msg, country="TUR", resolver=RESOLVER)
    assert caught.value.errors == {
        "ResourceInformation[0].type": "unknown resource type 'Backhoe Loader' (Backhoe Loader)",
        "ResourceInformation[1].quantity": "'2.5' is not a whole number of at least 1",
        "ResourceInformation[2].type": "unknown resource type 'Water Tender Type 2' "
        "(Water Tender Type 2)",
        "ResourceInformation[2].quantity": "'0' is not a whole number of at least 1",
    }


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("<rm:QuantityText> 12 </rm:QuantityText>", 12),
        ("<rm:QuantityText>4 dozers</rm:QuantityText>", 4),
        ("<rm:MeasuredQuantity><rm:Amount>3.0</rm:Amount></rm:MeasuredQuantity>", 3),
        ("", 1),
    ],
)
def test_quantities(quantity: str, expected: int) -> None:
    body = convert.to_request(
        message(info("Bulldozer", quantity)), country="TUR", resolver=RESOLVER
    )
    assert body.needs[0].quantity == expected


def test_requested_arrival_needs_an_offset() -> None:
    schedule = """<ResourceInformation><Resource><TypeInfo>Bulldozer</TypeInfo></Resource>
        <ScheduleInformation><ScheduleType>RequestedArrival</ScheduleType>
        <DateTime>{}</DateTime></ScheduleInformation></ResourceInformation>"""
    ok = message(schedule.format("2026-02-07T06:00:00+03:00"))
    body = convert.to_request(ok, country="TUR", resolver=RESOLVER)
    assert body.needs[0].needed_by == datetime(2026, 2, 7, 3, tzinfo=UTC)
    with pytest.raises(Invalid, match="1 problem"):
        convert.to_request(message(schedule.format("2026-02-07T06:00:00")), country="TUR",
                           resolver=RESOLVER)  # fmt: skip


def test_a_message_without_id_or_resources_is_422() -> None:
    msg = parse.read(f'<RequestResource xmlns="{RM}"/>'.encode())
    with pytest.raises(Invalid) as caught:
        convert.to_request(msg, country="TUR", resolver=RESOLVER)
    assert set(caught.value.errors or {}) == {"MessageID", "ResourceInformation"}


# ---- offers ----------------------------------------------------------------------


def test_a_response_offers_what_it_accepts() -> None:
    msg = sample("CommitResource.2")  # read as if it were a ResponseToRequestResource
    body = convert.to_offer(
        msg, emergency_id="emg_0123456789", request_id=None, country="NOR", channel="other",
        resolver=RESOLVER,
    )  # fmt: skip
    assert [(i.resource_type, i.quantity) for i in body.items] == [
        ("plant.heavy.bulldozer", 1),
        ("plant.heavy.bulldozer", 1),
    ]
    # No BeginAvailable: available from when it was sent, read as UTC.
    assert body.items[0].available_from == datetime(2009, 6, 9, 13, 10, tzinfo=UTC)
    assert body.items[0].origin is None  # "Committed" names where it goes, not where it is


def test_a_response_that_declines_everything_offers_nothing() -> None:
    with pytest.raises(Invalid) as caught:
        convert.to_offer(
            sample("CommitResource-Decline"), emergency_id="emg_0123456789", request_id=None,
            country="NOR", channel="other", resolver=RESOLVER,
        )  # fmt: skip
    assert caught.value.errors == {
        "ResourceInformation": "every item is declined: nothing is offered"
    }


# ---- our exports read back ---------------------------------------------------------

T = datetime(2026, 2, 6, 6, 0, tzinfo=UTC)


def test_an_exported_rfa_reads_back_as_the_same_needs() -> None:
    def need(n: int, code: str, quantity: int, **over: object) -> Need:
        fields: dict[str, object] = {
            "id": f"ned_{n:010d}", "request_id": "rfa_0123456789", "emergency_id": "emg_1",
            "resource_type": code, "priority": "normal", "needed_by": None, "delivery": None,
            "status": "open", "version": 1, "requested": quantity, "proposed": 0,
            "accepted": 0, "in_transit": 0, "delivered": 0, "uncovered_quantity": quantity,
            "duplicated": False, "uncovered": True,
        }  # fmt: skip
        return Need.model_validate({**fields, **over})

    rfa = Request(
        id="rfa_0123456789",
        emergency_id="emg_1",
        requesting_country="TUR",
        reference=None,
        notes=None,
        created_at=T,
        needs=[
            need(1, "usar.heavy", 2, priority="critical", needed_by=T,
                 delivery=Delivery(lat=37.57, lon=36.93, place="Kahramanmaraş")),
            need(2, "water.bottled", 50000, priority="high"),
            need(3, "shelter.tent", 10, status="cancelled"),
        ],
    )  # fmt: skip
    emergency = Emergency.model_validate(
        {"id": "emg_1", "title": "Quake", "hazard": "earthquake", "countries": ["TUR"],
         "location": {"lat": 37.2, "lon": 37.0}, "severity": "extreme", "status": "active",
         "exercise": True, "created_at": T, "updated_at": T}
    )  # fmt: skip
    types = {t.code: render.TypeName(t.name, t.unit) for t in TAXONOMY.types.values()}
    xml = render.request_resource(rfa, emergency, types, T)
    assert xml.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<rmsg:RequestResource")
    msg = parse.read(xml)
    assert msg.message_id == "urn:eadrcc:request:rfa_0123456789"
    assert [r.element_id for r in msg.resources] == ["ned_0000000001", "ned_0000000002"]
    body = convert.to_request(msg, country=None, resolver=RESOLVER)
    assert [n.model_dump() for n in body.needs] == [
        {"resource_type": "usar.heavy", "quantity": 2, "priority": "critical", "needed_by": T,
         "delivery": {"lat": 37.57, "lon": 36.93, "place": "Kahramanmaraş"}},
        {"resource_type": "water.bottled", "quantity": 50000, "priority": "high",
         "needed_by": None, "delivery": None},
    ]  # fmt: skip
    assert body.requesting_country == "TUR"
