from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from eadrcc.emergencies.models import Emergency
from eadrcc.models import Strict, Timestamp


class DuplicateLine(BaseModel):
    """The same help offered through two channels: `item_id` is planned for the need,
    `duplicate_item_id` announced it again (flagged, never counted)."""

    item_id: str
    offering_country: str
    channel: str
    duplicate_item_id: str
    duplicate_channel: str


class DuplicatePairLine(DuplicateLine):
    need_id: str


class NeedLine(BaseModel):
    """One need's figures, with the same meaning as on GET /requests/{id}."""

    need_id: str
    request_id: str
    requesting_country: str
    resource_type: str
    priority: str
    status: str
    needed_by: datetime | None
    eta: datetime | None = Field(description="the latest ETA of accepted or moving help")
    requested: int
    proposed: int
    accepted: int
    in_transit: int
    delivered: int
    uncovered_quantity: int
    uncovered: bool
    duplicated: bool
    late: bool
    at_risk: bool
    duplicates: list[DuplicateLine] = Field(default_factory=list)


class SupplyLine(BaseModel):
    """One resource type: what open needs ask for against what open offers hold."""

    resource_type: str
    requested: int
    offered: int
    accepted: int
    surplus: int = Field(description="offered - requested: above 0 is over-offering")


class NationLine(BaseModel):
    """What one nation offered through one channel, of one resource type."""

    country: str
    channel: str
    resource_type: str
    offered: int
    accepted: int
    in_transit: int
    delivered: int
    withdrawn: int


class Summary(BaseModel):
    requests: int
    needs: int
    needs_fully_accepted: int
    needs_uncovered: int
    needs_late: int
    needs_at_risk: int
    offers: int = Field(description="open offers still holding help nobody has accepted")
    offering_nations: int = Field(description="nations with such an offer")
    accepted_lines: int
    delivered_lines: int


class Sitrep(BaseModel):
    emergency: Emergency
    as_of: datetime
    last_seq: int
    exercise: bool
    summary: Summary
    needs: list[NeedLine]
    offers_by_nation: list[NationLine]
    supply_by_type: list[SupplyLine]
    duplicates: list[DuplicatePairLine]
    outstanding: list[NeedLine]


class SitrepQuery(Strict):
    as_of: Timestamp | None = None
    # For links and browsers that cannot set Accept; wins over the Accept header.
    format: Literal["json", "md", "markdown", "csv", "html"] | None = None
