"""Choosing proposals: a pure function from scored pairs and room to a plan.

Greedy by score: the best pair takes what it can (the least of what the need still
lacks and what the item has free), then the next, so each unit of an item is
proposed to at most one need and no need is proposed more than it lacks. Pairs
where the item is a substitute for the needed type (a heavy USAR team for a medium
need) come after every exact or more specific fill, whatever their score: a
substitute should not take a need that the item's own kind could not then fill.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from eadrcc.matching.scoring import Score


@dataclass(frozen=True)
class Choice:
    need_id: str
    item_id: str
    quantity: int
    score: Score


@dataclass(frozen=True)
class Pair:
    score: Score
    need_id: str
    item_id: str
    substitute: bool = False


def choose(pairs: list[Pair], lacking: dict[str, int], free: dict[str, int]) -> list[Choice]:
    """The plan for `pairs` within `lacking` and `free` (neither is changed). Ties go
    to the smaller ids, so the plan is deterministic."""
    lacking, free = dict(lacking), dict(free)
    chosen: list[Choice] = []
    order = sorted(pairs, key=lambda p: (p.substitute, -p.score.total, p.need_id, p.item_id))
    for s, need_id, item_id in ((p.score, p.need_id, p.item_id) for p in order):
        take = min(lacking.get(need_id, 0), free.get(item_id, 0))
        if take <= 0:
            continue
        lacking[need_id] -= take
        free[item_id] -= take
        chosen.append(Choice(need_id, item_id, take, s))
    return chosen


@dataclass(frozen=True)
class Standing:
    """A proposal standing on a need that has nothing left to propose."""

    match_id: str
    need_id: str
    item_id: str
    quantity: int
    score: float


def displace(
    pairs: list[Pair], standing: list[Standing], free: dict[str, int], gain: float
) -> dict[str, int]:
    """Standing proposals that give way to a clearly better pair: match id → units
    given up. The best new pairs go first; each takes units from the weakest standing
    proposals of its need that it beats by at least `gain` points. A substitute never
    displaces anything, and a proposal never gives way to its own item."""
    free = dict(free)
    weakest: dict[str, list[Standing]] = defaultdict(list)
    for st in sorted(standing, key=lambda st: (st.score, st.match_id)):
        weakest[st.need_id].append(st)
    given: dict[str, int] = defaultdict(int)
    for p in sorted(pairs, key=lambda p: (-p.score.total, p.need_id, p.item_id)):
        if p.substitute:
            continue
        for st in weakest[p.need_id]:
            if free.get(p.item_id, 0) <= 0 or p.score.total - st.score < gain:
                break  # weakest first: nothing further down is beaten either
            left = st.quantity - given[st.match_id]
            if left <= 0 or st.item_id == p.item_id:
                continue
            take = min(left, free[p.item_id])
            given[st.match_id] += take
            free[p.item_id] -= take
    return dict(given)
