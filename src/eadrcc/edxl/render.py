"""EDXL-RM 1.0 out: RFAs, offers and allocations as messages (pure logic).

Element names, namespaces and order follow the OASIS schema as the xchangecore
samples use it: message elements in `...:RM:1.0:msg`, common types in `...:RM:1.0`.
Our own facts ride in the schema's extension points with `urn:eadrcc:*` value
lists: the taxonomy code in TypeStructure, priority, credentials and
self-sufficiency as Keywords, units in MeasuredQuantity; `convert` reads them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import Element, SubElement, register_namespace, tostring

from eadrcc.edxl import mapping
from eadrcc.edxl.parse import MSG, RM
from eadrcc.emergencies.models import Emergency
from eadrcc.matching.models import Match
from eadrcc.offers.models import Offer, OfferItem
from eadrcc.requests.models import Need, Request

XAL = "urn:oasis:names:tc:ciq:xal:3"
GML = "http://www.opengis.net/gml"
for _prefix, _uri in (("rmsg", MSG), ("rm", RM), ("xal", XAL), ("gml", GML)):
    register_namespace(_prefix, _uri)


@dataclass(frozen=True)
class TypeName:
    name: str
    unit: str


Types = dict[str, TypeName]


def request_resource(req: Request, emergency: Emergency, types: Types, sent: datetime) -> bytes:
    """One ResourceInformation per open need; its ResourceInfoElementID is the need id."""
    root = _header("RequestResource", "request", req.id, sent)
    _description(root, f"Request for assistance from {req.requesting_country}")
    _id(root, "OriginatingMessageID", mapping.message_id("request", req.id))
    _incident(root, emergency)
    _contact(root, "Requester", req.requesting_country)
    for need in (n for n in req.needs if n.status == "open"):
        info = _info(root, need.id)
        resource = _resource(info, need.resource_type, types)
        _keyword(resource, mapping.PRIORITY_URN, need.priority)
        _quantity(info, need.requested, types[need.resource_type].unit)
        if need.needed_by or need.delivery:
            place = need.delivery
            point = (place.lat, place.lon) if place else None
            _schedule(
                info, "RequestedArrival", need.needed_by, place.place if place else None, point
            )
    return _bytes(root)


def offer_unsolicited(offer: Offer, emergency: Emergency, types: Types, sent: datetime) -> bytes:
    """One ResourceInformation per open item; its ResourceInfoElementID is the item id."""
    root = _header("OfferUnsolicitedResource", "offer", offer.id, sent)
    _description(root, f"Offer of assistance from {offer.offering_country}")
    _id(root, "OriginatingMessageID", mapping.message_id("offer", offer.id))
    _incident(root, emergency)
    _contact(root, "Owner", offer.offering_country)
    for item in (i for i in offer.items if i.status == "open"):
        _offered(root, item, types)
    return _bytes(root)


def commit_resource(
    match: Match, need: Need, emergency: Emergency, types: Types, sent: datetime
) -> bytes:
    """An allocation: the offering country commits `quantity` to the need."""
    root = _header("CommitResource", "match", match.id, sent)
    _description(
        root,
        f"{match.offering_country} commits {match.quantity} to {match.requesting_country} "
        f"({match.status.replace('_', ' ')}: {match.dispatched} dispatched, "
        f"{match.delivered} delivered)",
    )
    _id(root, "OriginatingMessageID", mapping.message_id("request", match.request_id))
    _id(root, "PrecedingMessageID", mapping.message_id("offer", match.offer_id))
    _incident(root, emergency)
    _contact(root, "Requester", match.requesting_country)
    _contact(root, "Owner", match.offering_country)
    info = _info(root, match.offer_item_id)
    response = SubElement(info, f"{{{MSG}}}ResponseInformation")
    _text(response, f"{{{RM}}}PrecedingResourceInfoElementID", need.id)
    _text(response, f"{{{RM}}}ResponseType", "Accept")
    _resource(info, match.resource_type, types)
    _quantity(info, match.quantity, types[match.resource_type].unit)
    delivery = need.delivery
    point = (delivery.lat, delivery.lon) if delivery else None
    _schedule(info, "Committed", None, delivery.place if delivery else None, point)
    if match.eta:
        _schedule(info, "EstimatedArrival", match.eta, None, None)
    return _bytes(root)


# ---- building blocks -------------------------------------------------------------


def _header(kind: str, what: str, object_id: str, sent: datetime) -> Element:
    root = Element(f"{{{MSG}}}{kind}")
    _id(root, "MessageID", mapping.message_id(what, object_id))
    _id(root, "SentDateTime", sent.isoformat(timespec="seconds"))
    _id(root, "MessageContentType", kind)
    return root


def _id(root: Element, name: str, value: str) -> None:
    _text(root, f"{{{MSG}}}{name}", value)


def _description(root: Element, text: str) -> None:
    _id(root, "MessageDescription", text)


def _incident(root: Element, emergency: Emergency) -> None:
    incident = SubElement(root, f"{{{MSG}}}IncidentInformation")
    _text(incident, f"{{{RM}}}IncidentID", emergency.id)
    _text(incident, f"{{{RM}}}IncidentDescription", emergency.title)


def _contact(root: Element, role: str, country: str) -> None:
    contact = SubElement(root, f"{{{MSG}}}ContactInformation")
    _text(contact, f"{{{RM}}}ContactDescription", f"{country} national point of contact")
    _text(contact, f"{{{RM}}}ContactRole", role)
    address = SubElement(SubElement(contact, f"{{{RM}}}ContactLocation"), f"{{{RM}}}Address")
    name = SubElement(SubElement(address, f"{{{XAL}}}Country"), f"{{{XAL}}}NameElement")
    name.set(f"{{{XAL}}}NameCode", country)
    name.set(f"{{{XAL}}}NameCodeType", "ISO 3166-1")


def _info(root: Element, element_id: str) -> Element:
    info = SubElement(root, f"{{{MSG}}}ResourceInformation")
    _text(info, f"{{{MSG}}}ResourceInfoElementID", element_id)
    return info


def _resource(info: Element, code: str, types: Types) -> Element:
    resource = SubElement(info, f"{{{MSG}}}Resource")
    structure = SubElement(resource, f"{{{MSG}}}TypeStructure")
    _text(structure, f"{{{RM}}}ValueListURN", mapping.TYPE_URN)
    _text(structure, f"{{{RM}}}Value", code)
    # TypeInfo's content is the community's own; like the samples, unqualified.
    _text(SubElement(resource, f"{{{MSG}}}TypeInfo"), "Resource", types[code].name)
    return resource


def _offered(root: Element, item: OfferItem, types: Types) -> None:
    info = _info(root, item.id)
    resource = _resource(info, item.resource_type, types)
    if item.self_sufficient:
        _keyword(resource, mapping.SELF_SUFFICIENT_URN, "true")
    for credential in item.credentials:
        _keyword(resource, mapping.CREDENTIAL_URN, credential)
    _quantity(info, item.quantity, types[item.resource_type].unit)
    point = (item.origin.lat, item.origin.lon) if item.origin else None
    _schedule(info, "BeginAvailable", item.available_from, None, point)


def _keyword(resource: Element, urn: str, value: str) -> None:
    keyword = SubElement(resource, f"{{{MSG}}}Keyword")
    _text(keyword, f"{{{RM}}}ValueListURN", urn)
    _text(keyword, f"{{{RM}}}Value", value)


def _quantity(info: Element, amount: int, unit: str) -> None:
    quantity = SubElement(SubElement(info, f"{{{MSG}}}AssignmentInformation"), f"{{{MSG}}}Quantity")
    measured = SubElement(quantity, f"{{{RM}}}MeasuredQuantity")
    _text(measured, f"{{{RM}}}Amount", str(amount))
    unit_of_measure = SubElement(measured, f"{{{RM}}}UnitOfMeasure")
    _text(unit_of_measure, f"{{{RM}}}ValueListURN", mapping.UNIT_URN)
    _text(unit_of_measure, f"{{{RM}}}Value", unit)


def _schedule(
    info: Element,
    kind: str,
    at: datetime | None,
    place: str | None,
    point: tuple[float, float] | None,
) -> None:
    schedule = SubElement(info, f"{{{MSG}}}ScheduleInformation")
    _text(schedule, f"{{{MSG}}}ScheduleType", kind)
    if at is not None:
        _text(schedule, f"{{{MSG}}}DateTime", at.isoformat())
    if place is None and point is None:
        return
    location = SubElement(schedule, f"{{{MSG}}}Location")
    if place:
        _text(location, f"{{{RM}}}LocationDescription", place)
    if point:
        area = SubElement(location, f"{{{RM}}}TargetArea")
        _text(SubElement(area, f"{{{GML}}}Point"), f"{{{GML}}}pos", f"{point[0]!r} {point[1]!r}")


def _text(parent: Element, tag: str, value: str) -> Element:
    el = SubElement(parent, tag)
    el.text = value
    return el


def _bytes(root: Element) -> bytes:
    data: bytes = tostring(root, encoding="utf-8", xml_declaration=True)
    return data
