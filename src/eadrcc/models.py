"""Field types shared by every domain's models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

ISO3 = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Id = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,5}_[0-9a-z]{10,40}$")]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
# Strict: a boolean is not a number, and neither is "5" or 5.0.
Quantity = Annotated[int, Field(strict=True, gt=0, le=100_000_000)]
# Flags in request bodies: true or false, not 1 or "true".
Flag = Annotated[bool, Field(strict=True)]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a UTC offset (RFC 3339)")
    try:
        value.astimezone(UTC)  # 9999-12-31T23:59:59-14:00 is year 10000 in UTC
    except OverflowError:
        raise ValueError(
            "outside the range of dates the hub stores (years 1 to 9999 UTC)"
        ) from None
    return value


Timestamp = Annotated[datetime, AfterValidator(_aware)]


class Strict(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Point(Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
