"""EDXL-RM import and export. Imports read what they need, then hand the body to the
RFA and offer services, which own every rule, permission, event and transaction."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import asyncpg

from eadrcc.auth import Principal
from eadrcc.edxl import convert, mapping, parse, render, store
from eadrcc.edxl.mapping import TypeResolver
from eadrcc.edxl.models import ImportQuery, Message
from eadrcc.emergencies import service as emergencies
from eadrcc.errors import Conflict, Invalid, NotFound
from eadrcc.matching import service as matching
from eadrcc.matching import store as matching_store
from eadrcc.offers import service as offers
from eadrcc.parsepool import ParsePool
from eadrcc.policy import authorize
from eadrcc.requests import service as requests
from eadrcc.requests import store as requests_store

_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")  # what an Idempotency-Key may be
COMMITTED = ("accepted", "in_transit", "delivered")


async def import_message(
    *, pool: asyncpg.Pool, parser: ParsePool, who: Principal, raw: bytes, query: ImportQuery
) -> tuple[int, dict[str, Any]]:
    """An RFA from a RequestResource, an offer from an OfferUnsolicitedResource or
    ResponseToRequestResource; (status, our JSON with an `edxl` receipt). A large
    message is read in the parse pool, off the event loop."""
    msg = await parser.run(parse.read, raw)
    if msg.kind == "RequestResource":
        status, answer = await _import_request(pool, who, msg, query)
    elif msg.kind == "CommitResource":
        raise Invalid(
            "CommitResource is not imported: allocations are accepted in the hub",
            errors={
                "root": "send RequestResource, OfferUnsolicitedResource or "
                "ResponseToRequestResource"
            },
        )
    else:
        status, answer = await _import_offer(pool, who, msg, query)
    receipt = {
        "message_id": msg.message_id,
        "message_type": msg.kind,
        "idempotency_key": idempotency_key(msg.message_id or ""),
    }
    return status, {**answer, "edxl": receipt}


def idempotency_key(message_id: str) -> str:
    """The MessageID as an Idempotency-Key; hashed when it is not one a header could carry."""
    key = f"edxl-rm:{message_id}"
    if _KEY.match(key):
        return key
    return f"edxl-rm:sha256:{hashlib.sha256(message_id.encode()).hexdigest()}"


async def _import_request(
    pool: asyncpg.Pool, who: Principal, msg: Message, query: ImportQuery
) -> tuple[int, Any]:
    if query.emergency_id is None:
        raise Invalid(
            "which emergency is this RFA for?",
            errors={"emergency_id": "required to import a RequestResource"},
        )
    async with pool.acquire() as conn:
        await _known_emergency(conn, query.emergency_id)
        resolver = await _resolver(conn)
    body = convert.to_request(msg, country=query.requesting_country, resolver=resolver)
    return await requests.create(
        pool=pool,
        who=who,
        emergency_id=query.emergency_id,
        body=body,
        idempotency_key=idempotency_key(msg.message_id or ""),
    )


async def _import_offer(
    pool: asyncpg.Pool, who: Principal, msg: Message, query: ImportQuery
) -> tuple[int, Any]:
    async with pool.acquire() as conn:
        request_id, emergency_id = await _answered_request(conn, msg, query.emergency_id)
        resolver = await _resolver(conn)
    if emergency_id is None:
        raise Invalid(
            "which emergency is this offer for?",
            errors={"emergency_id": "required unless the message answers one of our RFAs"},
        )
    body = convert.to_offer(
        msg,
        emergency_id=emergency_id,
        request_id=request_id,
        country=query.offering_country,
        channel=query.channel,
        resolver=resolver,
    )
    return await offers.create(
        pool=pool, who=who, body=body, idempotency_key=idempotency_key(msg.message_id or "")
    )


async def _answered_request(
    conn: asyncpg.Connection, msg: Message, emergency_id: str | None
) -> tuple[str | None, str | None]:
    """(request id, emergency id) of the RFA a ResponseToRequestResource answers: one we
    exported (urn:eadrcc:request:…) or one imported under that MessageID."""
    if msg.kind != "ResponseToRequestResource":
        return None, emergency_id
    found: tuple[str, str] | None = None
    for field, ref in (
        ("OriginatingMessageID", msg.originating_id),
        ("PrecedingMessageID", msg.preceding_id),
    ):
        ours = mapping.named_object("request", ref)
        if ours is not None:
            emergency = await requests_store.emergency_of(conn, ours)
            if emergency is None:
                raise Invalid("unknown RFA", errors={field: f"{ref!r} names no RFA of this hub"})
            found = (ours, emergency)
        elif ref:
            found = await store.request_by_reference(conn, ref, emergency_id)
        if found:
            break
    if found is None:
        return None, emergency_id
    if emergency_id is not None and found[1] != emergency_id:
        raise Invalid(
            "the message answers an RFA of another emergency",
            errors={"emergency_id": f"{found[0]} belongs to emergency {found[1]}"},
        )
    return found


async def _known_emergency(conn: asyncpg.Connection, emergency_id: str) -> None:
    try:
        await emergencies.get(conn=conn, emergency_id=emergency_id)
    except NotFound:
        raise Invalid("unknown emergency", errors={"emergency_id": "no such emergency"}) from None


async def _resolver(conn: asyncpg.Connection) -> TypeResolver:
    rows = await matching_store.list_types(conn)
    return TypeResolver.build((r["code"], r["name"]) for r in rows)


# ---- export ----------------------------------------------------------------------


async def export_request(*, pool: asyncpg.Pool, who: Principal, request_id: str) -> bytes:
    authorize(who, "request.read")
    async with pool.acquire() as conn:
        req = await requests.get(conn=conn, request_id=request_id)
        if all(n.status == "cancelled" for n in req.needs):
            raise Conflict("every need of this RFA is cancelled: there is nothing to request")
        emergency = await emergencies.get(conn=conn, emergency_id=req.emergency_id)
        types = await _types(conn)
    return render.request_resource(req, emergency, types, _now())


async def export_offer(*, pool: asyncpg.Pool, who: Principal, offer_id: str) -> bytes:
    async with pool.acquire() as conn:
        offer = await offers.get(conn=conn, who=who, offer_id=offer_id)
        if offer.status != "open":
            raise Conflict("the offer is withdrawn", extra={"current_status": offer.status})
        emergency = await emergencies.get(conn=conn, emergency_id=offer.emergency_id)
        types = await _types(conn)
    return render.offer_unsolicited(offer, emergency, types, _now())


async def export_match(*, pool: asyncpg.Pool, who: Principal, match_id: str) -> bytes:
    async with pool.acquire() as conn:
        match = await matching.get(conn=conn, who=who, match_id=match_id)
        if match.status not in COMMITTED:
            raise Conflict(
                f"a {match.status} match commits nothing; accept it first",
                extra={"current_status": match.status},
            )
        need = (await requests_store.pictures(conn, need_ids=[match.need_id]))[0]
        emergency = await emergencies.get(conn=conn, emergency_id=match.emergency_id)
        types = await _types(conn)
    return render.commit_resource(match, need, emergency, types, _now())


async def _types(conn: asyncpg.Connection) -> render.Types:
    rows = await matching_store.list_types(conn)
    return {r["code"]: render.TypeName(r["name"], r["unit"]) for r in rows}


def _now() -> datetime:
    return datetime.now(UTC)
