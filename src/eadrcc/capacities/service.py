"""Capacity rules. Each public function owns one transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import structlog

from eadrcc import credentials, idempotency, policy
from eadrcc.auth import Principal
from eadrcc.capacities import store
from eadrcc.capacities.models import (
    Capacity,
    CapacityCreate,
    CapacityOffer,
    CapacityQuery,
    CapacityUpdate,
)
from eadrcc.capacities.providers import (
    SHORTLIST,
    LikelyProvider,
    Scored,
    best,
    cutoff,
    scored,
)
from eadrcc.db import transaction
from eadrcc.errors import Conflict, Invalid, NotFound
from eadrcc.events import log as events
from eadrcc.ids import new_id
from eadrcc.matching import store as matching_store
from eadrcc.offers import service as offers
from eadrcc.offers.models import OfferCreate, OfferItemCreate
from eadrcc.partners import store as partners
from eadrcc.policy import authorize
from eadrcc.requests.models import Need

log = structlog.get_logger(__name__)
MAX_VALIDITY = timedelta(days=36525)  # a century: far past any real plan


async def create(
    *, pool: asyncpg.Pool, who: Principal, body: CapacityCreate, remind_days: int
) -> Capacity:
    authorize(who, "capacity.declare", [body.country])
    async with transaction(pool) as conn:
        await _validate(conn, body.country, body.resource_type, body.credentials, body.valid_until)
        created = await store.insert(conn, body, id=new_id("cap"), actor=who.actor)
        await _after_change(conn, created, "capacity.created", who.actor, remind_days)
    log.info("capacity_declared", capacity_id=created.id, country=created.country)
    return created


async def update(
    *,
    pool: asyncpg.Pool,
    who: Principal,
    capacity_id: str,
    body: CapacityUpdate,
    remind_days: int,
) -> Capacity:
    async with transaction(pool) as conn:
        current = await _declared(conn, who, capacity_id)
        changed = current.model_copy(update=body.model_dump(exclude_unset=True))
        # model_copy skips validation: rebuild the nested model from what was sent
        changed = Capacity.model_validate(changed.model_dump())
        touched = body.model_fields_set
        await _validate(
            conn,
            current.country,
            changed.resource_type,
            changed.credentials,
            changed.valid_until if "valid_until" in touched else None,
        )
        updated = await store.update(conn, changed, who.actor)
        await _after_change(conn, updated, "capacity.updated", who.actor, remind_days)
    return updated


async def withdraw(*, pool: asyncpg.Pool, who: Principal, capacity_id: str) -> Capacity:
    async with transaction(pool) as conn:
        current = await _declared(conn, who, capacity_id)
        withdrawn = await store.update(
            conn, current.model_copy(update={"status": "withdrawn"}), who.actor
        )
        await _after_change(conn, withdrawn, "capacity.withdrawn", who.actor, 0)
    log.info("capacity_withdrawn", capacity_id=capacity_id, country=current.country)
    return withdrawn


async def get(*, conn: asyncpg.Connection, who: Principal, capacity_id: str) -> Capacity:
    authorize(who, "capacity.read")
    found = await store.get(conn, capacity_id)
    if found is None:
        raise NotFound(f"no capacity {capacity_id!r}")
    return found


async def search(
    *, conn: asyncpg.Connection, who: Principal, query: CapacityQuery
) -> list[Capacity]:
    authorize(who, "capacity.read")
    return await store.search(conn, query)


async def offer(
    *,
    pool: asyncpg.Pool,
    who: Principal,
    capacity_id: str,
    body: CapacityOffer,
    idempotency_key: str | None,
) -> tuple[int, Any]:
    """An offer built from a declared capacity, through the offers service itself."""
    async with pool.acquire() as conn:
        found = await store.get(conn, capacity_id)
    if found is None:
        raise NotFound(f"no capacity {capacity_id!r}")
    authorize(who, "capacity.offer", [found.country])
    _offerable(found, body.quantity)
    built = build_offer(found, body, now=datetime.now(UTC))
    # A retry rebuilds available_from from a later clock: the key must hold to
    # what the caller sent, not to the build.
    sent = {"capacity_id": capacity_id, **body.model_dump(mode="json")}
    return await offers.create(
        pool=pool,
        who=who,
        body=built,
        idempotency_key=idempotency_key,
        request_hash=idempotency.fingerprint("offers", sent),
    )


def build_offer(c: Capacity, body: CapacityOffer, *, now: datetime) -> OfferCreate:
    """Type, credentials, origin and self-sufficiency come from the capacity; the
    help is available once its readiness time has run from now."""
    origin = {"lat": c.home_base.lat, "lon": c.home_base.lon} if c.home_base else None
    item = OfferItemCreate.model_validate(
        {
            "resource_type": c.resource_type,
            "quantity": body.quantity,
            "available_from": now + timedelta(hours=c.readiness_hours),
            "origin": origin,
            "self_sufficient": c.self_sufficient,
            "credentials": c.credentials,
        }
    )
    return OfferCreate(
        emergency_id=body.emergency_id,
        request_id=body.request_id,
        offering_country=c.country,
        channel=body.channel,
        items=[item],
        notes=body.notes or f"from declared capacity {c.id}",
    )


async def likely_providers(
    conn: asyncpg.Connection, needs: list[Need]
) -> dict[str, list[LikelyProvider]]:
    """Per still-uncovered need, the nations whose capacities could fill it."""
    wanted = [n.id for n in needs if n.status == "open" and n.uncovered_quantity > 0]
    if not wanted:
        return {}
    found: dict[str, list[Scored]] = {i: [] for i in wanted}
    for r in await store.fitting(conn, dict.fromkeys(wanted, store.NO_BOUND), SHORTLIST):
        found[r["need_id"]].append(scored(r))
    # A need whose shortlist cannot prove its best is read again, up to a bound
    # past which no candidate can win: one more statement, only when needed.
    unproven = {i: b for i, f in found.items() if (b := cutoff(f, SHORTLIST))}
    if unproven:
        for i in unproven:
            found[i] = []
        for r in await store.fitting(conn, unproven, None):
            found[r["need_id"]].append(scored(r))
    return {i: best(f) for i, f in found.items() if f}


async def send_due_reminders(*, pool: asyncpg.Pool, limit: int = 100) -> int | None:
    """Emit `capacity.expiring` for every due reminder, once; None if another
    instance holds the sweep."""
    async with transaction(pool) as conn:
        due = await store.take_due_reminders(conn, limit)
        for c in due or []:
            _emit(conn, c, "capacity.expiring", "system:scheduler")
    if due:
        log.info("capacity_reminders_sent", count=len(due))
    return None if due is None else len(due)


async def _declared(conn: asyncpg.Connection, who: Principal, capacity_id: str) -> Capacity:
    """The capacity, locked, once the caller may change it and it may be changed."""
    found = await store.get(conn, capacity_id, lock=True)
    if found is None:
        raise NotFound(f"no capacity {capacity_id!r}")
    authorize(who, "capacity.declare", [found.country])
    if found.source == "public":
        raise Conflict(
            "a capacity from a public list changes only with its list; declare your own",
            extra={"source": "public"},
        )
    if found.status == "withdrawn":
        raise Conflict("the capacity is withdrawn", extra={"current_status": "withdrawn"})
    return found


def _offerable(c: Capacity, quantity: int) -> None:
    if c.source != "declared":
        raise Conflict(
            "only a declared capacity can be offered in one step", extra={"source": c.source}
        )
    if c.status != "active":
        raise Conflict("the capacity is withdrawn", extra={"current_status": c.status})
    if c.expired:
        raise Conflict(f"the capacity expired on {c.valid_until}", extra={"expired": True})
    if quantity > c.quantity:
        raise Invalid(
            "more than the capacity holds",
            errors={"quantity": f"at most {c.quantity}, the declared quantity"},
        )


async def _validate(
    conn: asyncpg.Connection,
    country: str,
    resource_type: str,
    creds: list[str],
    valid_until: datetime | None,
) -> None:
    """Every problem at once, named by field, with where the valid values are."""
    errors: dict[str, str] = {}
    if await partners.unknown_codes(conn, [country]):
        errors["country"] = "not an Ally or partner (see GET /api/v1/partners)"
    if not await matching_store.type_units(conn, [resource_type]):
        errors["resource_type"] = credentials.unknown_type(resource_type)
    else:
        check = await credentials.checker(conn, country)
        if problem := check.problem(resource_type, creds):
            errors["credentials"] = problem
    now = datetime.now(UTC)
    if valid_until is not None and valid_until <= now:
        errors["valid_until"] = "must be in the future"
    elif valid_until is not None and valid_until > now + MAX_VALIDITY:
        errors["valid_until"] = "at most 100 years ahead"
    if errors:
        raise Invalid(f"the capacity has {len(errors)} problem(s)", errors=errors)


async def _after_change(
    conn: asyncpg.Connection, c: Capacity, kind: str, actor: str, remind_days: int
) -> None:
    await store.schedule_reminder(conn, c, timedelta(days=remind_days))
    _emit(conn, c, kind, actor)


def _emit(conn: asyncpg.Connection, c: Capacity, kind: str, actor: str) -> None:
    events.record(
        conn,
        kind=kind,
        actor=actor,
        visibility=policy.capacity_audience(c.country),
        data=c.model_dump(mode="json"),
    )
