"""National capacities: standing help declared before any emergency, and teams
known from public classification lists."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from eadrcc.models import ISO3, Flag, Id, LongText, Quantity, ShortText, Strict, Timestamp
from eadrcc.offers.models import Channel, CredentialCode
from eadrcc.requests.models import Delivery, TypeCode

Readiness = Annotated[int, Field(ge=0, le=8760, description="hours from request to ready")]
Source = Literal["declared", "public"]


class HomeBase(Delivery):
    """Where the capacity leaves from: the origin of an offer built from it."""


class CapacityCreate(Strict):
    country: ISO3
    resource_type: TypeCode
    quantity: Quantity
    readiness_hours: Readiness
    home_base: HomeBase | None = None
    credentials: list[CredentialCode] = Field(default_factory=list, max_length=10)
    self_sufficient: Flag = False
    valid_until: Timestamp
    name: ShortText | None = None
    notes: LongText | None = None


class CapacityUpdate(Strict):
    resource_type: TypeCode | None = None
    quantity: Quantity | None = None
    readiness_hours: Readiness | None = None
    home_base: HomeBase | None = None
    credentials: list[CredentialCode] | None = Field(default=None, max_length=10)
    self_sufficient: Flag | None = None
    valid_until: Timestamp | None = None
    name: ShortText | None = None
    notes: LongText | None = None

    @model_validator(mode="after")
    def _something(self) -> CapacityUpdate:
        if not self.model_fields_set:
            raise ValueError("name at least one field to change")
        required = ("resource_type", "quantity", "readiness_hours", "valid_until")
        for f in (*required, "credentials", "self_sufficient"):
            if f in self.model_fields_set and getattr(self, f) is None:
                raise ValueError(f"{f} cannot be removed")
        return self


class Capacity(BaseModel):
    id: str
    country: str
    resource_type: str
    quantity: int
    readiness_hours: int
    home_base: HomeBase | None
    credentials: list[str]
    self_sufficient: bool
    valid_until: datetime | None
    name: str | None
    notes: str | None
    source: Source
    citation: str | None = Field(description="public records: where the list was read")
    read_on: date | None = Field(description="public records: the day the list was read")
    status: Literal["active", "withdrawn"]
    expired: bool = Field(description="valid_until has passed: listed, never suggested")
    version: int
    created_at: datetime
    updated_at: datetime


class CapacityQuery(Strict):
    country: ISO3 | None = None
    resource_type: TypeCode | None = Field(default=None, description="this type and below")
    credential: CredentialCode | None = None
    ready_within: Readiness | None = Field(default=None, description="readiness_hours at most")
    region: Literal["NATO", "EAPC", "PfP", "MD", "ICI", "PAG"] | None = Field(
        default=None, description="the nation's partnership framework"
    )
    source: Source | None = None
    status: Literal["active", "withdrawn"] = "active"
    include_expired: bool = True
    limit: int = Field(default=1000, ge=1, le=10_000)


class CapacityOffer(Strict):
    """POST /capacities/{id}/offer: the rest of the offer comes from the capacity."""

    emergency_id: Id
    request_id: Id | None = None
    quantity: Quantity
    channel: Channel = "direct"
    notes: LongText | None = None


class DeclaredForNeed(BaseModel):
    """An open need a nation is asked for and the capacity it declared that can fill
    it (the readiest, if several)."""

    need_id: str
    request_id: str
    need_type: str = Field(description="what the need asks for")
    capacity_id: str
    resource_type: str = Field(description="what the capacity holds")
    quantity: int = Field(description="how many the capacity holds")
