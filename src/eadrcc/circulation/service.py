"""Circulation rules: who an emergency's RFAs go to, the `request.circulated`
event per nation, and the response matrix that every answer moves.

Functions taking `conn` work inside the caller's transaction (opened with
db.transaction, so that their events are appended at its commit); those taking
`pool` own one. Every writer locks the emergency row before response rows, and
response rows in (emergency, country) order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import structlog

from eadrcc.auth import Principal, Role
from eadrcc.capacities import store as capacities
from eadrcc.capacities.models import DeclaredForNeed
from eadrcc.circulation import states, store
from eadrcc.circulation.models import (
    EXERCISE_MARKING,
    Distribution,
    DistributionUpdate,
    MatrixRow,
    Response,
    ResponseUpdate,
    response,
)
from eadrcc.circulation.states import Signal, State
from eadrcc.db import literal, retrying, transaction, transaction_on, with_commit
from eadrcc.errors import Conflict, Invalid, NotFound
from eadrcc.events import log as events
from eadrcc.partners import store as partners
from eadrcc.policy import STAFF_ONLY, authorize, circulation_audience, visible

log = structlog.get_logger(__name__)
Row = dict[str, Any]

CIRCULATED, UPDATED = "request.circulated", "response.updated"
DELIVERY_ACTOR = "system:delivery"
# What a change to an RFA is called in `request.circulated`; "filed" (and a
# nation joining the list, "distributed") is a new ask, the rest amend one.
CHANGES = frozenset({"filed", "distributed", "need_added", "need_amended", "need_cancelled"})


# ---- circulation -----------------------------------------------------------------


async def circulate(
    conn: asyncpg.Connection,
    *,
    request_id: str,
    change: str,
    actor: str,
    need_id: str | None = None,
) -> int:
    """Circulate an RFA, or a change to it, to its emergency's distribution list:
    one `request.circulated` per nation and their response rows, in the caller's
    transaction (all events go in the one statement that appends them at commit).
    Returns how many nations it went to."""
    assert change in CHANGES, change
    rfa = await store.request_needs(conn, request_id)
    if rfa is None:
        raise NotFound(f"no request {request_id!r}")
    emergency = await store.lock_emergency(conn, rfa["emergency_id"])
    assert emergency is not None  # the RFA references it
    countries: list[str] = emergency["countries"]
    if not countries:
        return 0
    rows = await _ask(conn, emergency, countries, new_ask=change == "filed", actor=actor)
    declared = await capacities.declared_for_needs(
        conn, emergency["id"], request_ids=[request_id], countries=countries
    )
    for country in countries:
        _record_circulated(
            conn, emergency, rfa, rows[country], change, need_id, actor, declared.get(country, [])
        )
    log.info("request_circulated", request_id=request_id, change=change, nations=len(countries))
    return len(countries)


async def _ask(
    conn: asyncpg.Connection, emergency: Row, countries: Sequence[str], *, new_ask: bool, actor: str
) -> dict[str, Row]:
    """The nations' rows after an RFA went to them: new rows are `notified`, and
    a new ask (or a nation back on the list) moves answered ones back to it."""
    current = await store.lock_rows(conn, emergency["id"], countries)
    changed: list[Row] = []
    for country in countries:
        old = current.get(country)
        if old is None:
            changed.append(_fresh(emergency, country, actor))
        elif new_ask or not old["on_distribution"]:
            new = _renotified(old, emergency["now"], actor)
            if new is not None:
                changed.append(new)
    written = {r["country"]: r for r in await store.write_rows(conn, changed)}
    for country, row in written.items():
        if country in current:  # a new row is announced by its request.circulated
            _record_updated(conn, row, actor)
    return {**current, **written}


def _fresh(emergency: Row, country: str, actor: str) -> Row:
    now = emergency["now"]
    return {
        "emergency_id": emergency["id"],
        "country": country,
        "state": "notified",
        "reason": None,
        "on_distribution": True,
        "notified_at": now,
        "delivered_at": None,
        "seen_at": None,
        "acknowledged_at": None,
        "reminded_at": None,
        "escalated_at": None,
        "version": 1,
        "updated_at": now,
        "updated_by": actor,
    }


def _renotified(old: Row, now: Any, actor: str) -> Row | None:
    state = states.apply(old["state"], "filed")
    if state is None:  # an offer stands; only its place on the list may change
        back = {**old, "on_distribution": True, "updated_by": actor}
        return None if old["on_distribution"] else back
    new = {**old, "state": state, "on_distribution": True, "updated_by": actor}
    # What was delivered or seen was the earlier ask, not this one.
    new.update(delivered_at=None, seen_at=None)
    if states.is_answered(old["state"]) or not old["on_distribution"]:
        # A new question: the silence clock starts again.
        new.update(
            notified_at=now, acknowledged_at=None, reason=None, reminded_at=None, escalated_at=None
        )
    return None if _same(old, new) else new


def _same(old: Row, new: Row) -> bool:
    return all(old.get(k) == new.get(k) for k in new if k not in ("updated_by", "updated_at"))


def _record_circulated(
    conn: asyncpg.Connection,
    emergency: Row,
    rfa: Row,
    row: Row,
    change: str,
    need_id: str | None,
    actor: str,
    declared: list[DeclaredForNeed],
) -> None:
    """One nation's `request.circulated`; `your_declared_capacities` names the open
    needs of this RFA it declared a capacity for, so it is asked for what it holds."""
    country = row["country"]
    events.record(
        conn,
        kind=CIRCULATED,
        actor=actor,
        emergency_id=emergency["id"],
        visibility=circulation_audience(country),
        data={
            "country": country,
            "change": change,
            "need_id": need_id,
            **_marking(emergency),
            "emergency": _emergency(emergency),
            "request": {
                "id": rfa["id"],
                "requesting_country": rfa["requesting_country"],
                "reference": rfa["reference"],
                "needs": rfa["needs"],
            },
            "response": _json(row),
            "your_declared_capacities": [
                d.model_dump(mode="json") for d in declared if d.request_id == rfa["id"]
            ],
        },
    )


def _marking(emergency: Row) -> dict[str, Any]:
    """Everything circulated for an exercise says so."""
    exercise = bool(emergency["exercise"])
    return {"exercise": exercise, "marking": EXERCISE_MARKING if exercise else None}


def _emergency(emergency: Row) -> dict[str, Any]:
    return {
        "id": emergency["id"],
        "title": emergency["title"],
        "hazard": emergency["hazard"],
        "countries": emergency["affected"],
    }


def _json(row: Row) -> dict[str, Any]:
    return response(row).model_dump(mode="json")


def _record_updated(conn: asyncpg.Connection, row: Row, actor: str) -> None:
    events.record(
        conn,
        kind=UPDATED,
        actor=actor,
        emergency_id=row["emergency_id"],
        visibility=circulation_audience(row["country"]),
        data=_json(row),
    )


# ---- the distribution list -------------------------------------------------------


async def get_distribution(
    *, conn: asyncpg.Connection, who: Principal, emergency_id: str
) -> Distribution:
    authorize(who, "distribution.read")
    found = await store.distribution(conn, emergency_id)
    if found is None:
        raise NotFound(f"no emergency {emergency_id!r}")
    return _distribution(found)


def _distribution(row: Row, added: Sequence[str] = (), removed: Sequence[str] = ()) -> Distribution:
    return Distribution(
        emergency_id=row["id"],
        countries=row["countries"],
        explicit=row["explicit"],
        set_at=row["set_at"],
        set_by=row["set_by"],
        added=list(added),
        removed=list(removed),
    )


async def set_distribution(
    *, pool: asyncpg.Pool, who: Principal, emergency_id: str, body: DistributionUpdate
) -> Distribution:
    """Replace the list. Nations added get every RFA still open at once; nations
    removed keep their row (what they were sent stays true) but are no longer chased."""
    authorize(who, "distribution.write")
    return await retrying(lambda: _set_distribution(pool, who, emergency_id, body))


async def _set_distribution(
    pool: asyncpg.Pool, who: Principal, emergency_id: str, body: DistributionUpdate
) -> Distribution:
    async with transaction(pool) as conn:
        emergency = await store.lock_emergency(conn, emergency_id)
        if emergency is None:
            raise NotFound(f"no emergency {emergency_id!r}")
        if emergency["status"] == "closed":
            raise Conflict("the emergency is closed", extra={"current_status": "closed"})
        if unknown := await partners.unknown_codes(conn, body.countries):
            raise Invalid(
                "unknown country", errors={"countries": f"not Allies or partners: {unknown}"}
            )
        before, after = set(emergency["countries"]), set(body.countries)
        added, removed = sorted(after - before), sorted(before - after)
        # Every row this change touches, locked at once in country order, as the
        # other writers lock them (then the two steps below re-lock nothing new).
        await store.lock_rows(conn, emergency_id, sorted({*added, *removed}))
        saved = await store.set_distribution(conn, emergency_id, sorted(after), who.actor)
        await _take_off(conn, emergency_id, removed, who.actor)
        sent = await _send_open_requests(conn, emergency, added, who.actor)
        result = {**emergency, **saved, "countries": sorted(after), "explicit": True}
        events.record(
            conn,
            kind="distribution.updated",
            actor=who.actor,
            emergency_id=emergency_id,
            visibility=STAFF_ONLY,
            data=_distribution(result, added, removed).model_dump(mode="json"),
        )
    log.info("distribution_set", emergency_id=emergency_id, added=added, removed=removed, sent=sent)
    return _distribution(result, added, removed)


async def _take_off(
    conn: asyncpg.Connection, emergency_id: str, removed: list[str], actor: str
) -> None:
    rows = await store.lock_rows(conn, emergency_id, removed)
    off = [
        {**r, "on_distribution": False, "updated_by": actor}
        for r in rows.values()
        if r["on_distribution"]
    ]
    for row in await store.write_rows(conn, off):
        _record_updated(conn, row, actor)


async def _send_open_requests(
    conn: asyncpg.Connection, emergency: Row, added: list[str], actor: str
) -> int:
    open_rfas = await store.open_requests(conn, emergency["id"]) if added else []
    if not open_rfas:
        return 0
    rows = await _ask(conn, emergency, added, new_ask=True, actor=actor)
    declared = await capacities.declared_for_needs(
        conn, emergency["id"], request_ids=[r["id"] for r in open_rfas], countries=added
    )
    for rfa in open_rfas:
        for country in added:
            _record_circulated(
                conn,
                emergency,
                rfa,
                rows[country],
                "distributed",
                None,
                actor,
                declared.get(country, []),
            )
    return len(open_rfas) * len(added)


# ---- signals that move rows ------------------------------------------------------


async def signal(
    conn: asyncpg.Connection,
    *,
    signal: Signal,
    pairs: Sequence[tuple[str, str]],
    actor: str,
    reason: str | None = None,
    count_offers: bool = True,
) -> tuple[dict[tuple[str, str], Row], list[Row]]:
    """Apply one signal to the rows of (emergency, country) pairs, in the caller's
    transaction: rows it moves are written with their history and a
    `response.updated` each. Answers every existing row named (moved or not) by
    pair, and the rows it moved (without `count_offers`, the rows it did not move
    have `offers` None; moved rows are counted as written)."""
    rows = await store.lock_pairs(conn, pairs, count_offers=count_offers)
    changed: list[Row] = []
    for old in rows:
        new = _moved(old, signal, actor, reason)
        if new is not None:
            changed.append(new)
    written = await store.write_rows(conn, changed)
    for row in written:
        _record_updated(conn, row, actor)
    by_pair = {(r["emergency_id"], r["country"]): r for r in rows}
    by_pair.update({(r["emergency_id"], r["country"]): r for r in written})
    return by_pair, written


def _moved(old: Row, signal: Signal, actor: str, reason: str | None) -> Row | None:
    state = states.apply(old["state"], signal)
    if state is None:
        return None
    now = old["now"]
    new = {**old, "state": state, "updated_by": actor}
    if signal == "delivered":
        new["delivered_at"] = now
    elif signal == "seen":
        new["seen_at"] = now
    elif state in ("acknowledged", "unable", "offered") and signal != "offers_gone":
        if old["state"] != state:
            new["acknowledged_at"] = now
        new["reason"] = reason if state == "unable" else None
    return None if _same(old, new) else new


async def mark_delivered(
    conn: asyncpg.Connection, *, emergency_id: str, country: str, actor: str = DELIVERY_ACTOR
) -> None:
    """A channel delivered a `request.circulated` of this emergency to this nation.

    Call it inside the transaction that records the delivery (db.transaction):
    a `notified` row becomes `delivered`; any later state is left as it is.
    """
    await signal(conn, signal="delivered", pairs=[(emergency_id, country)], actor=actor)


async def mark_delivered_many(
    conn: asyncpg.Connection, pairs: Sequence[tuple[str, str]], *, actor: str
) -> int:
    """mark_delivered for many (emergency, country) pairs in one go; how many moved."""
    _, moved = await signal(conn, signal="delivered", pairs=pairs, actor=actor)
    return len(moved)


async def offered(
    conn: asyncpg.Connection,
    *,
    emergency_id: str,
    country: str,
    actor: str,
    state: State | None,
) -> None:
    """The nation has help on offer in the emergency (inside the offer's transaction).

    `state`: the nation's row as the caller read it in this transaction, without a
    lock (None: no row; the nation is not on the distribution, nothing to do). A row
    already `offered` is not moved, so it is not locked for the transaction (every
    offer of one nation would queue behind the last): it is held shared from the
    COMMIT's message (keep_offered, migration 0017), which fails the transaction
    for a retry if a withdrawal has meanwhile moved it. Otherwise it is moved: the
    caller must hold the needs it plans already (needs before circulation rows)."""
    if state is None:
        return
    if state == "offered":
        with_commit(conn, _keep_offered_sql).setdefault("keep_offered", set()).add(
            (emergency_id, country)
        )
        return
    await signal(
        conn, signal="offered", pairs=[(emergency_id, country)], actor=actor, count_offers=False
    )


def _keep_offered_sql(state: dict[str, Any]) -> str | None:
    pairs = sorted(state.get("keep_offered", ()))
    if not pairs:
        return None
    return "\n;\n".join(
        f"SELECT keep_offered({literal(emergency_id)}, {literal(country)})"
        for emergency_id, country in pairs
    )


async def offer_withdrawn(
    conn: asyncpg.Connection, *, emergency_id: str, country: str, actor: str
) -> None:
    """After a withdrawal (in its transaction): no open offer left → acknowledged.
    Counted once the row is held: an offer that found the row `offered` holds it
    shared until it commits (keep_offered), so it is waited for and counted."""
    if not await store.lock_pairs(conn, [(emergency_id, country)], count_offers=False):
        return
    if await store.open_offers(conn, emergency_id, country) == 0:
        await signal(conn, signal="offers_gone", pairs=[(emergency_id, country)], actor=actor)


async def mark_seen(
    *, pool: asyncpg.Pool, who: Principal, emergency_id: str, requesting_country: str
) -> bool:
    """A POC opened an RFA: its nation's row becomes `seen`. True when it moved.

    Reads first without a lock, so that the usual case (seen already) costs one
    statement and no transaction.
    """
    country = who.country
    if who.role is not Role.POC or country is None or country == requesting_country:
        return False
    async with pool.acquire() as conn:
        rows = await store.matrix(conn, emergency_id, country)
        if not rows or states.apply(rows[0]["state"], "seen") is None:
            return False
        async with transaction_on(conn):
            _, moved = await signal(
                conn, signal="seen", pairs=[(emergency_id, country)], actor=who.actor
            )
    return bool(moved)


# ---- answers ---------------------------------------------------------------------


async def respond(
    *, pool: asyncpg.Pool, who: Principal, emergency_id: str, country: str, body: ResponseUpdate
) -> Response:
    """A nation (or a duty officer for it) acknowledges, or says it is unable."""
    authorize(who, "response.answer", [country])
    async with transaction(pool) as conn:
        if await store.distribution(conn, emergency_id) is None:
            raise NotFound(f"no emergency {emergency_id!r}")
        if await partners.unknown_codes(conn, [country]):
            raise NotFound(f"no Ally or partner {country!r}")
        rows, _ = await signal(
            conn,
            signal=body.state,
            pairs=[(emergency_id, country)],
            actor=who.actor,
            reason=body.reason,
        )
        if not rows:
            raise Conflict(f"nothing has been circulated to {country} in this emergency")
        row = rows[(emergency_id, country)]
    log.info("response_answered", emergency_id=emergency_id, country=country, state=row["state"])
    return response(row)


async def matrix(*, conn: asyncpg.Connection, who: Principal, emergency_id: str) -> list[MatrixRow]:
    """The response matrix; a POC sees its own nation's row only. Each row names the
    open needs the nation declared a capacity for (one statement for all rows)."""
    authorize(who, "response.read")
    if await store.distribution(conn, emergency_id) is None:
        raise NotFound(f"no emergency {emergency_id!r}")
    # A POC reads its own row only: ask the database for that one, and let the one
    # visibility decision have the last word on every row.
    country = who.country if who.role is Role.POC else None
    if who.role is Role.POC and country is None:
        return []
    rows = await store.matrix(conn, emergency_id, country)
    shown = [r for r in rows if visible(who, circulation_audience(r["country"]))]
    if not shown:
        return []
    declared = await capacities.declared_for_needs(
        conn, emergency_id, countries=[r["country"] for r in shown]
    )
    return [
        MatrixRow(**response(r).model_dump(), declared_capacities=declared.get(r["country"], []))
        for r in shown
    ]
