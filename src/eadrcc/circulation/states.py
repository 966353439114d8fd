"""The response matrix's state machine: one table of what moves a nation's row where.

A row starts `notified` when an RFA is circulated to the nation. It is
`delivered` once a channel delivered that or a console of the nation received it,
`seen` once a POC of the nation opened the RFA, and answered when the nation
`acknowledged`, `offered` (it has help on offer) or said it is `unable`.
"""

from __future__ import annotations

from typing import Literal

from eadrcc.errors import Conflict

State = Literal["notified", "delivered", "seen", "acknowledged", "offered", "unable"]
Signal = Literal[
    "filed",  # a new RFA went out: a new ask, answered or not before
    "delivered",
    "seen",
    "acknowledged",
    "unable",
    "offered",  # an offer of the nation's is open in the emergency
    "offers_gone",  # its last open offer was withdrawn
]
STATES: tuple[State, ...] = ("notified", "delivered", "seen", "acknowledged", "offered", "unable")
ANSWERED: frozenset[State] = frozenset({"acknowledged", "offered", "unable"})

# signal → {from state: to state}. A state missing from a signal's row is left as
# it is (a late delivery report does not undo "seen"), except where REFUSED says
# the signal is an error in that state.
TRANSITIONS: dict[Signal, dict[State, State]] = {
    # An offer stands whatever new RFA comes: the nation is engaged already.
    "filed": {s: "notified" for s in STATES if s != "offered"},
    "delivered": {"notified": "delivered"},
    "seen": {"notified": "seen", "delivered": "seen"},
    "acknowledged": {
        "notified": "acknowledged",
        "delivered": "acknowledged",
        "seen": "acknowledged",
        "unable": "acknowledged",
    },
    "unable": {s: "unable" for s in STATES if s != "offered"},
    "offered": {s: "offered" for s in STATES if s != "offered"},
    # Its help withdrawn, the nation has still answered: it stays acknowledged.
    "offers_gone": {"offered": "acknowledged"},
}
REFUSED: dict[Signal, dict[State, str]] = {
    "unable": {"offered": "it has help on offer: withdraw its offers first"},
}


def apply(state: State, signal: Signal) -> State | None:
    """The state a signal moves a row to, or None when it leaves the row unchanged.

    Raises Conflict for a signal that makes no sense in that state.
    """
    refused = REFUSED.get(signal, {}).get(state)
    if refused is not None:
        raise Conflict(refused, extra={"current_state": state})
    return TRANSITIONS[signal].get(state)


def is_answered(state: str) -> bool:
    return state in ANSWERED
