from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from eadrcc.capacities.providers import LikelyProvider
from eadrcc.models import ISO3, LongText, Quantity, ShortText, Strict, Timestamp
from eadrcc.requests import picture as figures

TypeCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$", max_length=100)]
Priority = Literal["critical", "high", "normal"]


class Delivery(Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    place: ShortText | None = None


class NeedCreate(Strict):
    resource_type: TypeCode
    quantity: Quantity
    priority: Priority = "normal"
    needed_by: Timestamp | None = None
    delivery: Delivery | None = None


class RequestCreate(Strict):
    requesting_country: ISO3
    needs: list[NeedCreate] = Field(min_length=1, max_length=500)
    reference: ShortText | None = Field(default=None, description="the nation's own reference")
    notes: LongText | None = None


class NeedUpdate(Strict):
    quantity: Quantity | None = None
    priority: Priority | None = None
    needed_by: Timestamp | None = None
    status: Literal["cancelled"] | None = None

    @model_validator(mode="after")
    def _something(self) -> NeedUpdate:
        if not self.model_fields_set:
            raise ValueError("name at least one of quantity, priority, needed_by, status")
        return self


class Dispatch(BaseModel):
    """Help on its way to a need: one match's quantity in transit and its ETA."""

    match_id: str
    offering_country: str
    quantity: int
    eta: datetime | None


class DuplicatePair(BaseModel):
    """The same help offered through two channels: `item_id` is planned for this need,
    `duplicate_item_id` announces it again (flagged, never counted)."""

    item_id: str
    offer_id: str
    offering_country: str
    channel: str
    duplicate_item_id: str
    duplicate_offer_id: str
    duplicate_channel: str


class Alternative(BaseModel):
    """Another offered item that could fill the need but is not proposed to it
    (its units are promised elsewhere, or the need is fully proposed). Never counted."""

    offer_item_id: str
    offer_id: str
    offering_country: str
    resource_type: str
    available: int = Field(description="offered and not yet accepted (may be proposed elsewhere)")
    score: float
    eta: datetime


class Need(BaseModel):
    """A need and its picture: what is requested, proposed, accepted, moving, arrived."""

    id: str
    request_id: str
    emergency_id: str
    resource_type: str
    priority: Priority
    needed_by: datetime | None
    delivery: Delivery | None
    status: Literal["open", "cancelled"]
    version: int
    requested: int
    proposed: int = Field(description="awaiting decision; never counted as cover")
    accepted: int = Field(description="accepted and not yet moving")
    in_transit: int
    delivered: int
    uncovered_quantity: int = Field(description="requested - accepted - in_transit - delivered")
    uncovered: bool = Field(description="uncovered_quantity is above 0")
    duplicated: bool = Field(description="the same help reached this need through two channels")
    late: bool = Field(default=False, description="needed_by has passed and not all was delivered")
    at_risk: bool = Field(
        default=False,
        description="accepted or moving help is due after needed_by, or nothing is accepted "
        "and needed_by is under 6 hours away",
    )
    eta: datetime | None = Field(
        default=None, description="the latest ETA of accepted or moving help"
    )
    dispatches: list[Dispatch] = Field(default_factory=list)
    duplicates: list[DuplicatePair] = Field(default_factory=list)
    alternatives: list[Alternative] = Field(
        default_factory=list, description="up to 3 other items that could fill it; not counted"
    )
    likely_providers: list[LikelyProvider] = Field(
        default_factory=list,
        description="nations whose valid capacities could fill it and that have not offered "
        "them yet, best first (GET /requests/{id} only)",
    )


class Request(BaseModel):
    id: str
    emergency_id: str
    requesting_country: str
    reference: str | None
    notes: str | None
    created_at: datetime
    needs: list[Need]


def picture(row: Mapping[str, Any], now: datetime) -> Need:
    """The per-need picture from a need row and its summed match quantities."""
    status, requested = str(row["status"]), int(row["quantity"])
    accepted, moving, arrived = int(row["accepted"]), int(row["in_transit"]), int(row["delivered"])
    gap = figures.uncovered_quantity(
        status=status, requested=requested, accepted=accepted, in_transit=moving, delivered=arrived
    )
    delivery = None
    if row["delivery_lat"] is not None:
        delivery = {
            "lat": row["delivery_lat"],
            "lon": row["delivery_lon"],
            "place": row["delivery_place"],
        }
    keep = ("id", "request_id", "emergency_id", "resource_type", "priority", "needed_by")
    return Need.model_validate(
        {
            **{k: row[k] for k in (*keep, "status", "version", "proposed", "eta", "dispatches")},
            "delivery": delivery,
            "requested": requested,
            "accepted": accepted,
            "in_transit": moving,
            "delivered": arrived,
            "uncovered_quantity": gap,
            "uncovered": gap > 0,
            "duplicated": False,
            "late": figures.late(
                status=status,
                requested=requested,
                delivered=arrived,
                needed_by=row["needed_by"],
                now=now,
            ),
            "at_risk": figures.at_risk(
                status=status,
                needed_by=row["needed_by"],
                allocated=int(row["allocated"]),
                latest_eta=row["eta"],
                now=now,
            ),
        }
    )
