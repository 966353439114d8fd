"""Likely providers of a need: which nations' standing capacities could fill it,
and how soon they could be there (pure logic; the candidates come from SQL)."""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from eadrcc.matching.scoring import km_between, transit

MAX_PER_NEED = 10
# Per need, SQL first hands over this many candidates in (source, readiness) order;
# `cutoff` says whether they are enough to be sure of the best MAX_PER_NEED.
SHORTLIST = 20
# No trip is shorter than a trip of zero km: the floor of every travel estimate.
MIN_TRANSIT_HOURS = transit(0.0).total_seconds() / 3600


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


# A candidate with its ranking key and hours, computed once per row read.
Scored = tuple[tuple[Any, ...], Mapping[str, Any], float]


def scored(r: Mapping[str, Any]) -> Scored:
    """Best first: declared before public, then soonest, then largest."""
    hours = ready_in_hours(r)
    key = (r["source"] != "declared", hours, -r["quantity"], r["country"], r["capacity_id"])
    return key, r, hours


def cutoff(found: Sequence[Scored], shortlist: int) -> tuple[str, int] | None:
    """For one need's shortlist (the first `shortlist` candidates in (source,
    readiness) order): None when no candidate left out can be among the best
    MAX_PER_NEED; else the (source, readiness) bound to read every candidate up to.

    A candidate left out sorts at or after the last one read, so it is public when
    that one is, and its readiness is at least that one's; its travel is at least
    MIN_TRANSIT_HOURS. It cannot win when that already puts it behind the
    MAX_PER_NEED-th best read: then the shortlist is proof enough.
    """
    if len(found) < shortlist:
        return None  # every candidate was read
    last = max((r for _, r, _ in found), key=lambda r: (r["source"], r["readiness_hours"]))
    public_kept, hours = heapq.nsmallest(MAX_PER_NEED, (key for key, _, _ in found))[-1][:2]
    if not public_kept and last["source"] == "public":
        return None  # the rest are public, behind ten declared
    if last["readiness_hours"] + MIN_TRANSIT_HOURS > hours:
        return None  # the rest arrive later than the ten kept
    # Whoever could still tie or win is ready by `hours` less the shortest trip.
    return ("public" if public_kept else "declared", math.floor(hours - MIN_TRANSIT_HOURS + 1e-9))


def best(found: Iterable[Scored]) -> list[LikelyProvider]:
    """The best MAX_PER_NEED of one need, best first (keys are unique: the capacity
    id is in them). Models are built for the kept ones only."""
    return [_provider(r, hours) for _, r, hours in heapq.nsmallest(MAX_PER_NEED, found)]


def rank(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[LikelyProvider]]:
    """Per need, the best MAX_PER_NEED, best first."""
    found: dict[str, list[Scored]] = {}
    for r in rows:
        found.setdefault(r["need_id"], []).append(scored(r))
    return {need_id: best(f) for need_id, f in found.items()}


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
