from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from eadrcc.capacities.providers import LikelyProvider
from eadrcc.models import ISO3, LongText, Quantity, ShortText, Strict, Timestamp

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
    proposed: int
    accepted: int
    in_transit: int
    delivered: int
    uncovered_quantity: int
    duplicated: bool = Field(description="proposed + accepted exceed what was requested")
    uncovered: bool = Field(description="proposed + accepted fall short of what was requested")
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


def picture(row: dict[str, object]) -> Need:
    """The per-need picture from a need row and its summed match quantities."""
    requested, proposed, accepted = int(row["quantity"]), int(row["proposed"]), int(row["accepted"])  # type: ignore[call-overload]
    open_ = row["status"] == "open"
    delivery = None
    if row["delivery_lat"] is not None:
        delivery = {
            "lat": row["delivery_lat"],
            "lon": row["delivery_lon"],
            "place": row["delivery_place"],
        }
    gap = max(requested - accepted - proposed, 0) if open_ else 0
    return Need.model_validate(
        {
            **{
                k: row[k]
                for k in (
                    "id",
                    "request_id",
                    "emergency_id",
                    "resource_type",
                    "priority",
                    "needed_by",
                    "status",
                    "version",
                    "in_transit",
                    "delivered",
                )
            },
            "delivery": delivery,
            "requested": requested,
            "proposed": proposed,
            "accepted": accepted,
            "uncovered_quantity": gap,
            "duplicated": open_ and proposed + accepted > requested,
            "uncovered": gap > 0,
        }
    )
