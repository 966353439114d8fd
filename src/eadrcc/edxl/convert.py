"""An EDXL-RM message into the body of an RFA or an offer (pure logic).

Every problem is collected first, so a sender can fix them all in one go; the body
is then validated by the same models as the JSON API, and created by the same
services, so every rule, permission, event and proposal applies unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from eadrcc.edxl import mapping
from eadrcc.edxl.mapping import TypeResolver
from eadrcc.edxl.models import Message, Place, ResourceInfo, Schedule
from eadrcc.errors import Invalid
from eadrcc.offers.models import OfferCreate
from eadrcc.requests.models import RequestCreate
from eadrcc.web import validate

# Which contact speaks for the country, best first (EDXL-RM ContactRole values).
REQUESTER_ROLES = ("Requester", "Sender", "Approver")
RESPONDER_ROLES = ("RespondingOrg", "Owner", "Sender")
DELIVERY_SCHEDULES = ("RequestedArrival", "ReportTo")
AVAILABLE_SCHEDULES = ("BeginAvailable", "EstimatedDeparture")
ORIGIN_SCHEDULES = ("BeginAvailable", "Current", "EstimatedDeparture", "ActualDeparture")
PRIORITIES = ("critical", "high", "normal")
# "4", "4.0", "4 dozers"; not "2.5", "four" or "1,000".
_WHOLE = re.compile(r"^(\d+)(?:\.0*)?(?:\s.*)?$")
Errors = dict[str, str]


def to_request(msg: Message, *, country: str | None, resolver: TypeResolver) -> RequestCreate:
    """A RequestResource as an RFA: one need per ResourceInformation."""
    errors: Errors = {}
    notes = _heading(msg)
    requesting = _country(msg, REQUESTER_ROLES, country, "requesting_country", errors)
    needs = [
        _need(res, f"ResourceInformation[{i}]", resolver, errors, notes)
        for i, res in enumerate(msg.resources)
    ]
    _require(msg, errors)
    body = {
        "requesting_country": requesting,
        "needs": needs,
        "reference": msg.message_id[:200] if msg.message_id else None,
        "notes": "\n".join(notes)[:4000],
    }
    return validate(RequestCreate, body)


def to_offer(
    msg: Message,
    *,
    emergency_id: str,
    request_id: str | None,
    country: str | None,
    channel: str,
    resolver: TypeResolver,
) -> OfferCreate:
    """An OfferUnsolicitedResource or ResponseToRequestResource as an offer; items the
    response declines are left out."""
    errors: Errors = {}
    offering = _country(msg, RESPONDER_ROLES, country, "offering_country", errors)
    # Items with no BeginAvailable time are available from when the message was sent;
    # a SentDateTime without offset (as in the samples) is read as UTC.
    sent = _time(msg.sent, "SentDateTime", errors, naive_is_utc=True)
    items = [
        _item(res, f"ResourceInformation[{i}]", sent, resolver, errors)
        for i, res in enumerate(msg.resources)
        if (res.response or "").lower() != "decline"
    ]
    if msg.resources and not items:
        errors["ResourceInformation"] = "every item is declined: nothing is offered"
    _require(msg, errors)
    body = {
        "emergency_id": emergency_id,
        "request_id": request_id,
        "offering_country": offering,
        "channel": channel,
        "items": items,
        "notes": "\n".join(_heading(msg))[:4000],
    }
    return validate(OfferCreate, body)


def _need(
    res: ResourceInfo, where: str, resolver: TypeResolver, errors: Errors, notes: list[str]
) -> dict[str, Any]:
    arrival = _schedule(res.schedules, ("RequestedArrival",), lambda s: s.at is not None)
    target = _schedule(res.schedules, DELIVERY_SCHEDULES, lambda s: s.place is not None)
    delivery, unlocated = _delivery(target.place if target else None, where, errors)
    if unlocated:  # a need's delivery point needs coordinates; people can still read it
        notes.append(f"{res.element_id or where}: deliver to {unlocated} (no coordinates given)")
    return {
        "resource_type": _type(res, resolver, where, errors),
        "quantity": _quantity(res, where, errors),
        "priority": _priority(res, where, errors),
        "needed_by": _time(arrival.at if arrival else None, f"{where}.DateTime", errors),
        "delivery": delivery,
    }


def _item(
    res: ResourceInfo, where: str, sent: datetime | None, resolver: TypeResolver, errors: Errors
) -> dict[str, Any]:
    available = _schedule(res.schedules, AVAILABLE_SCHEDULES, lambda s: s.at is not None)
    origin = _schedule(
        res.schedules, ORIGIN_SCHEDULES, lambda s: s.place is not None and s.place.pos is not None
    )
    point = _point(origin.place.pos if origin and origin.place else None, where, errors)
    available_from = _time(available.at if available else None, f"{where}.DateTime", errors)
    if available_from is None and sent is None and f"{where}.DateTime" not in errors:
        errors[f"{where}.DateTime"] = "no BeginAvailable DateTime and no SentDateTime"
    return {
        "resource_type": _type(res, resolver, where, errors),
        "quantity": _quantity(res, where, errors),
        "available_from": available_from or sent,
        "origin": {"lat": point[0], "lon": point[1]} if point else None,
        "self_sufficient": _keyword(res, mapping.SELF_SUFFICIENT_URN) == ["true"],
        "credentials": _keyword(res, mapping.CREDENTIAL_URN),
    }


# ---- the parts -------------------------------------------------------------------


def _require(msg: Message, errors: Errors) -> None:
    if not msg.message_id:
        errors["MessageID"] = "required: it is the Idempotency-Key of the import"
    if not msg.resources:
        errors["ResourceInformation"] = "the message has none"
    if errors:
        raise Invalid(f"the EDXL-RM message has {len(errors)} problem(s)", errors=errors)


def _heading(msg: Message) -> list[str]:
    lines = [f"Imported from EDXL-RM {msg.kind} {msg.message_id or '(no MessageID)'}"]
    lines += [f"{c.role or 'Contact'}: {c.description}" for c in msg.contacts if c.description]
    if msg.description:
        lines.append(msg.description)
    return lines


def _country(
    msg: Message, roles: tuple[str, ...], given: str | None, field: str, errors: Errors
) -> str | None:
    """The message's country (first contact in role order that names one) or the
    query's; the two must agree when both are there."""
    ranked = sorted(
        (c for c in msg.contacts if c.country and (c.role in roles or c.role is None)),
        key=lambda c: roles.index(c.role) if c.role in roles else len(roles),
    )
    sent = ranked[0].country if ranked else None
    found = mapping.iso3(sent)
    if found and given and found != given:
        errors[field] = f"the message names {found}, the query {given}"
    if not (found or given):
        seen = f" (found {sent!r})" if sent else ""
        errors[field] = f"no ISO 3166 country in the message's contacts{seen}; give ?{field}="
    return found or given


def _type(res: ResourceInfo, resolver: TypeResolver, where: str, errors: Errors) -> str | None:
    ours = res.type_value if res.type_urn == mapping.TYPE_URN else None
    code = resolver.resolve([ours, res.type_text, res.type_name, res.name])
    if code is None:
        shown = res.type_text or res.name or res.type_value or "nothing"
        errors[f"{where}.type"] = f"unknown resource type {shown!r} ({res.element_id or where})"
    return code


def _quantity(res: ResourceInfo, where: str, errors: Errors) -> int:
    """QuantityText, else MeasuredQuantity/Amount; none at all means one resource
    (a CommitResource item names one dozer)."""
    raw = res.quantity_text or res.amount
    if raw is None:
        return 1
    found = _WHOLE.match(raw)
    if found is None or int(found.group(1)) < 1:
        errors[f"{where}.quantity"] = f"{raw!r} is not a whole number of at least 1"
        return 1
    return int(found.group(1))


def _priority(res: ResourceInfo, where: str, errors: Errors) -> str:
    given = _keyword(res, mapping.PRIORITY_URN)
    if not given:
        return "normal"
    if given[0] not in PRIORITIES:
        errors[f"{where}.priority"] = f"{given[0]!r} is not one of {', '.join(PRIORITIES)}"
        return "normal"
    return given[0]


def _keyword(res: ResourceInfo, urn: str) -> list[str]:
    return [k.value.lower() for k in res.keywords if k.urn == urn and k.value]


def _schedule(
    schedules: list[Schedule], kinds: tuple[str, ...], useful: Callable[[Schedule], bool]
) -> Schedule | None:
    """The first schedule of the first kind (in `kinds` order) that has what we need."""
    for kind in kinds:
        for s in schedules:
            if s.kind == kind and useful(s):
                return s
    return None


def _delivery(
    place: Place | None, where: str, errors: Errors
) -> tuple[dict[str, Any] | None, str | None]:
    """(delivery, None) for a located place, (None, text) for a place we can only name."""
    if place is None:
        return None, None
    text = ", ".join(t for t in (place.description, place.address) if t)[:200] or None
    point = _point(place.pos, where, errors)
    if point is None:
        return None, text
    return {"lat": point[0], "lon": point[1], "place": text}, None


def _point(pos: str | None, where: str, errors: Errors) -> tuple[float, float] | None:
    if not pos:
        return None
    try:
        lat, lon = (float(v) for v in pos.split())
    except ValueError:
        errors[f"{where}.pos"] = f"gml:pos {pos!r} is not 'latitude longitude'"
        return None
    return lat, lon


def _time(
    value: str | None, field: str, errors: Errors, *, naive_is_utc: bool = False
) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        errors[field] = f"{value!r} is not an xs:dateTime"
        return None
    if parsed.tzinfo is None:
        if naive_is_utc:
            return parsed.replace(tzinfo=UTC)
        errors[field] = f"{value!r} has no UTC offset"
        return None
    return parsed
