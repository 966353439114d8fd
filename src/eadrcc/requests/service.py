"""RFA rules. Each public function owns one transaction (amendments that free
offers add a re-matching one, see matching.service.rematch)."""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog

from eadrcc import credentials, idempotency
from eadrcc.auth import Principal
from eadrcc.capacities import service as capacities
from eadrcc.circulation import service as circulation
from eadrcc.db import retrying, transaction
from eadrcc.emergencies import service as emergencies
from eadrcc.errors import Conflict, Invalid, NotFound
from eadrcc.events import log as events
from eadrcc.ids import new_id
from eadrcc.matching import engine
from eadrcc.matching import service as matching
from eadrcc.matching import store as matching_store
from eadrcc.matching.models import Match
from eadrcc.matching.store import match as match_from_row
from eadrcc.matching.store import q as matching_q
from eadrcc.policy import authorize
from eadrcc.requests import store
from eadrcc.requests.models import Need, NeedUpdate, Request, RequestCreate

log = structlog.get_logger(__name__)
EVERYONE = ["*"]


async def create(
    *,
    pool: asyncpg.Pool,
    who: Principal,
    emergency_id: str,
    body: RequestCreate,
    idempotency_key: str | None,
) -> tuple[int, Any]:
    return await retrying(
        lambda: _create(
            pool=pool,
            who=who,
            emergency_id=emergency_id,
            body=body,
            idempotency_key=idempotency_key,
        )
    )


async def _create(
    *,
    pool: asyncpg.Pool,
    who: Principal,
    emergency_id: str,
    body: RequestCreate,
    idempotency_key: str | None,
) -> tuple[int, Any]:
    authorize(who, "request.create", [body.requesting_country])
    async with transaction(pool) as conn:
        if idempotency_key:
            seen = await idempotency.claim(
                conn,
                token_id=who.token_id,
                key=idempotency_key,
                scope=f"requests:{emergency_id}",
                request_hash=idempotency.fingerprint(emergency_id, body.model_dump(mode="json")),
            )
            if seen:
                return seen
        emergency = await emergencies.get(conn=conn, emergency_id=emergency_id)
        if emergency.status == "closed":
            raise Conflict("the emergency is closed", extra={"current_status": "closed"})
        await _validate(conn, body, emergency.countries)
        request_id = new_id("rfa")
        await store.insert_request(
            conn,
            id=request_id,
            emergency_id=emergency_id,
            requesting_country=body.requesting_country,
            reference=body.reference,
            notes=body.notes,
            actor=who.actor,
        )
        rows = [_need_row(n, request_id, emergency_id) for n in body.needs]
        await store.insert_needs(conn, rows, who.actor)
        request = await _get(conn, request_id)
        events.record(
            conn,
            kind="request.created",
            actor=who.actor,
            emergency_id=emergency_id,
            data=request.model_dump(mode="json"),
        )
        await engine.propose_for_needs(conn, [r["id"] for r in rows], who.actor)
        await circulation.circulate(conn, request_id=request_id, change="filed", actor=who.actor)
        request = await _get(conn, request_id)
        answer = request.model_dump(mode="json")
        if idempotency_key:
            await idempotency.remember(
                conn, token_id=who.token_id, key=idempotency_key, status=201, response=answer
            )
    log.info(
        "request_created", request_id=request_id, country=body.requesting_country, needs=len(rows)
    )
    return 201, answer


def _need_row(n: Any, request_id: str, emergency_id: str) -> dict[str, Any]:
    d = n.delivery
    return {
        "id": new_id("ned"),
        "request_id": request_id,
        "emergency_id": emergency_id,
        "resource_type": n.resource_type,
        "quantity": n.quantity,
        "priority": n.priority,
        "needed_by": n.needed_by,
        "delivery_lat": d.lat if d else None,
        "delivery_lon": d.lon if d else None,
        "delivery_place": d.place if d else None,
    }


async def _validate(conn: asyncpg.Connection, body: RequestCreate, affected: list[str]) -> None:
    errors: dict[str, str] = {}
    if body.requesting_country not in affected:
        errors["requesting_country"] = f"not among the emergency's countries {affected}"
    units = await matching_store.type_units(conn, [n.resource_type for n in body.needs])
    for i, need in enumerate(body.needs):
        if need.resource_type not in units:
            errors[f"needs.{i}.resource_type"] = credentials.unknown_type(need.resource_type)
    if errors:
        raise Invalid(f"the request has {len(errors)} problem(s)", errors=errors)


async def amend(
    *, pool: asyncpg.Pool, who: Principal, request_id: str, need_id: str, body: NeedUpdate
) -> Need:
    """Change quantity, priority or deadline, or cancel; history keeps every version."""
    released = await retrying(lambda: _amend(pool, who, request_id, need_id, body))
    item_ids = [m.offer_item_id for m in released]
    await matching.rematch(pool=pool, need_ids=[need_id], item_ids=item_ids, actor=who.actor)
    async with pool.acquire() as conn:
        return (await store.pictures(conn, need_ids=[need_id]))[0]


async def _amend(
    pool: asyncpg.Pool, who: Principal, request_id: str, need_id: str, body: NeedUpdate
) -> list[Match]:
    async with transaction(pool) as conn:
        need = await store.lock_need(conn, request_id, need_id)
        if need is None:
            raise NotFound(f"no need {need_id!r} in request {request_id!r}")
        authorize(who, "need.update", [need["requesting_country"]])
        if need["status"] == "cancelled":
            raise Conflict("the need is cancelled", extra={"current_status": "cancelled"})
        fields = {k: need[k] for k in ("quantity", "priority", "needed_by", "status")}
        fields.update(body.model_dump(exclude_unset=True))
        if fields["quantity"] < need["allocated"]:
            raise Conflict(
                f"{need['allocated']} are already accepted; the quantity cannot go below that",
                extra={"accepted": need["allocated"]},
            )
        released: list[Match] = []
        if fields["status"] == "cancelled":
            released = await _release(conn, need_id, who)
        await store.update_need(conn, need_id, who.actor, **fields)
        reason = "need cancelled" if fields["status"] == "cancelled" else "need amended"
        await engine.settle(conn, need_ids=[need_id], actor=who.actor, reason=reason)
        picture = (await store.pictures(conn, need_ids=[need_id]))[0]
        events.record(
            conn,
            kind="need.updated",
            actor=who.actor,
            emergency_id=need["emergency_id"],
            data=picture.model_dump(mode="json"),
        )
        await circulation.circulate(
            conn,
            request_id=request_id,
            change="need_cancelled" if fields["status"] == "cancelled" else "need_amended",
            need_id=need_id,
            actor=who.actor,
        )
        return released


async def _release(conn: asyncpg.Connection, need_id: str, who: Principal) -> list[Match]:
    """Give back the allocations of a cancelled need that nothing has moved yet."""
    live = [match_from_row(r) for r in await conn.fetch(matching_q.need_live_allocations, need_id)]
    await conn.fetch(matching_q.lock_items_by_id, sorted({m.offer_item_id for m in live}))
    return await matching.release(conn, live, reason="need cancelled", actor=who.actor)


async def get(*, conn: asyncpg.Connection, request_id: str) -> Request:
    """The RFA, each need with the nations that could fill it (from their capacities)."""
    request = await _get(conn, request_id)
    found = await capacities.likely_providers(conn, request.needs)
    for need in request.needs:
        need.likely_providers = found.get(need.id, [])
    return request


async def _get(conn: asyncpg.Connection, request_id: str) -> Request:
    request = await store.get_request(conn, request_id)
    if request is None:
        raise NotFound(f"no request {request_id!r}")
    return request
