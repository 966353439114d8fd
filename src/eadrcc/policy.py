"""Who may do what: the whole authorisation policy, in one table.

Each action names the roles that may always do it, and the roles that may do it
only for their own country (a POC acts for the country its token is bound to).
Views and services call `authorize`; nothing else decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from eadrcc.auth import Principal, Role
from eadrcc.errors import Forbidden

A, D, P, INT, OBS = Role.ADMIN, Role.DUTY_OFFICER, Role.POC, Role.INTEGRATION, Role.OBSERVER
EVERYONE = frozenset(Role)
STAFF = frozenset({A, D, OBS})


@dataclass(frozen=True)
class Rule:
    always: frozenset[Role]
    own_country: frozenset[Role] = field(default_factory=frozenset)


RULES: dict[str, Rule] = {
    # partner registry
    "partner.read": Rule(EVERYONE),
    "partner.write": Rule(frozenset({A})),
    "programme.read": Rule(EVERYONE),
    "resource_type.read": Rule(EVERYONE),
    "event.read": Rule(EVERYONE),
    # operations
    "emergency.read": Rule(EVERYONE),
    "emergency.create": Rule(frozenset({A, D}), own_country=frozenset({P})),
    "emergency.update": Rule(frozenset({A, D})),
    "request.read": Rule(EVERYONE),
    "request.create": Rule(frozenset({A, D}), own_country=frozenset({P})),
    "need.update": Rule(frozenset({A, D}), own_country=frozenset({P})),
    "offer.read": Rule(STAFF, own_country=frozenset({P})),
    "offer.create": Rule(frozenset({A, D}), own_country=frozenset({P})),
    "offer.withdraw": Rule(frozenset({A, D}), own_country=frozenset({P})),
    "match.read": Rule(STAFF, own_country=frozenset({P})),
    "match.decide": Rule(frozenset({A, D}), own_country=frozenset({P})),
    "match.dispatch": Rule(frozenset({A, D}), own_country=frozenset({P})),
    "match.deliver": Rule(frozenset({A, D}), own_country=frozenset({P})),
    "sitrep.read": Rule(EVERYONE),
    # national capacities: every role reads the register but integrations
    "capacity.read": Rule(EVERYONE - {INT}),
    "capacity.declare": Rule(frozenset({A, D}), own_country=frozenset({P})),
    "capacity.offer": Rule(frozenset({A, D}), own_country=frozenset({P})),
    # alerts
    "alert.create": Rule(frozenset({A, D, INT})),
    "alert.read": Rule(STAFF),
    "alert.triage": Rule(frozenset({A, D})),
}


def allowed(principal: Principal, action: str, countries: Iterable[str] = ()) -> bool:
    rule = RULES[action]
    if principal.role in rule.always:
        return True
    return (
        principal.role in rule.own_country
        and principal.country is not None
        and principal.country in set(countries)
    )


def authorize(principal: Principal, action: str, countries: Iterable[str] = ()) -> None:
    """Raise Forbidden unless the principal may do `action` (for one of `countries`)."""
    if not allowed(principal, action, countries):
        raise Forbidden(f"{principal.role} may not {action.replace('.', ' ')} here")


def event_audience(principal: Principal) -> list[str] | None:
    """Which event `visibility` tags the principal sees; None means all events.

    An event is tagged with "*" (everyone), and/or the ISO3 codes of the countries
    whose POCs may see it; staff see every event.
    """
    if principal.role in STAFF:
        return None
    if principal.role is Role.POC and principal.country:
        return ["*", principal.country]
    return ["*"]
