from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from eadrcc.models import LongText, Quantity, Strict, Timestamp

MatchStatus = Literal["proposed", "accepted", "declined", "superseded", "in_transit", "delivered"]


class Match(BaseModel):
    id: str
    emergency_id: str
    need_id: str
    offer_item_id: str
    offer_id: str
    request_id: str
    requesting_country: str
    offering_country: str
    resource_type: str
    quantity: int
    score: float
    score_parts: dict[str, float]
    status: MatchStatus
    dispatched: int
    delivered: int
    eta: datetime | None
    reason: str | None
    created_at: datetime
    updated_at: datetime


class AcceptBody(Strict):
    quantity: Quantity | None = Field(default=None, description="accept part; default all")


class DeclineBody(Strict):
    reason: LongText = Field(min_length=1)


class DispatchBody(Strict):
    quantity: Quantity
    eta: Timestamp | None = None


class DeliverBody(Strict):
    quantity: Quantity


class MatchQuery(Strict):
    status: MatchStatus | None = None


class CredentialOut(BaseModel):
    """A credential code an offer item may carry (e.g. an INSARAG classification)."""

    code: str
    name: str
    applies_to: list[str] = Field(description="resource types (and their subtypes) it fits")
    programme: str | None = Field(description="the programme that awards it, if any")


class ResourceTypeOut(BaseModel):
    code: str
    name: str
    unit: str
    parent: str | None
    substitutes: list[str]
    description: str | None = None
