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
from eadrcc.requests import picture as figures
from eadrcc.sitrep.models import (
    DuplicateLine,
    DuplicatePairLine,
    NationLine,
    NeedLine,
    Sitrep,
    Summary,
    SupplyLine,
)

ALLOCATED = ("accepted", "in_transit", "delivered")
LIVE = ("proposed", *ALLOCATED)
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


def need_lines(state: State, now: datetime) -> list[NeedLine]:
    by_need: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m in state.matches.values():
        by_need[m["need_id"]].append(m)
    pairs = duplicate_pairs(state)
    return [
        _need_line(state, need, by_need[need["id"]], pairs.get(need["id"], []), now)
        for need in state.needs.values()
    ]


def _need_line(
    state: State,
    need: dict[str, Any],
    matches: list[dict[str, Any]],
    pairs: list[DuplicateLine],
    now: datetime,
) -> NeedLine:
    requested, status = need["requested"], need["status"]
    needed_by = _time(need.get("needed_by"))
    allocated = [m for m in matches if m["status"] in ALLOCATED]
    accepted = sum(m["quantity"] - m["dispatched"] for m in allocated)
    in_transit = sum(m["dispatched"] - m["delivered"] for m in allocated)
    delivered = sum(m["delivered"] for m in allocated)
    etas = [_time(m["eta"]) for m in allocated if m["delivered"] < m["quantity"] and m["eta"]]
    eta = max((e for e in etas if e is not None), default=None)
    gap = figures.uncovered_quantity(
        status=status,
        requested=requested,
        accepted=accepted,
        in_transit=in_transit,
        delivered=delivered,
    )
    return NeedLine(
        need_id=need["id"],
        request_id=need["request_id"],
        requesting_country=state.requests[need["request_id"]]["requesting_country"],
        resource_type=need["resource_type"],
        priority=need["priority"],
        status=status,
        needed_by=needed_by,
        eta=eta,
        requested=requested,
        proposed=sum(m["quantity"] for m in matches if m["status"] == "proposed"),
        accepted=accepted,
        in_transit=in_transit,
        delivered=delivered,
        uncovered_quantity=gap,
        uncovered=gap > 0,
        duplicated=bool(pairs),
        late=figures.late(
            status=status, requested=requested, delivered=delivered, needed_by=needed_by, now=now
        ),
        at_risk=figures.at_risk(
            status=status,
            needed_by=needed_by,
            allocated=accepted + in_transit + delivered,
            latest_eta=eta,
            now=now,
        ),
        duplicates=pairs,
    )


def duplicate_pairs(state: State) -> dict[str, list[DuplicateLine]]:
    """Per need: help planned for or given to it that another channel announced again."""
    items = {i["id"]: (o, i) for o in state.offers.values() for i in o["items"]}
    copies: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    for offer, item in items.values():
        if item.get("possible_duplicate_of") and item["status"] == "open":
            copies[item["possible_duplicate_of"]].append((offer, item))
    pairs: dict[str, list[DuplicateLine]] = defaultdict(list)
    for m in sorted(state.matches.values(), key=lambda m: (m["offer_item_id"], m["id"])):
        if m["status"] not in LIVE or m["offer_item_id"] not in items:
            continue
        offer, item = items[m["offer_item_id"]]
        for dup_offer, dup in sorted(copies.get(item["id"], []), key=lambda c: c[1]["id"]):
            line = DuplicateLine(
                item_id=item["id"],
                offering_country=offer["offering_country"],
                channel=offer["channel"],
                duplicate_item_id=dup["id"],
                duplicate_channel=dup_offer["channel"],
            )
            if line not in pairs[m["need_id"]]:
                pairs[m["need_id"]].append(line)
    return pairs


def supply_lines(state: State) -> list[SupplyLine]:
    """Per resource type: what open needs ask against what open offers still hold."""
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for need in state.needs.values():
        if need["status"] == "open":
            rows[need["resource_type"]]["requested"] += need["requested"]
    for offer in state.offers.values():
        if offer["status"] != "open":
            continue
        for item in offer["items"]:
            if item["status"] == "open" and not item.get("possible_duplicate_of"):
                rows[item["resource_type"]]["offered"] += item["quantity"]
    for m in state.matches.values():
        if m["status"] in ALLOCATED:
            rows[m["resource_type"]]["accepted"] += m["quantity"]
    return [
        SupplyLine(
            resource_type=t,
            requested=r["requested"],
            offered=r["offered"],
            accepted=r["accepted"],
            surplus=r["offered"] - r["requested"],
        )
        for t, r in sorted(rows.items())
    ]


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


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


def on_offer(state: State) -> list[dict[str, Any]]:
    """Offers still holding help nobody has accepted: open, with an open item that
    has units left (a flagged second announcement holds nothing of its own)."""
    allocated: dict[str, int] = defaultdict(int)
    for m in state.matches.values():
        if m["status"] in ALLOCATED:
            allocated[m["offer_item_id"]] += m["quantity"]
    return [
        o
        for o in state.offers.values()
        if o["status"] == "open"
        and any(
            i["status"] == "open"
            and not i.get("possible_duplicate_of")
            and i["quantity"] > allocated[i["id"]]
            for i in o["items"]
        )
    ]


def report(state: State, as_of: datetime) -> Sitrep:
    if state.emergency is None:
        raise ValueError("no emergency at that moment")
    needs = need_lines(state, as_of)
    outstanding = sorted(
        (n for n in needs if n.uncovered),
        key=lambda n: (PRIORITY_ORDER[n.priority], -n.uncovered_quantity),
    )
    allocated = [m for m in state.matches.values() if m["status"] in ALLOCATED]
    offering = on_offer(state)
    summary = Summary(
        requests=len(state.requests),
        needs=len(needs),
        needs_fully_accepted=sum(
            n.requested <= n.accepted + n.in_transit + n.delivered for n in needs
        ),
        needs_uncovered=len(outstanding),
        needs_late=sum(n.late for n in needs),
        needs_at_risk=sum(n.at_risk for n in needs),
        offers=len(offering),
        offering_nations=len({o["offering_country"] for o in offering}),
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
        offers_by_nation=nation_lines(state),
        supply_by_type=supply_lines(state),
        duplicates=[
            DuplicatePairLine(need_id=n.need_id, **p.model_dump())
            for n in needs
            for p in n.duplicates
        ],
        outstanding=outstanding,
    )
