from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from eadrcc.matching.models import Match
from eadrcc.models import ISO3, Flag, Id, LongText, Point, Quantity, Strict, Timestamp
from eadrcc.requests.models import TypeCode

Channel = Literal["direct", "eu_ucpm", "bilateral", "un", "other"]
CredentialCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.]{2,60}$")]


class OfferItemCreate(Strict):
    resource_type: TypeCode
    quantity: Quantity
    available_from: Timestamp
    origin: Point | None = None
    self_sufficient: Flag = False
    credentials: list[CredentialCode] = Field(default_factory=list, max_length=10)


class OfferCreate(Strict):
    emergency_id: Id
    request_id: Id | None = None
    offering_country: ISO3
    channel: Channel
    items: list[OfferItemCreate] = Field(min_length=1, max_length=200)
    notes: LongText | None = None


class WithdrawBody(Strict):
    reason: LongText | None = None


class OfferItem(BaseModel):
    id: str
    resource_type: str
    quantity: int
    allocated: int
    available_from: datetime
    origin: Point | None
    self_sufficient: bool
    credentials: list[str]
    possible_duplicate_of: str | None
    status: Literal["open", "withdrawn"]


class Offer(BaseModel):
    id: str
    emergency_id: str
    request_id: str | None
    offering_country: str
    channel: Channel
    notes: str | None
    status: Literal["open", "withdrawn"]
    created_at: datetime
    withdrawn_at: datetime | None
    items: list[OfferItem]


class OfferCreated(Offer):
    matches: list[Match] = Field(description="the proposals made at once")
