"""EDXL-RM 1.0 in: parsed safely, then read into a `Message` of raw text (pure logic).

Safety: defusedxml refuses any DTD before the document is looked at, so entity
bombs and XXE payloads cost one parse error, not memory, files or a network call.

Tolerance: elements are found by their local names, in the message namespace
(`...:RM:1.0:msg`) or the common one (`...:RM:1.0`), because real senders mix them
(the xchangecore samples put FundCode in the common namespace and TypeInfo's
children in none). Text is trimmed and inner runs of blanks collapsed. Nothing is
interpreted here: `convert` decides what a quantity or a time means.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from eadrcc.edxl.models import Contact, Keyword, Message, Place, ResourceInfo, Schedule
from eadrcc.errors import BadRequest, Invalid

RM = "urn:oasis:names:tc:emergency:EDXL:RM:1.0"
MSG = f"{RM}:msg"
KINDS = (
    "RequestResource",
    "ResponseToRequestResource",
    "OfferUnsolicitedResource",
    "CommitResource",
)
# xAL parts in the order a postal address reads; others come first, as sent.
ADDRESS_ORDER = (
    "FreeTextAddress",
    "Premises",
    "Thoroughfare",
    "Locality",
    "PostCode",
    "AdministrativeArea",
    "Country",
)


def safe_root(raw: bytes) -> Element:
    """The document's root element, or 400: malformed, or carrying a DTD."""
    try:
        root: Element = fromstring(raw, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise BadRequest(
            f"refused: {type(exc).__name__}; DTDs, entities and external references "
            "are not accepted"
        ) from None
    except (ParseError, LookupError, ValueError) as exc:
        raise BadRequest(f"malformed XML: {exc}") from None
    return root


def read(raw: bytes) -> Message:
    """One EDXL-RM message of a kind we take in; 400 or 422 otherwise."""
    root = safe_root(raw)
    namespace, kind = _split(root.tag)
    if namespace not in (RM, MSG) or kind not in KINDS:
        raise Invalid(
            "not an EDXL-RM 1.0 message of a kind this hub takes",
            errors={"root": f"{{{namespace}}}{kind}; expected one of {', '.join(KINDS)}"},
        )
    incident = child(root, "IncidentInformation")
    return Message(
        kind=kind,  # type: ignore[arg-type]
        message_id=text(root, "MessageID"),
        sent=text(root, "SentDateTime"),
        originating_id=text(root, "OriginatingMessageID"),
        preceding_id=text(root, "PrecedingMessageID"),
        description=text(root, "MessageDescription"),
        incident_id=text(incident, "IncidentID"),
        incident_description=text(incident, "IncidentDescription"),
        contacts=[_contact(c) for c in children(root, "ContactInformation")],
        resources=[_resource(r) for r in children(root, "ResourceInformation")],
    )


# ---- element helpers -------------------------------------------------------------


def _split(tag: str) -> tuple[str, str]:
    namespace, _, local = tag.rpartition("}")
    return namespace.lstrip("{"), local


def local(tag: str) -> str:
    return _split(tag)[1]


def children(el: Element | None, name: str) -> list[Element]:
    return [] if el is None else [c for c in el if local(c.tag) == name]


def child(el: Element | None, *path: str) -> Element | None:
    for name in path:
        found = children(el, name)
        el = found[0] if found else None
    return el


def clean(value: str | None) -> str | None:
    """Trimmed, inner blanks collapsed; None for nothing but blanks."""
    return " ".join((value or "").split()) or None


def text(el: Element | None, *path: str) -> str | None:
    found = child(el, *path)
    return None if found is None else clean("".join(found.itertext()))


def attribute(el: Element, name: str) -> str | None:
    """An attribute by local name, whatever its namespace (xal:NameCode or NameCode)."""
    return next((clean(v) for k, v in el.attrib.items() if local(k) == name), None)


# ---- the parts of a message ------------------------------------------------------


def _contact(el: Element) -> Contact:
    country = next((c for c in el.iter() if local(c.tag) == "Country"), None)
    return Contact(
        role=text(el, "ContactRole"),
        description=text(el, "ContactDescription"),
        country=_country(country) if country is not None else None,
        place=_place(child(el, "ContactLocation")),
    )


def _resource(el: Element) -> ResourceInfo:
    resource = child(el, "Resource")
    quantity = child(el, "AssignmentInformation", "Quantity")
    return ResourceInfo(
        element_id=text(el, "ResourceInfoElementID"),
        response=text(el, "ResponseInformation", "ResponseType"),
        answers=text(el, "ResponseInformation", "PrecedingResourceInfoElementID"),
        resource_id=text(resource, "ResourceID"),
        name=text(resource, "Name"),
        type_urn=text(resource, "TypeStructure", "ValueListURN"),
        type_value=text(resource, "TypeStructure", "Value"),
        type_name=text(resource, "TypeInfo", "Resource") or _bare_text(child(resource, "TypeInfo")),
        type_class=text(resource, "TypeInfo", "MinimumCapabilities"),
        keywords=[
            Keyword(urn=text(k, "ValueListURN"), value=text(k, "Value"))
            for k in children(resource, "Keyword")
        ],
        quantity_text=text(quantity, "QuantityText"),
        amount=text(quantity, "MeasuredQuantity", "Amount"),
        unit=text(quantity, "MeasuredQuantity", "UnitOfMeasure", "Value"),
        schedules=[_schedule(s) for s in children(el, "ScheduleInformation")],
    )


def _bare_text(type_info: Element | None) -> str | None:
    """TypeInfo written as plain text, or with children other than Resource."""
    if type_info is None or child(type_info, "Resource") is not None:
        return None
    parts = [clean(t) for t in type_info.itertext()]
    return " ".join(p for p in parts if p) or None


def _schedule(el: Element) -> Schedule:
    return Schedule(
        kind=text(el, "ScheduleType"),
        at=text(el, "DateTime"),
        place=_place(child(el, "Location")),
    )


def _place(el: Element | None) -> Place | None:
    if el is None:
        return None
    address = child(el, "Address")
    country = child(address, "Country")
    place = Place(
        description=text(el, "LocationDescription"),
        address=_address(address),
        country=_country(country) if country is not None else None,
        pos=text(el, "TargetArea", "Point", "pos"),
    )
    return place if place.model_dump(exclude_none=True) else None


def _address(el: Element | None) -> str | None:
    """An xAL address as one line: "Eisenhower Avenue 5301, Arlington, 22204, VA, US"."""
    if el is None:
        return None
    rank = {name: i for i, name in enumerate(ADDRESS_ORDER)}
    parts = sorted(el, key=lambda p: rank.get(local(p.tag), -1))
    lines = [_address_part(p) for p in parts]
    return ", ".join(line for line in lines if line) or None


def _address_part(el: Element) -> str | None:
    words = [clean(e.text) or attribute(e, "NameCode") for e in el.iter() if not len(e)]
    return " ".join(w for w in words if w) or None


def _country(el: Element) -> str | None:
    for name in el.iter():
        if local(name.tag) == "NameElement":
            return attribute(name, "NameCode") or clean(name.text)
    return clean("".join(el.itertext()))
