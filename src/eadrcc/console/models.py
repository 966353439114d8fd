"""What the console's own endpoints answer."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from eadrcc.emergencies.models import Emergency
from eadrcc.matching.models import Match
from eadrcc.offers.models import Offer
from eadrcc.requests.models import Request


class Me(BaseModel):
    """The principal behind the caller's token."""

    token_id: str
    name: str
    role: str = Field(description="admin, duty_officer, poc, integration or observer")
    country: str | None = Field(description="ISO3 of a poc's country; null for other roles")


class EmergencySnapshot(BaseModel):
    """One emergency as the caller may see it, current to event `head`.

    Read in one snapshot: every change up to `head` is in it and none after, so
    a client that resumes the event stream with `since=head` misses nothing.
    """

    head: int = Field(description="resume the event stream from here")
    emergency: Emergency
    requests: list[Request]
    offers: list[Offer] = Field(description="a poc sees its own and, if affected, all offers")
    matches: list[Match] = Field(description="a poc sees those its country gives or receives")


class EmergencyCounts(BaseModel):
    """What the board's card of one emergency shows: the needs that want attention."""

    emergency_id: str
    requests: int
    needs: int
    uncovered: int = Field(description="open needs with units neither accepted nor proposed")
    critical: int = Field(description="uncovered needs of priority critical")
    late: int = Field(description="needed_by passed and not all delivered")
    at_risk: int = Field(description="ETA after needed_by, or nothing accepted under 6 h before")
    duplicated: int = Field(description="proposed + accepted exceed what was requested")
    offers: int = Field(description="for a POC: its own country's offers")
    nations: int
    last_activity_at: datetime | None = Field(description="time of the emergency's latest event")
