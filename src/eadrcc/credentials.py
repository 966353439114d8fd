"""May this nation put this credential on help of this type? One check, used by
offers and by declared capacities alike, against the taxonomy's credential list
and the partner registry (a credential tied to a programme needs the nation's
active participation in it on record)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from eadrcc.matching import store as matching_store
from eadrcc.partners import store as partners

# Where a caller finds the valid codes, named in every "unknown" answer.
TYPES_AT = "valid codes: GET /api/v1/resource-types"
CREDENTIALS_AT = "valid codes: GET /api/v1/credentials"


@dataclass(frozen=True)
class CredentialCheck:
    country: str
    known: Mapping[str, Any]  # code → {applies_to, programme}
    programmes: frozenset[str]  # the country's active programmes

    def problem(self, resource_type: str, credentials: Sequence[str]) -> str | None:
        """The first reason these credentials may not go on this type, or None."""
        root = resource_type.split(".")[0]
        for c in credentials:
            cred = self.known.get(c)
            if cred is None:
                return f"unknown credential {c!r} ({CREDENTIALS_AT})"
            if root not in cred["applies_to"]:
                return f"{c} does not apply to {resource_type}"
            if cred["programme"] and cred["programme"] not in self.programmes:
                return (
                    f"{c}: {self.country} has no active {cred['programme']} participation on record"
                )
        return None


async def checker(conn: asyncpg.Connection, country: str) -> CredentialCheck:
    known = await matching_store.credentials(conn)
    programmes = await partners.active_programmes(conn, country)
    return CredentialCheck(country, known, frozenset(programmes))


def unknown_type(code: str) -> str:
    return f"unknown resource type {code!r} ({TYPES_AT})"
