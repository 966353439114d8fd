"""The match state machine: one table of allowed moves, one function that checks them."""

from __future__ import annotations

from eadrcc.errors import Conflict

# action → (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "accept": (frozenset({"proposed"}), "accepted"),
    "decline": (frozenset({"proposed"}), "declined"),
    "supersede": (frozenset({"proposed"}), "superseded"),
    # an accepted allocation given back before anything moved (offer withdrawn, need cancelled)
    "release": (frozenset({"accepted"}), "declined"),
    "dispatch": (frozenset({"accepted", "in_transit"}), "in_transit"),
    "deliver": (frozenset({"accepted", "in_transit"}), "delivered"),
}


def next_state(action: str, current: str) -> str:
    """The state `action` leads to from `current`, or 409 naming the current state."""
    sources, target = TRANSITIONS[action]
    if current not in sources:
        raise Conflict(
            f"cannot {action} a match that is {current}", extra={"current_status": current}
        )
    return target
