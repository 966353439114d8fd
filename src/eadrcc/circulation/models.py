from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from eadrcc.capacities.models import DeclaredForNeed
from eadrcc.circulation.states import State
from eadrcc.models import ISO3, LongText, Strict

EXERCISE_MARKING = "EXERCISE"


class DistributionUpdate(Strict):
    countries: list[ISO3] = Field(max_length=500, description="who this emergency's RFAs go to")

    @field_validator("countries")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a country is listed twice")
        return value


class Distribution(BaseModel):
    emergency_id: str
    countries: list[str]
    explicit: bool = Field(description="set by a duty officer (else the default list)")
    set_at: datetime | None
    set_by: str | None
    added: list[str] = Field(default=[], description="in the answer to a change: who joined")
    removed: list[str] = Field(default=[], description="in the answer to a change: who left")


class ResponseUpdate(Strict):
    state: Literal["acknowledged", "unable"]
    reason: LongText | None = Field(
        default=None, validate_default=True, description="required with `unable`"
    )

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("state") == "unable" and not value:
            raise ValueError("say why the nation is unable to assist")
        return value


class Response(BaseModel):
    """A nation's row in an emergency's response matrix."""

    emergency_id: str
    country: str
    state: State
    reason: str | None
    offers: int = Field(description="the nation's open offers in this emergency")
    on_distribution: bool
    notified_at: datetime
    delivered_at: datetime | None
    seen_at: datetime | None
    acknowledged_at: datetime | None = Field(description="when it answered")
    reminded_at: datetime | None
    escalated_at: datetime | None
    overdue: bool = Field(description="reported to staff as silent for too long, still unanswered")
    version: int
    updated_at: datetime


class MatrixRow(Response):
    """A row of GET /emergencies/{id}/responses."""

    declared_capacities: list[DeclaredForNeed] = Field(
        default=[],
        description="open needs of this emergency the nation declared a capacity for, "
        "each with the readiest such capacity",
    )


def response(row: dict[str, object]) -> Response:
    answered = row["state"] in ("acknowledged", "offered", "unable")
    return Response.model_validate(
        {**row, "overdue": row["escalated_at"] is not None and not answered}
    )
