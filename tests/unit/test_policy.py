from __future__ import annotations

import pytest

from eadrcc.auth import Principal, Role
from eadrcc.errors import Forbidden
from eadrcc.policy import RULES, allowed, authorize, event_audience

POC_TUR = Principal("t1", "tur", Role.POC, "TUR")
POC_NOR = Principal("t2", "nor", Role.POC, "NOR")
OFFICER = Principal("t3", "do", Role.DUTY_OFFICER)
OBSERVER = Principal("t4", "obs", Role.OBSERVER)


def test_poc_acts_only_for_its_own_country() -> None:
    assert allowed(POC_TUR, "request.create", ["TUR"])
    assert not allowed(POC_NOR, "request.create", ["TUR"])
    assert not allowed(POC_TUR, "request.create", [])


def test_officer_may_act_for_anyone_and_observer_only_reads() -> None:
    assert allowed(OFFICER, "offer.create", ["NOR"])
    mutations = [a for a in RULES if not a.endswith(".read")]
    assert all(not allowed(OBSERVER, action, ["TUR"]) for action in mutations)


def test_only_admin_edits_partners() -> None:
    for role in Role:
        p = Principal("x", "x", role, "TUR" if role is Role.POC else None)
        assert allowed(p, "partner.write", ["TUR"]) is (role is Role.ADMIN)


def test_forbidden_says_what() -> None:
    with pytest.raises(Forbidden, match="poc may not partner write"):
        authorize(POC_TUR, "partner.write")


def test_event_audience() -> None:
    assert event_audience(OFFICER) is None
    assert event_audience(OBSERVER) is None
    assert event_audience(POC_TUR) == ["*", "TUR"]
    assert event_audience(Principal("i", "feed", Role.INTEGRATION)) == ["*"]
