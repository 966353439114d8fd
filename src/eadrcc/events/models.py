from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Event(BaseModel):
    seq: int
    at: datetime
    kind: str
    emergency_id: str | None
    actor: str
    data: dict[str, Any]


class EventPage(BaseModel):
    events: list[Event]
    next_since: int = Field(description="pass as `since` to read on; never skips an event")
    head: int = Field(description="the newest committed seq when this page was read")


class EventQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: int = Field(default=0, ge=0, le=2**63 - 1)  # bigint
    limit: int = Field(default=500, ge=1, le=5000)
    wait: float = Field(
        default=0,
        ge=0,
        le=60,
        description="long-poll: with nothing new, wait up to this many seconds",
    )
