"""The matching score on cases worked out by hand from the documented formula:
30 priority + 30 timeliness + 20 quantity fit + 10 credentials + 10 distance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from eadrcc.matching.scoring import ItemView, NeedView, distance_km, score

T0 = datetime(2023, 2, 6, 4, 17, tzinfo=UTC)
H = timedelta(hours=1)


def test_critical_need_next_door_with_a_credentialed_half_fill() -> None:
    # eta = T0 + 12 h handling + 0 km ≤ needed_by → timeliness 1; fills 5 of 10.
    s = score(
        NeedView("critical", T0 + 48 * H, 37.5, 37.0, uncovered=10),
        ItemView(T0, 37.5, 37.0, unallocated=5, credentials=("insarag.classified",)),
    )
    assert s.parts == {
        "priority": 1.0,
        "timeliness": 1.0,
        "quantity": 0.5,
        "credentials": 1.0,
        "distance": 1.0,
    }
    assert (s.total, s.quantity, s.eta) == (90.0, 5, T0 + 12 * H)


def test_normal_need_no_deadline_unknown_origin() -> None:
    # 0.4*30 + 0.7*30 + 1.0*20 + 0 + 0.5*10 = 12 + 21 + 20 + 0 + 5 = 58
    s = score(
        NeedView("normal", None, 37.5, 37.0, uncovered=4), ItemView(T0, None, None, unallocated=10)
    )
    assert (s.total, s.quantity, s.eta) == (58.0, 4, T0 + 48 * H)


def test_a_day_late_halves_timeliness() -> None:
    # available T0+24 h, +12 h handling → eta T0+36 h, needed by T0+12 h: 24 h late → 0.5.
    # 0.7*30 + 0.5*30 + 1.0*20 + 0.5*10 (self-sufficient only) + 1.0*10 = 71
    s = score(
        NeedView("high", T0 + 12 * H, 37.5, 37.0, uncovered=10),
        ItemView(T0 + 24 * H, 37.5, 37.0, unallocated=10, self_sufficient=True),
    )
    assert s.parts["timeliness"] == 0.5 and s.total == 71.0


def test_distance_and_transit() -> None:
    assert distance_km(0, 0, 0, 1) == pytest.approx(111.195, abs=0.01)  # one degree of equator
    # 2,000 km away: distance part 1/(1 + 1) = 0.5; transit 12 h + 2000/700 h.
    lon = 2000 / 111.195
    s = score(NeedView("normal", None, 0, 0, uncovered=1), ItemView(T0, 0, lon, unallocated=1))
    assert s.parts["distance"] == pytest.approx(0.5, abs=0.001)
    assert s.eta - T0 == pytest.approx(
        12 * H + timedelta(hours=2000 / 700), abs=timedelta(minutes=1)
    )


def test_ranking_prefers_urgent_close_and_credentialed() -> None:
    need = NeedView("critical", T0 + 24 * H, 37.5, 37.0, uncovered=2)
    near = score(need, ItemView(T0, 39.9, 32.8, 2, ("insarag.classified",)))  # Ankara
    far = score(need, ItemView(T0, 40.7, -74.0, 2, ("insarag.classified",)))  # New York
    bare = score(need, ItemView(T0, 39.9, 32.8, 2))
    assert near.total > far.total and near.total > bare.total
