from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from eadrcc.models import ISO3, Flag, Point, ShortText, Strict

Hazard = Literal[
    "earthquake",
    "tsunami",
    "flood",
    "storm",
    "wildfire",
    "volcano",
    "landslide",
    "drought",
    "extreme_temperature",
    "epidemic",
    "cbrn",
    "industrial",
    "population_movement",
    "other",
]
Severity = Literal["extreme", "severe", "moderate", "minor", "unknown"]
Status = Literal["watch", "active", "closed"]


class EmergencyCreate(Strict):
    title: ShortText
    hazard: Hazard
    countries: list[ISO3] = Field(min_length=1, max_length=20)
    location: Point
    severity: Severity
    exercise: Flag = False
    status: Literal["watch", "active"] = "active"

    @field_validator("countries")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a country is listed twice")
        return value


class EmergencyUpdate(Strict):
    status: Status | None = Field(
        default=None,
        description="watch → active or closed; active → closed; closed → active (reopen)",
    )
    severity: Severity | None = None
    title: ShortText | None = None
    countries: list[ISO3] | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        description="the affected nations (staff only); recorded as emergency.updated",
    )
    reason: ShortText | None = Field(
        default=None, description="why (closing, reopening): kept in the event, not the record"
    )

    @field_validator("countries")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("a country is listed twice")
        return value


class Emergency(BaseModel):
    id: str
    title: str
    hazard: str
    countries: list[str]
    location: Point
    severity: str
    status: Status
    exercise: bool
    created_at: datetime
    updated_at: datetime


class EmergencyQuery(Strict):
    status: Status | None = None
    exercise: bool | None = Field(default=None, description="only exercises, or only real ones")
