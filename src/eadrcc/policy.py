"""Who may do what, and who may see what: the whole authorisation policy.

Actions. `RULES` names, per action, the roles that may always do it and the roles
that may do it only for their own country (a POC acts for the country its token is
bound to). Views and services call `authorize`; nothing else decides.

Visibility. Every record and every event has an *audience*: a list of tags,
    "*"        every role,
    "TUR", …   the POCs of those countries (ISO3),
    nothing    staff only (admin, duty officer, observer).
The tags of a record come from one function per kind here (`offer_audience`,
`match_audience`, …), and an event is stored with the tags of what it carries
(`events.visibility`). Then ONE function decides:

    visible(principal, subject) -> bool

where `subject` is an event (a row or mapping with `visibility`, or an object with
a `.visibility` attribute) or a list of tags from the functions above. Every read
uses it: REST reads of one record, `/ws`, long-poll, snapshots, sitreps and
outbound delivery. SQL filters take the same decision in the database from
`audience(principal)`: None (no filter: staff) or the tags the principal holds,
to be intersected with the rows' tags (`visibility && $n`, or the equivalent on a
record's own columns) — `admits(audience, tags)` is the same test in Python for
hot loops that compiled the audience once (the hub's per-socket filter).

Whole kinds of records some roles never read (integrations read no offers,
matches, contacts or snapshots) are actions in `RULES` ("offer.read",
"match.read", "contact.read", "snapshot.read"); `authorize_kind` refuses them with
403 before any row is looked at.

A view without a token (outbound delivery). A subscription of country X receives
exactly what a POC of X sees on `/ws`:

    who = Principal.for_country("TUR")          # no token needed
    if policy.visible(who, event_row): deliver(...)
    # or in SQL: events.read_since(conn, since=..., audience=policy.audience(who))

and the staff view (a subscription with no country) is `Principal.staff_view()`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eadrcc.auth import Principal, Role
from eadrcc.errors import Forbidden

A, D, P, INT, OBS = Role.ADMIN, Role.DUTY_OFFICER, Role.POC, Role.INTEGRATION, Role.OBSERVER
EVERYONE = frozenset(Role)
STAFF = frozenset({A, D, OBS})
NOT_INTEGRATION = EVERYONE - {INT}

# Audience tags (see the module docstring).
ALL = "*"
PUBLIC: list[str] = [ALL]
STAFF_ONLY: list[str] = []


@dataclass(frozen=True)
class Rule:
    always: frozenset[Role]
    own_country: frozenset[Role] = field(default_factory=frozenset)


RULES: dict[str, Rule] = {
    # partner registry
    "partner.read": Rule(EVERYONE),
    "partner.write": Rule(frozenset({A})),
    "contact.read": Rule(NOT_INTEGRATION),  # 24/7 contacts inside partner records
    "programme.read": Rule(EVERYONE),
    "resource_type.read": Rule(EVERYONE),
    "credential.read": Rule(EVERYONE),
    "event.read": Rule(EVERYONE),
    # operations
    "emergency.read": Rule(EVERYONE),
    "emergency.create": Rule(frozenset({A, D}), own_country=frozenset({P})),
    "emergency.update": Rule(frozenset({A, D})),
    "snapshot.read": Rule(STAFF, own_country=frozenset({P})),
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
    # circulation
    "distribution.read": Rule(STAFF),
    "distribution.write": Rule(frozenset({A, D})),
    "response.read": Rule(frozenset({A, D, OBS, P})),  # a POC: its own nation's row only
    "response.answer": Rule(frozenset({A, D}), own_country=frozenset({P})),
    # alerts
    "alert.create": Rule(frozenset({A, D, INT})),
    "alert.read": Rule(STAFF),
    "alert.triage": Rule(frozenset({A, D})),
    # outbound delivery: an integration manages its own subscriptions (the service
    # checks ownership); a POC only its own country's
    "subscription.create": Rule(frozenset({A, D, INT}), own_country=frozenset({P})),
    "subscription.read": Rule(frozenset({A, D, INT}), own_country=frozenset({P})),
    "subscription.delete": Rule(frozenset({A, D, INT}), own_country=frozenset({P})),
    "subscription.resume": Rule(frozenset({A, D, INT}), own_country=frozenset({P})),
    "channel.read": Rule(STAFF, own_country=frozenset({P})),
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
    countries = list(countries)
    if not allowed(principal, action, countries):
        raise Forbidden(refusal(principal, action, countries))


def refusal(principal: Principal, action: str, countries: Sequence[str] = ()) -> str:
    """Why not, in words that tell the caller which token would do: the country its
    token speaks for, or the roles the action needs."""
    rule = RULES[action]
    if principal.role in rule.own_country and principal.country is not None:
        theirs = ", ".join(sorted(set(countries))) or "another country"
        staff = " or ".join(sorted(rule.always))
        return (
            f"this token speaks for {principal.country}; {action} here is for the poc of "
            f"{theirs}, or a token with the role {staff}"
        )
    needed = ", ".join(sorted(rule.always | rule.own_country))
    return f"the {principal.role} role may not {action}; it needs one of: {needed}"


def authorize_every(principal: Principal, action: str, countries: Iterable[str]) -> None:
    """Like authorize, but an own-country role must own EVERY country named (a POC
    may declare only its own country affected), not just one of them."""
    named = set(countries)
    authorize(principal, action, named)
    if principal.role not in RULES[action].always and named != {principal.country}:
        others = ", ".join(sorted(named - {principal.country or ""}))
        raise Forbidden(f"a {principal.role} may name only its own country, not {others}")


def allowed_kind(principal: Principal, action: str) -> bool:
    """May the principal do `action` for some record (its own country's, for a POC)?"""
    rule = RULES[action]
    return principal.role in rule.always or (
        principal.role in rule.own_country and principal.country is not None
    )


def authorize_kind(principal: Principal, action: str) -> None:
    """403 for a role that may never do `action`; which rows it sees is `visible`'s."""
    if not allowed_kind(principal, action):
        raise Forbidden(refusal(principal, action))


# ---- visibility ------------------------------------------------------------------


def audience(principal: Principal) -> list[str] | None:
    """The tags the principal holds, for SQL filters; None means it sees everything."""
    if principal.role in STAFF:
        return None
    if principal.role is Role.POC and principal.country:
        return [ALL, principal.country]
    return [ALL]


# The name the event readers used before records had audiences too.
event_audience = audience


def admits(held: Iterable[str] | None, tags: Iterable[str]) -> bool:
    """`visible` with the principal's audience already computed (hot loops)."""
    if held is None:
        return True
    held_set = held if isinstance(held, frozenset | set) else set(held)
    return not held_set.isdisjoint(tags)


def visible(principal: Principal, subject: Any) -> bool:
    """May `principal` see this event or record? The one decision (module docstring)."""
    return admits(audience(principal), tags_of(subject))


def tags_of(subject: Any) -> Sequence[str] | frozenset[str]:
    """The audience tags of an event (row, mapping or object) or a list of tags."""
    if isinstance(subject, list | tuple | frozenset | set):
        return subject  # type: ignore[return-value]
    if isinstance(subject, Mapping):
        return list(subject["visibility"])
    try:
        return list(subject["visibility"])  # an asyncpg Record
    except (TypeError, KeyError):
        pass
    tags = getattr(subject, "visibility", None)
    if tags is None:
        raise TypeError(f"no audience for {type(subject).__name__}: use an *_audience function")
    return list(tags)


def offer_audience(offering_country: str, affected: Iterable[str]) -> list[str]:
    """An offer: its nation, and the nations the emergency strikes (they decide on it)."""
    return sorted({offering_country, *affected})


def match_audience(offering_country: str, requesting_country: str) -> list[str]:
    """A match: the nation that gives and the nation that receives."""
    return sorted({offering_country, requesting_country})


def emergency_audience() -> list[str]:
    """Emergencies, RFAs and needs are circulated to every role."""
    return PUBLIC


def capacity_audience(country: str) -> list[str]:
    """A nation's capacity events (declared, changed, withdrawn, expiring): that nation."""
    return [country]


def circulation_audience(country: str) -> list[str]:
    """What is circulated to a nation, and its row in the response matrix: that
    nation (and staff)."""
    return [country]


def alert_audience() -> list[str]:
    """Raw alerts are for staff triage."""
    return STAFF_ONLY
