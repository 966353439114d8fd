"""An EDXL-RM message as read (raw text, nothing interpreted yet), and the API's models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from eadrcc.models import ISO3, Id, Strict
from eadrcc.offers.models import Channel, OfferCreated
from eadrcc.requests.models import Request

MessageKind = Literal[
    "RequestResource", "ResponseToRequestResource", "OfferUnsolicitedResource", "CommitResource"
]


class Place(BaseModel):
    """An EDXL-RM LocationType: description, xAL address, EDXL-HAVE target area."""

    description: str | None = None
    address: str | None = None
    country: str | None = Field(default=None, description="xal:Country code or name as sent")
    pos: str | None = Field(default=None, description="gml:Point/gml:pos, 'lat lon' as sent")


class Schedule(BaseModel):
    kind: str | None = None  # ScheduleType: RequestedArrival, BeginAvailable, Committed, ...
    at: str | None = None  # DateTime as sent
    place: Place | None = None


class Keyword(BaseModel):
    urn: str | None = None  # ValueListURN
    value: str | None = None


class ResourceInfo(BaseModel):
    """One ResourceInformation block."""

    element_id: str | None = None
    response: str | None = None  # ResponseInformation/ResponseType: Accept, Decline, ...
    answers: str | None = None  # ResponseInformation/PrecedingResourceInfoElementID
    resource_id: str | None = None
    name: str | None = None
    type_urn: str | None = None  # TypeStructure/ValueListURN
    type_value: str | None = None  # TypeStructure/Value
    type_name: str | None = None  # TypeInfo/Resource, or all of TypeInfo's text
    type_class: str | None = None  # TypeInfo/MinimumCapabilities ("Type I")
    keywords: list[Keyword] = Field(default_factory=list)
    quantity_text: str | None = None
    amount: str | None = None  # MeasuredQuantity/Amount
    unit: str | None = None  # MeasuredQuantity/UnitOfMeasure/Value
    schedules: list[Schedule] = Field(default_factory=list)

    @property
    def type_text(self) -> str | None:
        """The type as a person would read it: "Track Dozer Type I"."""
        return " ".join(t for t in (self.type_name, self.type_class) if t) or None


class Contact(BaseModel):
    role: str | None = None
    description: str | None = None
    country: str | None = None  # the first xal:Country anywhere in the contact
    place: Place | None = None


class Message(BaseModel):
    kind: MessageKind
    message_id: str | None = None
    sent: str | None = None
    originating_id: str | None = None
    preceding_id: str | None = None
    description: str | None = None
    incident_id: str | None = None
    incident_description: str | None = None
    contacts: list[Contact] = Field(default_factory=list)
    resources: list[ResourceInfo] = Field(default_factory=list)


# ---- the API ---------------------------------------------------------------------


class ImportQuery(Strict):
    emergency_id: Id | None = Field(default=None, description="required for RequestResource")
    requesting_country: ISO3 | None = Field(
        default=None, description="when the message's requester names no ISO 3166 country"
    )
    offering_country: ISO3 | None = Field(
        default=None, description="when the message's responder names no ISO 3166 country"
    )
    channel: Channel = "other"


class Receipt(BaseModel):
    message_id: str
    message_type: MessageKind
    idempotency_key: str


class RequestImported(Request):
    edxl: Receipt


class OfferImported(OfferCreated):
    edxl: Receipt
