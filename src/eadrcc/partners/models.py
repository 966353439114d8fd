from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

ISO3 = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Framework = Literal["NATO", "EAPC", "PfP", "MD", "ICI", "PAG"]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
OptionalText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Participation(Strict):
    code: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,8}$")]
    status: Literal["active", "suspended", "completed", "planned"] = "active"
    since: Annotated[str, StringConstraints(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")] | None = None
    source: OptionalText = None


class Contact(Strict):
    role: Text
    organisation: OptionalText = None
    name: OptionalText = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    email: Annotated[str, StringConstraints(max_length=254)] | None = None
    hours: OptionalText = None
    source: OptionalText = None


class PartnerFields(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=120)]
    status: Literal["ally", "partner"]
    frameworks: list[Framework] = Field(default_factory=list, max_length=10)
    programmes: list[Participation] = Field(default_factory=list, max_length=50)
    contacts: list[Contact] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _unique(self) -> PartnerFields:
        codes = [p.code for p in self.programmes]
        if len(codes) != len(set(codes)):
            raise ValueError("a programme is listed twice")
        if len(self.frameworks) != len(set(self.frameworks)):
            raise ValueError("a framework is listed twice")
        return self


class PartnerWrite(PartnerFields):
    """The body of PUT: the whole record. Read-only fields may be sent back as read."""

    code: ISO3 | None = None
    version: int | None = Field(default=None, description="read-only; ignored")
    updated_at: datetime | None = Field(default=None, description="read-only; ignored")
    updated_by: str | None = Field(default=None, description="read-only; ignored")


class PartnerRecord(PartnerFields):
    """A record in a seed or import file."""

    code: ISO3
    source: OptionalText = None


class Partner(PartnerFields):
    code: ISO3
    version: int = Field(description="changes with every edit; the ETag is built from it")
    updated_at: datetime
    updated_by: str


class PartnerChanges(BaseModel):
    changes: list[Partner]
    high_water: int = Field(description="pass as `since` next time")


class ChangesQuery(Strict):
    since: int = Field(default=0, ge=0, le=2**63 - 1)  # bigint
    limit: int = Field(default=500, ge=1, le=5000)


class Programme(BaseModel):
    code: str
    name: str
    purpose: str
