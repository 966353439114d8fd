"""Likely providers of a need: which nations' standing capacities could fill it,
and how soon they could be there (pure logic; the candidates come from SQL)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from eadrcc.matching.scoring import km_between, transit

MAX_PER_NEED = 10
# Per need, SQL hands over the readiest candidates (declared first) and this ranks
# them with travel added. Travel spans 12 to 48 h, so one outside the shortlist is one
# of more than 20 nations readier still: a miss costs little, a scan of every
# fitting capacity costs every read of an RFA.
SHORTLIST = 20


class LikelyProvider(BaseModel):
    country: str
    capacity_id: str
    resource_type: str
    quantity: int
    ready_in_hours: float = Field(description="readiness + the matching score's travel estimate")
    credentials: list[str]
    source: Literal["declared", "public"]


def ready_in_hours(row: Mapping[str, Any]) -> float:
    """Readiness plus the same travel estimate a proposal's ETA uses."""
    km = km_between(row["home_lat"], row["home_lon"], row["delivery_lat"], row["delivery_lon"])
    hours = float(row["readiness_hours"]) + transit(km).total_seconds() / 3600
    return round(hours, 1)


def rank(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[LikelyProvider]]:
    """Per need, best first: declared before public, then soonest, then largest.

    A public record of a nation that declared a capacity of the same type is left
    out: the nation's own word replaces the list's. Models are built for the kept
    ones only (an RFA read ranks thousands of rows).
    """
    rows = list(rows)
    declared = {
        (r["need_id"], r["country"], r["resource_type"]) for r in rows if r["source"] == "declared"
    }
    keyed: dict[str, list[tuple[tuple[Any, ...], Mapping[str, Any], float]]] = {}
    for r in rows:
        if r["source"] == "public" and (r["need_id"], r["country"], r["resource_type"]) in declared:
            continue
        hours = ready_in_hours(r)
        key = (r["source"] != "declared", hours, -r["quantity"], r["country"], r["capacity_id"])
        keyed.setdefault(r["need_id"], []).append((key, r, hours))
    return {
        need_id: [_provider(r, hours) for _, r, hours in sorted(found)[:MAX_PER_NEED]]
        for need_id, found in keyed.items()
    }


def _provider(r: Mapping[str, Any], hours: float) -> LikelyProvider:
    return LikelyProvider.model_construct(
        country=r["country"],
        capacity_id=r["capacity_id"],
        resource_type=r["resource_type"],
        quantity=r["quantity"],
        ready_in_hours=hours,
        credentials=list(r["credentials"]),
        source=r["source"],
    )
