"""The response matrix's state machine, without a database."""

from __future__ import annotations

import pytest

from eadrcc.circulation.models import ResponseUpdate
from eadrcc.circulation.states import ANSWERED, STATES, TRANSITIONS, apply
from eadrcc.errors import Conflict


def test_the_happy_path() -> None:
    assert apply("notified", "delivered") == "delivered"
    assert apply("delivered", "seen") == "seen"
    assert apply("seen", "acknowledged") == "acknowledged"
    assert apply("acknowledged", "offered") == "offered"
    assert apply("offered", "offers_gone") == "acknowledged"


def test_late_reports_never_move_a_row_back() -> None:
    for later in ("seen", *ANSWERED):
        assert apply(later, "delivered") is None, later
    for later in ANSWERED:
        assert apply(later, "seen") is None, later
    assert apply("notified", "seen") == "seen"  # seen without a delivery report


def test_answers() -> None:
    assert apply("unable", "acknowledged") == "acknowledged"  # a change of mind
    assert apply("acknowledged", "unable") == "unable"
    assert apply("acknowledged", "acknowledged") is None
    assert apply("offered", "acknowledged") is None  # an offer says more
    with pytest.raises(Conflict):
        apply("offered", "unable")


def test_a_new_rfa_asks_again_but_an_offer_stands() -> None:
    for state in STATES:
        expected = None if state == "offered" else "notified"
        assert apply(state, "filed") == expected, state


def test_every_transition_lands_on_a_state() -> None:
    for moves in TRANSITIONS.values():
        assert set(moves) <= set(STATES) and set(moves.values()) <= set(STATES)


def test_unable_needs_a_reason() -> None:
    assert ResponseUpdate.model_validate({"state": "unable", "reason": "no stock"}).reason
    assert ResponseUpdate.model_validate({"state": "acknowledged"}).reason is None
    for body in ({"state": "unable"}, {"state": "unable", "reason": "   "}):
        with pytest.raises(ValueError, match="reason"):
            ResponseUpdate.model_validate(body)
