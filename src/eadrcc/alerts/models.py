"""The normalised alert every source is turned into, and the API's shapes.

`AlertIn` is also the documented JSON form of POST /api/v1/alerts: an
integration that does not speak CAP sends this (CAP field names, snake_case).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from eadrcc.models import ISO3, Point, Strict, Timestamp

Status = Literal["Actual", "Exercise", "System", "Test", "Draft"]
MsgType = Literal["Alert", "Update", "Cancel", "Ack", "Error"]
Scope = Literal["Public", "Restricted", "Private"]
Severity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
Certainty = Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]
Urgency = Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
Level = Literal["green", "yellow", "orange", "red"]
Text = Annotated[str, StringConstraints(max_length=20_000)]
Word = Annotated[str, StringConstraints(min_length=1, max_length=500)]


def _a_time(value: str) -> str:
    datetime.fromisoformat(value)  # a real moment: hours, minutes and offset in range
    return value


class Reference(Strict):
    """One CAP reference: the sender, identifier and sent time of an earlier message."""

    sender: Word
    identifier: Word
    sent: Annotated[
        str,
        StringConstraints(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$"),
        AfterValidator(_a_time),
    ]


class Circle(Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_km: float = Field(ge=0, le=20_000)


class Area(Strict):
    """Where the alert applies, as CAP's <area> gives it: the countries it touches are
    worked out from these (and from `location`)."""

    polygons: list[Annotated[list[Point], Field(min_length=4, max_length=10_000)]] = Field(
        default_factory=list, max_length=50, description="rings of points, first = last"
    )
    circles: list[Circle] = Field(default_factory=list, max_length=50)


class AlertIn(Strict):
    source: Literal["cap", "json", "gdacs", "usgs"] = "json"
    cap_version: Literal["1.1", "1.2"] | None = None
    identifier: Word
    sender: Word
    sent: Timestamp
    status: Status = "Actual"
    msg_type: MsgType = "Alert"
    scope: Scope = "Public"
    references: list[Reference] = Field(default_factory=list, max_length=100)
    event: Word
    hazard: str | None = Field(default=None, description="our hazard vocabulary; derived if absent")
    category: list[str] = Field(default_factory=list, max_length=12)
    urgency: Urgency = "Unknown"
    severity: Severity = "Unknown"
    certainty: Certainty = "Unknown"
    headline: Text | None = None
    description: Text | None = None
    onset: Timestamp | None = None
    expires: Timestamp | None = None
    location: Point | None = Field(default=None, description="the event's position")
    area: Area | None = None
    countries: list[ISO3] = Field(default_factory=list, max_length=50)
    level: Level | None = Field(default=None, description="GDACS alert level / USGS PAGER")
    external_ids: dict[str, Word] = Field(
        default_factory=dict,
        max_length=10,
        description="ids in other systems, e.g. {'gdacs': 'EQ1234', 'usgs': 'us7000abcd'}",
    )
    magnitude: float | None = None
    current: bool = Field(
        default=True, description="false when the source says the event is over (GDACS)"
    )


class Alert(BaseModel):
    id: str
    source: str
    cap_version: str | None
    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    event: str
    hazard: str
    severity: str
    certainty: str
    urgency: str
    headline: str | None
    location: Point | None
    countries: list[str]
    level: str | None
    external_ids: dict[str, str]
    references: list[str] = Field(description="ids of the alerts this one updates or cancels")
    group_id: str
    emergency_id: str | None
    received_at: datetime
    stale: str | None = Field(
        default=None, description="why this alert could open no watch: expired, not current, old"
    )
    acknowledged_at: datetime | None
    acknowledged_by: str | None


class AlertQuery(Strict):
    status: Status | None = None
    severity: Severity | None = None
    hazard: str | None = None
    acknowledged: bool | None = None
    group_id: str | None = None
    limit: int = Field(default=100, ge=1, le=1000)
