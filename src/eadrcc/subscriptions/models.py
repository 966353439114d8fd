from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

KindPrefix = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_.]{0,63}$")]


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    country: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{3}$",
        description="whose view it receives (ISO3); staff may omit it for the staff view",
    )
    kind: Literal["webhook", "email"]
    url: str | None = Field(default=None, max_length=2000, description="a webhook's URL")
    address: str | None = Field(default=None, max_length=320, description="an e-mail address")
    events: list[KindPrefix] = Field(
        default_factory=list,
        max_length=50,
        description="event kind prefixes to receive, e.g. `request.`; empty: every kind",
    )
    language: Literal["en", "fr"] = Field(default="en", description="language of e-mails")


class Subscription(BaseModel):
    id: str
    country: str | None
    audience: Literal["poc", "staff", "integration"]
    kind: Literal["webhook", "email"]
    url: str | None
    address: str | None
    events: list[str]
    language: Literal["en", "fr"]
    status: Literal["active", "suspended"]
    cursor: int = Field(description="the last seq the receiver acknowledged")
    created_at: datetime
    created_by: str
    last_success_at: datetime | None
    failing_since: datetime | None
    last_error: str | None
    next_attempt_at: datetime | None
    suspended_at: datetime | None


class SubscriptionCreated(Subscription):
    secret: str | None = Field(
        description="a webhook's HMAC secret: shown once, here; null for e-mail"
    )


class Delivery(BaseModel):
    seq: int = Field(description="the event delivered (an e-mail batch: its last event)")
    first_seq: int
    status: Literal["delivered", "failing", "suspended"]
    attempts: int
    last_error: str | None
    latency_ms: float | None
    first_attempt_at: datetime
    last_attempt_at: datetime
    next_attempt_at: datetime | None


class SubscriptionResume(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: Literal["cursor", "head"] = Field(
        default="cursor",
        alias="from",
        description="`cursor`: deliver everything since the last acknowledged event, "
        "nothing lost; `head`: skip what was missed and deliver only what comes next",
    )


class SubscriptionQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    country: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")


class DeliveryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=100, ge=1, le=1000)


class Channel(BaseModel):
    country: str
    subscriptions: int
    active: int
    suspended: int
    working: bool = Field(
        description="an active subscription delivered successfully and is not failing now"
    )
    last_success_at: datetime | None
    failing_since: datetime | None
