"""Offer rules. Each public function owns one transaction; a withdrawal re-plans in
it (see matching.service.replan)."""

from __future__ import annotations

import itertools
from typing import Any

import asyncpg
import structlog

from eadrcc import credentials, idempotency
from eadrcc.auth import Principal
from eadrcc.circulation import service as circulation
from eadrcc.db import Stale, plan_each_statement, retrying, transaction
from eadrcc.emergencies import service as emergencies
from eadrcc.errors import Conflict, Invalid, NotFound
from eadrcc.events import log as events
from eadrcc.ids import new_id
from eadrcc.matching import allocation, engine
from eadrcc.matching import service as matching
from eadrcc.matching.models import Match
from eadrcc.matching.store import match as match_from_row
from eadrcc.offers import store
from eadrcc.offers.models import Offer, OfferCreate
from eadrcc.offers.store import q
from eadrcc.policy import authorize, authorize_kind, offer_audience, visible

log = structlog.get_logger(__name__)


async def create(
    *,
    pool: asyncpg.Pool,
    who: Principal,
    body: OfferCreate,
    idempotency_key: str | None,
    request_hash: bytes | None = None,
) -> tuple[int, Any]:
    """Record an offer and propose matches at once; returns (status, JSON body).

    `request_hash` names what a retry must repeat when the offer was built from
    something else (a capacity: its build stamps `available_from` with the time).
    """
    attempts = itertools.count()
    return await retrying(
        lambda: _create(
            pool=pool,
            who=who,
            body=body,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            # First without locks on the needs; a plan that no longer held when it
            # was written (or a deadlock) is made again under locks.
            unlocked=next(attempts) == 0,
        )
    )


async def _create(
    *,
    pool: asyncpg.Pool,
    who: Principal,
    body: OfferCreate,
    idempotency_key: str | None,
    request_hash: bytes | None,
    unlocked: bool,
) -> tuple[int, Any]:
    authorize(who, "offer.create", [body.offering_country])
    # Kept plans for the lookups by key here and the new offer's candidate search;
    # planning under locks (lock_sides) goes back to plans made for its values.
    async with transaction(pool, generic_plans=True) as conn:
        if idempotency_key:
            seen = await idempotency.claim(
                conn,
                token_id=who.token_id,
                key=idempotency_key,
                scope="offers",
                request_hash=request_hash
                or idempotency.fingerprint("offers", body.model_dump(mode="json")),
            )
            if seen:
                return seen
        facts = await _validate(conn, body)
        offer_id = new_id("off")
        item_ids = [new_id("itm") for _ in body.items]
        offer = await store.create(
            conn,
            offer_id=offer_id,
            body=body,
            item_ids=item_ids,
            actor=who.actor,
            now=facts["now"],
        )
        offer_json = emit(conn, offer, facts["affected"], "offer.created", who.actor)
        # The nation's first offer moves its circulation row, which must be locked
        # after the needs: that plan is made under locks, as every retry's is.
        moves_row = facts["response_state"] not in (None, "offered")
        proposals = None
        if unlocked and not moves_row:
            proposals = await engine.plan_new_offer(
                conn, offer, actor=who.actor, written_at=facts["now"]
            )
        if proposals is None:
            await plan_each_statement(conn)
            planned = await engine.plan(conn, item_ids=item_ids, actor=who.actor)
            # Not the proposals of items it displaced, planned again: other offers'.
            proposals = [m for m in planned if m.offer_id == offer_id]
        await circulation.offered(
            conn,
            emergency_id=body.emergency_id,
            country=body.offering_country,
            actor=who.actor,
            state=facts["response_state"],
        )
        created = created_answer(offer_json, proposals)
        if idempotency_key:
            idempotency.remember(
                conn, token_id=who.token_id, key=idempotency_key, status=201, response=created
            )
    log.info(
        "offer_created",
        offer_id=offer_id,
        country=body.offering_country,
        items=len(item_ids),
        proposals=len(proposals),
    )
    return 201, created


async def withdraw(
    *, pool: asyncpg.Pool, who: Principal, offer_id: str, reason: str | None
) -> Offer:
    """Withdraw an offer: its proposals lapse, and allocations nothing has moved yet
    are given back to their needs (which are then re-matched)."""
    withdrawn, freed = await retrying(lambda: _withdraw(pool, who, offer_id, reason))
    await freed.finish(pool, who.actor)
    return withdrawn


async def _withdraw(
    pool: asyncpg.Pool, who: Principal, offer_id: str, reason: str | None
) -> tuple[Offer, matching.Replanned]:
    async with transaction(pool) as conn:
        offer = await _get(conn, offer_id)
        authorize(who, "offer.withdraw", [offer.offering_country])
        item_ids = [i.id for i in offer.items]
        live = await _live_allocations(conn, offer_id)
        locked = await allocation.lock(
            conn, need_ids=[m.need_id for m in live], item_ids=item_ids, other_sides=True
        )
        offer = await _get(conn, offer_id, lock=True)
        if offer.status != "open":
            raise Conflict("the offer is already withdrawn", extra={"current_status": offer.status})
        live = await _live_allocations(conn, offer_id)
        if any(m.need_id not in locked.needs for m in live):
            # Accepted after the first read: releasing it would update a need never
            # locked in order. Start again; the next read sees it.
            raise Stale("an allocation of the offer was accepted while locking")
        await matching.release(conn, live, reason="offer withdrawn", actor=who.actor)
        await conn.execute(*q.bind("withdraw_offer", id=offer_id, reason=reason))
        await conn.execute(*q.bind("withdraw_items", offer_id=offer_id))
        fitted = await allocation.fit(conn, item_ids=item_ids, reason="offer withdrawn")
        engine.emit_fitted(conn, fitted, who.actor)
        withdrawn = await _get(conn, offer_id)
        emergency = await emergencies.get(conn=conn, emergency_id=offer.emergency_id)
        emit(conn, withdrawn, emergency.countries, "offer.withdrawn", who.actor)
        await circulation.offer_withdrawn(
            conn, emergency_id=offer.emergency_id, country=offer.offering_country, actor=who.actor
        )
        # Last: planning may take rows out of the lock order (never waiting for them).
        need_ids = sorted({*(m.need_id for m in live), *(m.need_id for m in fitted)})
        freed = await matching.replan(conn, need_ids=need_ids, item_ids=[], actor=who.actor)
        return withdrawn, freed


async def get(*, conn: asyncpg.Connection, who: Principal, offer_id: str) -> Offer:
    authorize_kind(who, "offer.read")
    offer = await _get(conn, offer_id)
    emergency = await emergencies.get(conn=conn, emergency_id=offer.emergency_id)
    if not visible(who, offer_audience(offer.offering_country, emergency.countries)):
        raise NotFound(f"no offer {offer_id!r}")  # not visible: not even its existence
    return offer


def created_answer(offer_json: dict[str, Any], proposals: list[Match]) -> dict[str, Any]:
    """OfferCreated's shape, from the offer as its event carries it (no second
    validation)."""
    return {**offer_json, "matches": [m.model_dump(mode="json") for m in proposals]}


def emit(
    conn: asyncpg.Connection, offer: Offer, affected: list[str], kind: str, actor: str
) -> dict[str, Any]:
    """Queue the offer's event (`affected`: the emergency's affected nations); returns
    the offer as JSON, as the event carries it."""
    data = offer.model_dump(mode="json")
    events.record(
        conn,
        kind=kind,
        actor=actor,
        emergency_id=offer.emergency_id,
        visibility=offer_audience(offer.offering_country, affected),
        data=data,
    )
    return data


async def _get(conn: asyncpg.Connection, offer_id: str, *, lock: bool = False) -> Offer:
    offer = await store.get(conn, offer_id, lock=lock)
    if offer is None:
        raise NotFound(f"no offer {offer_id!r}")
    return offer


async def _live_allocations(conn: asyncpg.Connection, offer_id: str) -> list[Match]:
    rows = await conn.fetch(*q.bind("live_allocations", offer_id=offer_id))
    return [match_from_row(r) for r in rows]


async def _validate(conn: asyncpg.Connection, body: OfferCreate) -> asyncpg.Record:
    """Read the facts an offer is checked against (offer_facts), and check it."""
    facts = await store.facts(conn, body)
    check(body, facts)
    return facts


def check(body: OfferCreate, facts: asyncpg.Record) -> None:
    """An open emergency, then every other problem at once: unknown types,
    credentials, country, request (`facts`: offer_facts, read for this offer; among
    them the emergency's affected nations and the nation's circulation state)."""
    errors: dict[str, str] = {}
    if facts["emergency_status"] is None:
        raise Invalid("unknown emergency", errors={"emergency_id": "no such emergency"})
    if facts["emergency_status"] == "closed":
        raise Conflict("the emergency is closed", extra={"current_status": "closed"})
    if not facts["country_known"]:
        errors["offering_country"] = "not an Ally or partner"
    if body.request_id and facts["request_emergency"] != body.emergency_id:
        errors["request_id"] = "no such request in this emergency"
    units = facts["units"]
    credential_check = credentials.CredentialCheck(
        body.offering_country, facts["credentials"], frozenset(facts["programmes"])
    )
    for n, item in enumerate(body.items):
        if item.resource_type not in units:
            errors[f"items.{n}.resource_type"] = credentials.unknown_type(item.resource_type)
        elif problem := credential_check.problem(item.resource_type, item.credentials):
            errors[f"items.{n}.credentials"] = problem
    if errors:
        raise Invalid(f"the offer has {len(errors)} problem(s)", errors=errors)
