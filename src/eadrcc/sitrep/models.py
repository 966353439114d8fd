from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from eadrcc.emergencies.models import Emergency
from eadrcc.models import Strict, Timestamp


class NeedLine(BaseModel):
    need_id: str
    request_id: str
    requesting_country: str
    resource_type: str
    priority: str
    status: str
    requested: int
    proposed: int
    accepted: int
    in_transit: int
    delivered: int
    uncovered_quantity: int
    duplicated: bool
    uncovered: bool


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
    offers: int
    offering_nations: int
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
    outstanding: list[NeedLine]


class SitrepQuery(Strict):
    as_of: Timestamp | None = None
    # For links and browsers that cannot set Accept; wins over the Accept header.
    format: Literal["json", "md", "markdown", "csv", "html"] | None = None
