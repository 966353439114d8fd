"""RFA rules. Each public function owns one transaction; an amendment re-plans in
it (see matching.service.replan)."""

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
from eadrcc.matching import allocation, engine, scoring
from eadrcc.matching import service as matching
from eadrcc.matching import store as matching_store
from eadrcc.matching.models import Match
from eadrcc.matching.store import match as match_from_row
from eadrcc.matching.store import q as matching_q
from eadrcc.policy import authorize, match_audience, visible
from eadrcc.requests import store
from eadrcc.requests.models import Alternative, Need, NeedUpdate, Request, RequestCreate

log = structlog.get_logger(__name__)
EVERYONE = ["*"]
ALTERNATIVES = 3  # listed per need: enough choice for the officer, never counted
ALTERNATIVE_SHORTLIST = 10  # candidates scored per need to pick them


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
        await engine.plan(conn, need_ids=[r["id"] for r in rows], actor=who.actor)
        await circulation.circulate(conn, request_id=request_id, change="filed", actor=who.actor)
        request = await _get(conn, request_id)
        answer = request.model_dump(mode="json")
        if idempotency_key:
            idempotency.remember(
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
    freed = await retrying(lambda: _amend(pool, who, request_id, need_id, body))
    await freed.finish(pool, who.actor)
    async with pool.acquire() as conn:
        return (await store.pictures(conn, need_ids=[need_id]))[0]


async def _amend(
    pool: asyncpg.Pool, who: Principal, request_id: str, need_id: str, body: NeedUpdate
) -> matching.Replanned:
    """Amends, then plans in the same transaction what the need and the items that
    got room back (released or fitted) can now be proposed."""
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
        cancel = fields["status"] == "cancelled"
        live = [] if not cancel else await _live_allocations(conn, need_id)
        await allocation.lock(
            conn, need_ids=[need_id], item_ids=[m.offer_item_id for m in live], other_sides=True
        )
        released = await matching.release(conn, live, reason="need cancelled", actor=who.actor)
        # Proposals shrink (lowest scores first) to the new quantity before it is set.
        shrink = need["quantity"] if cancel else max(need["quantity"] - fields["quantity"], 0)
        reason = "need cancelled" if cancel else "need amended"
        fitted = await allocation.fit(conn, need_ids=[need_id], reserve=shrink, reason=reason)
        engine.emit_fitted(conn, fitted, who.actor)
        await store.update_need(
            conn,
            need_id,
            who.actor,
            quantity=fields["quantity"],
            priority=fields["priority"],
            needed_by=fields["needed_by"],
            status=fields["status"],
        )
        picture = (await store.pictures(conn, need_ids=[need_id]))[0]
        events.record(
            conn,
            kind="need.updated",
            actor=who.actor,
            emergency_id=need["emergency_id"],
            data=for_everyone(picture),
        )
        await circulation.circulate(
            conn,
            request_id=request_id,
            change="need_cancelled" if fields["status"] == "cancelled" else "need_amended",
            need_id=need_id,
            actor=who.actor,
        )
        # Last: planning may take rows out of the lock order (never waiting for them).
        item_ids = [m.offer_item_id for m in [*released, *fitted]]
        return await matching.replan(conn, need_ids=[need_id], item_ids=item_ids, actor=who.actor)


async def _live_allocations(conn: asyncpg.Connection, need_id: str) -> list[Match]:
    """Accepted matches of a need that nothing has moved yet (a cancel gives them back)."""
    rows = await conn.fetch(*matching_q.bind("need_live_allocations", need_id=need_id))
    return [match_from_row(r) for r in rows]


async def get(
    *, conn: asyncpg.Connection, request_id: str, who: Principal | None = None
) -> Request:
    """The RFA with each need's picture and the nations that could fill it (from their
    capacities); for `who`, with the alternatives they may see."""
    request = await _get(conn, request_id)
    found = await capacities.likely_providers(conn, request.needs)
    for need in request.needs:
        need.likely_providers = found.get(need.id, [])
    if who is None:
        return request
    await _add_alternatives(conn, request)
    return seen_by(who, request)


async def emergency_requests(
    *, conn: asyncpg.Connection, emergency_id: str, who: Principal
) -> list[Request]:
    return [seen_by(who, r) for r in await store.emergency_requests(conn, emergency_id)]


def seen_by(who: Principal, request: Request) -> Request:
    """Only the nations' help `who` may see: dispatches, duplicate pairs and
    alternatives name offering nations (the counts and flags are for everyone)."""

    def sees(country: str) -> bool:
        return visible(who, match_audience(country, request.requesting_country))

    needs = [
        n.model_copy(
            update={
                "dispatches": [d for d in n.dispatches if sees(d.offering_country)],
                "duplicates": [d for d in n.duplicates if sees(d.offering_country)],
                "alternatives": [a for a in n.alternatives if sees(a.offering_country)],
            }
        )
        for n in request.needs
    ]
    return request.model_copy(update={"needs": needs})


def for_everyone(need: Need) -> dict[str, Any]:
    """A need's picture as events carry it to every audience: counts and flags,
    without the lists that name offering nations."""
    return need.model_dump(mode="json", exclude={"dispatches", "duplicates", "alternatives"})


async def _add_alternatives(conn: asyncpg.Connection, request: Request) -> None:
    lacking = [n for n in request.needs if n.status == "open" and n.uncovered]
    rows = await store.alternatives(conn, [n.id for n in lacking], ALTERNATIVE_SHORTLIST)
    scored: dict[str, list[Alternative]] = {}
    for r in rows:
        s = scoring.score(
            scoring.NeedView(
                r["priority"], r["needed_by"], r["delivery_lat"], r["delivery_lon"], r["room"]
            ),
            scoring.ItemView(
                r["available_from"],
                r["origin_lat"],
                r["origin_lon"],
                r["available"],
                tuple(r["credentials"]),
                r["self_sufficient"],
            ),
        )
        scored.setdefault(r["need_id"], []).append(
            Alternative.model_validate({**dict(r), "score": s.total, "eta": s.eta})
        )
    for i, need in enumerate(request.needs):
        best = sorted(scored.get(need.id, []), key=lambda a: (-a.score, a.offer_item_id))
        request.needs[i] = need.model_copy(update={"alternatives": best[:ALTERNATIVES]})


async def _get(conn: asyncpg.Connection, request_id: str) -> Request:
    request = await store.get_request(conn, request_id)
    if request is None:
        raise NotFound(f"no request {request_id!r}")
    return request
