from __future__ import annotations

import pytest

from eadrcc.auth import Principal, Role
from eadrcc.errors import Forbidden
from eadrcc.policy import (
    RULES,
    admits,
    alert_audience,
    allowed,
    allowed_kind,
    audience,
    authorize,
    authorize_kind,
    emergency_audience,
    event_audience,
    match_audience,
    offer_audience,
    visible,
)

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


def test_forbidden_says_which_token_would_do() -> None:
    with pytest.raises(Forbidden) as role:
        authorize(OFFICER, "partner.write")
    assert str(role.value) == "the duty_officer role may not partner.write; it needs one of: admin"
    with pytest.raises(Forbidden) as country:
        authorize(POC_TUR, "offer.create", ["NOR"])
    assert str(country.value) == (
        "this token speaks for TUR; offer.create here is for the poc of NOR, "
        "or a token with the role admin or duty_officer"
    )


def test_event_audience() -> None:
    assert event_audience(OFFICER) is None
    assert event_audience(OBSERVER) is None
    assert event_audience(POC_TUR) == ["*", "TUR"]
    assert event_audience(Principal("i", "feed", Role.INTEGRATION)) == ["*"]


INTEGRATION = Principal("i", "feed", Role.INTEGRATION)
OFFER = offer_audience("NOR", ["TUR"])  # NOR offers help to Türkiye
MATCH = match_audience("NOR", "TUR")


def test_visible_records_by_role() -> None:
    for who, sees in (
        (OFFICER, True),
        (OBSERVER, True),
        (POC_TUR, True),
        (POC_NOR, True),
        (Principal("t5", "deu", Role.POC, "DEU"), False),
        (INTEGRATION, False),
    ):
        assert visible(who, OFFER) is sees, who
        assert visible(who, MATCH) is sees, who
    assert all(visible(p, emergency_audience()) for p in (POC_NOR, INTEGRATION, OBSERVER))
    assert not any(visible(p, alert_audience()) for p in (POC_TUR, INTEGRATION))
    assert visible(OBSERVER, alert_audience())


def test_visible_events_in_every_shape() -> None:
    """Rows, mappings and objects with `visibility`: the hub, the log and deliveries."""

    class Row:
        visibility = frozenset({"TUR"})

    for event in ({"visibility": ["TUR"]}, Row()):
        assert visible(POC_TUR, event)
        assert not visible(POC_NOR, event)
        assert visible(OFFICER, event)
    with pytest.raises(TypeError, match="no audience"):
        visible(POC_TUR, object())


def test_a_country_view_needs_no_token() -> None:
    """Outbound delivery: a subscription of TUR sees what a POC of TUR sees."""
    view = Principal.for_country("TUR")
    assert audience(view) == audience(POC_TUR)
    assert visible(view, OFFER) and not visible(Principal.for_country("DEU"), OFFER)
    assert audience(Principal.staff_view()) is None
    assert admits(audience(view), ["TUR"]) and not admits(audience(view), [])


def test_integrations_never_read_offers_matches_contacts_or_snapshots() -> None:
    for action in ("offer.read", "match.read", "contact.read", "snapshot.read"):
        assert not allowed_kind(INTEGRATION, action)
        with pytest.raises(Forbidden):
            authorize_kind(INTEGRATION, action)
        assert allowed_kind(POC_TUR, action) and allowed_kind(OBSERVER, action)
