"""Folding an emergency's events into a situation report (pure logic).

Every event carries the whole new state of what it changed, so replaying the
events up to a moment rebuilds the picture at that moment; the same fold serves
the live report and `as_of=` (and a test checks it agrees with the tables).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eadrcc.emergencies.models import Emergency
from eadrcc.sitrep.models import NationLine, NeedLine, Sitrep, Summary

ALLOCATED = ("accepted", "in_transit", "delivered")
PRIORITY_ORDER = {"critical": 0, "high": 1, "normal": 2}


@dataclass
class State:
    emergency: dict[str, Any] | None = None
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    needs: dict[str, dict[str, Any]] = field(default_factory=dict)
    offers: dict[str, dict[str, Any]] = field(default_factory=dict)
    matches: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_seq: int = 0

    def apply(self, seq: int, kind: str, data: dict[str, Any]) -> None:
        self.last_seq = seq
        if kind.startswith("emergency."):
            self.emergency = data
        elif kind == "request.created":
            self.requests[data["id"]] = data
            for need in data["needs"]:
                self.needs[need["id"]] = need
        elif kind == "need.updated":
            self.needs[data["id"]] = data
        elif kind.startswith("offer."):
            self.offers[data["id"]] = data
        elif kind.startswith("match."):
            self.matches[data["id"]] = data


def fold(events: Iterable[tuple[int, str, dict[str, Any]]]) -> State:
    state = State()
    for seq, kind, data in events:
        state.apply(seq, kind, data)
    return state


def need_lines(state: State) -> list[NeedLine]:
    by_need: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m in state.matches.values():
        by_need[m["need_id"]].append(m)
    return [_need_line(state, need, by_need[need["id"]]) for need in state.needs.values()]


def _need_line(state: State, need: dict[str, Any], matches: list[dict[str, Any]]) -> NeedLine:
    requested = need["requested"]
    proposed = sum(m["quantity"] for m in matches if m["status"] == "proposed")
    allocated = [m for m in matches if m["status"] in ALLOCATED]
    accepted = sum(m["quantity"] for m in allocated)
    open_ = need["status"] == "open"
    gap = max(requested - accepted - proposed, 0) if open_ else 0
    return NeedLine(
        need_id=need["id"],
        request_id=need["request_id"],
        requesting_country=state.requests[need["request_id"]]["requesting_country"],
        resource_type=need["resource_type"],
        priority=need["priority"],
        status=need["status"],
        requested=requested,
        proposed=proposed,
        accepted=accepted,
        in_transit=sum(m["dispatched"] - m["delivered"] for m in allocated),
        delivered=sum(m["delivered"] for m in allocated),
        uncovered_quantity=gap,
        duplicated=open_ and proposed + accepted > requested,
        uncovered=gap > 0,
    )


def nation_lines(state: State) -> list[NationLine]:
    rows: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for offer in state.offers.values():
        for item in offer["items"]:
            key = (offer["offering_country"], offer["channel"], item["resource_type"])
            rows[key]["offered"] += item["quantity"]
            if item["status"] == "withdrawn":
                rows[key]["withdrawn"] += item["quantity"] - item["allocated"]
    for m in state.matches.values():
        # A match whose offer the reader may not see (a requesting nation the
        # emergency does not list) is left out of the by-nation table.
        if m["status"] in ALLOCATED and m["offer_id"] in state.offers:
            offer = state.offers[m["offer_id"]]
            row = rows[(offer["offering_country"], offer["channel"], m["resource_type"])]
            row["accepted"] += m["quantity"]
            row["in_transit"] += m["dispatched"] - m["delivered"]
            row["delivered"] += m["delivered"]
    return [
        NationLine(
            country=c,
            channel=ch,
            resource_type=t,
            offered=r["offered"],
            accepted=r["accepted"],
            in_transit=r["in_transit"],
            delivered=r["delivered"],
            withdrawn=r["withdrawn"],
        )
        for (c, ch, t), r in sorted(rows.items())
    ]


def report(state: State, as_of: datetime) -> Sitrep:
    if state.emergency is None:
        raise ValueError("no emergency at that moment")
    needs = need_lines(state)
    nations = nation_lines(state)
    outstanding = sorted(
        (n for n in needs if n.uncovered),
        key=lambda n: (PRIORITY_ORDER[n.priority], -n.uncovered_quantity),
    )
    allocated = [m for m in state.matches.values() if m["status"] in ALLOCATED]
    summary = Summary(
        requests=len(state.requests),
        needs=len(needs),
        needs_fully_accepted=sum(n.accepted >= n.requested for n in needs),
        needs_uncovered=len(outstanding),
        offers=len(state.offers),
        offering_nations=len({o["offering_country"] for o in state.offers.values()}),
        accepted_lines=len(allocated),
        delivered_lines=sum(m["status"] == "delivered" for m in allocated),
    )
    emergency = Emergency.model_validate(state.emergency)
    return Sitrep(
        emergency=emergency,
        as_of=as_of,
        last_seq=state.last_seq,
        exercise=emergency.exercise,
        summary=summary,
        needs=needs,
        offers_by_nation=nations,
        outstanding=outstanding,
    )
