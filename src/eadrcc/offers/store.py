"""Offers' SQL: one function per query; each takes a connection (named parameters:
sql/queries/offers.sql writes `:name`, and each call passes them by name)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args

import asyncpg

from eadrcc import jsontext
from eadrcc.db import literal, queries, with_commit
from eadrcc.offers.models import Channel, Offer, OfferCreate, OfferItem

q = queries("offers")
CHANNELS: tuple[str, ...] = get_args(Channel)


def _item(row: asyncpg.Record | dict[str, Any]) -> OfferItem:
    data: dict[str, Any] = dict(row)
    lat, lon = data.pop("origin_lat"), data.pop("origin_lon")
    data["origin"] = {"lat": lat, "lon": lon} if lat is not None else None
    return OfferItem.model_validate(data)


async def create(
    conn: asyncpg.Connection,
    *,
    offer_id: str,
    body: OfferCreate,
    item_ids: list[str],
    actor: str,
    now: datetime,
) -> Offer:
    """Store the offer and its items (duplicates across channels flagged), in one
    round trip; `now` is the transaction's time (offer_facts). Returns it as stored."""
    (offer,) = await create_each(conn, [(offer_id, body, item_ids, actor, now)])
    return offer


NewOffer = tuple[str, OfferCreate, list[str], str, datetime]


async def create_each(conn: asyncpg.Connection, offers: list[NewOffer]) -> list[Offer]:
    """`create` for each (offer id, body, item ids, actor, now), in this order and in
    one round trip, as if one after another: an item may be flagged a duplicate of an
    earlier one's. One statement stores them all, unless one of them could be (the
    same help through two channels): then each goes in a statement of its own, which
    sees those before it."""
    if may_duplicate_each_other(offers):
        values = [_create_values([offer], store=True) for offer in offers]
        rows = await conn.fetchmany(*q.bind_each("create_offers", values))
    else:
        rows = await conn.fetch(*q.bind("create_offers", **_create_values(offers, store=True)))
    return _built(offers, rows)


async def create_with_commit(conn: asyncpg.Connection, offers: list[NewOffer]) -> list[Offer]:
    """These offers as `create_each` would store them, their duplicate flags looked
    up now, stored with the transaction's COMMIT, after the proposals planned on them
    (engine.plan_on_commit) are known: each item is written once, its `proposed`
    counter holding them already (store_new_offers, migration 0026). Only for offers
    that cannot flag each other (not `may_duplicate_each_other`). Anything that reads
    their rows before the COMMIT must call `store_now` first."""
    rows = await conn.fetch(*q.bind("create_offers", **_create_values(offers, store=False)))
    stored = _built(offers, rows)
    state = with_commit(conn, _new_offers_sql)
    new = state.setdefault("new_offers", ([], []))
    for (_, _, _, actor, _), offer in zip(offers, stored, strict=True):
        offer_json, items_json = _columns_of(offer, actor)
        new[0].append(offer_json)
        new[1].extend(items_json)
    return stored


async def store_now(conn: asyncpg.Connection) -> None:
    """Store at once what `create_with_commit` kept for the COMMIT (nothing counted:
    the proposals queued meanwhile are written, and counted, as usual)."""
    state = with_commit(conn, _new_offers_sql)
    if new := state.pop("new_offers", None):
        offers, items = new
        await conn.execute(_store_sql(offers, items, []))


def _new_offers_sql(state: dict[str, Any]) -> str | None:
    """The COMMIT's: the offers kept, with the proposals planned on them, which then
    no longer go on their own (engine's write_planned_proposals)."""
    new = state.pop("new_offers", None)
    if not new:
        return None
    offers, items = new
    return _store_sql(offers, items, state.pop("planned", None) or [])


def _store_sql(
    offers: list[dict[str, Any]], items: list[dict[str, Any]], planned: list[dict[str, Any]]
) -> str:
    values = (literal(jsontext.dumps(v)) + "::jsonb" for v in (offers, items, planned))
    return f"SELECT store_new_offers({', '.join(values)})"


def _columns_of(offer: Offer, actor: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """store_new_offers' columns of an offer and of its items."""
    row = {
        "id": offer.id,
        "emergency_id": offer.emergency_id,
        "request_id": offer.request_id,
        "offering_country": offer.offering_country,
        "channel": offer.channel,
        "notes": offer.notes,
        "created_by": actor,
    }
    items = [
        {
            "id": i.id,
            "offer_id": offer.id,
            "emergency_id": offer.emergency_id,
            "offering_country": offer.offering_country,
            "channel": offer.channel,
            "resource_type": i.resource_type,
            "quantity": i.quantity,
            "available_from": i.available_from,
            "origin_lat": i.origin.lat if i.origin else None,
            "origin_lon": i.origin.lon if i.origin else None,
            "self_sufficient": i.self_sufficient,
            "credentials": ",".join(i.credentials),
            "position": position,
            "possible_duplicate_of": i.possible_duplicate_of,
        }
        for position, i in enumerate(offer.items, 1)
    ]
    return row, items


def _built(offers: list[NewOffer], rows: list[asyncpg.Record]) -> list[Offer]:
    flagged = {row["id"]: row["possible_duplicate_of"] for row in rows}
    return [
        _stored(offer_id, body, item_ids, now, [flagged.get(i) for i in item_ids])
        for offer_id, body, item_ids, _, now in offers
    ]


def may_duplicate_each_other(offers: list[NewOffer]) -> bool:
    """Do two of these offers hold the same help (emergency, nation, type, quantity)
    through different channels? (An offer has one channel: its items never do.)"""
    channels: dict[tuple[str, str, str, int], str] = {}
    for _, body, _, _, _ in offers:
        for item in body.items:
            key = (body.emergency_id, body.offering_country, item.resource_type, item.quantity)
            if channels.setdefault(key, body.channel) != body.channel:
                return True
    return False


# create_offers' parameters: one array per column, the offers' and their items'.
_OFFER_COLUMNS = (
    "ids", "emergency_ids", "request_ids", "countries", "channels_given", "notes", "actors"
)  # fmt: skip
_ITEM_COLUMNS = (
    "item_ids", "item_offers", "item_emergencies", "item_countries", "item_channels",
    "types", "quantities", "available_from", "lats", "lons", "self_sufficient",
    "credentials", "positions",
)  # fmt: skip


def _create_values(offers: list[NewOffer], *, store: bool) -> dict[str, Any]:
    """create_offers' parameters for these offers, their items flattened."""
    offer_rows = []
    item_rows = []
    for offer_id, body, item_ids, actor, _ in offers:
        emergency, country, channel = body.emergency_id, body.offering_country, body.channel
        offer_rows.append(
            (offer_id, emergency, body.request_id, country, channel, body.notes, actor)
        )
        for position, (item_id, i) in enumerate(zip(item_ids, body.items, strict=True), 1):
            item_rows.append((
                item_id, offer_id, emergency, country, channel, i.resource_type, i.quantity,
                i.available_from, i.origin.lat if i.origin else None,
                i.origin.lon if i.origin else None, i.self_sufficient,
                ",".join(i.credentials), position,
            ))  # fmt: skip
    return {
        **_columns(_OFFER_COLUMNS, offer_rows),
        **_columns(_ITEM_COLUMNS, item_rows),
        "channels": list(CHANNELS),
        "store": store,
    }


def _columns(names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> dict[str, list[Any]]:
    columns = list(zip(*rows, strict=True)) or [()] * len(names)
    return {name: list(column) for name, column in zip(names, columns, strict=True)}


def _stored(
    offer_id: str,
    body: OfferCreate,
    item_ids: list[str],
    created_at: datetime,
    duplicates: list[str | None],
) -> Offer:
    """The offer as create_offers stored it, without reading it back: what was sent
    (times in UTC, as PostgreSQL gives them back), the ids and the transaction's time
    given, the tables' defaults (open, nothing allocated), and the duplicate flags.
    (Validating these costs pydantic less than its unvalidated `model_construct`.)"""
    items = [
        OfferItem(
            id=item_id,
            resource_type=i.resource_type,
            quantity=i.quantity,
            allocated=0,
            available_from=i.available_from.astimezone(UTC),
            origin=i.origin,
            self_sufficient=i.self_sufficient,
            credentials=list(i.credentials),
            possible_duplicate_of=duplicate,
            status="open",
        )
        for item_id, i, duplicate in zip(item_ids, body.items, duplicates, strict=True)
    ]
    return Offer(
        id=offer_id,
        emergency_id=body.emergency_id,
        request_id=body.request_id,
        offering_country=body.offering_country,
        channel=body.channel,
        notes=body.notes,
        status="open",
        created_at=created_at,
        withdrawn_at=None,
        items=items,
    )


async def facts(conn: asyncpg.Connection, body: OfferCreate) -> asyncpg.Record:
    """What validating an offer needs (see offer_facts), in one round trip."""
    row: asyncpg.Record = await conn.fetchrow(*q.bind("offer_facts", **_facts_values(body)))
    return row


async def facts_each(conn: asyncpg.Connection, bodies: list[OfferCreate]) -> list[asyncpg.Record]:
    """`facts` for each offer, in one round trip. Offers of one emergency, nation and
    request share one reading, with their types and credentials read together: a
    batch's offers come mostly from a few nations, and each reading costs PostgreSQL
    as much as the offer's insert. (Units and credentials are looked up by code, so
    reading more of them than an offer named changes nothing for it.)"""
    shared: dict[tuple[str, str, str | None], dict[str, Any]] = {}
    keys = []
    for body in bodies:
        key = (body.emergency_id, body.offering_country, body.request_id)
        keys.append(key)
        values = _facts_values(body)
        if (reading := shared.get(key)) is None:
            shared[key] = values
        else:
            reading["types"] = sorted({*reading["types"], *values["types"]})
            reading["credentials"] = sorted({*reading["credentials"], *values["credentials"]})
    rows = await conn.fetchmany(*q.bind_each("offer_facts", list(shared.values())))
    read = dict(zip(shared, rows, strict=True))
    return [read[key] for key in keys]


def _facts_values(body: OfferCreate) -> dict[str, Any]:
    return {
        "emergency_id": body.emergency_id,
        "country": body.offering_country,
        "types": [i.resource_type for i in body.items],
        "credentials": sorted({c for i in body.items for c in i.credentials}),
        "request_id": body.request_id,
    }


async def get(conn: asyncpg.Connection, offer_id: str, *, lock: bool = False) -> Offer | None:
    row = await conn.fetchrow(*q.bind("lock_offer" if lock else "get_offer", id=offer_id))
    if row is None:
        return None
    return Offer.model_validate({**dict(row), "items": await _items(conn, offer_id)})


async def _items(conn: asyncpg.Connection, offer_id: str) -> list[OfferItem]:
    return [_item(r) for r in await conn.fetch(*q.bind("offer_items", offer_id=offer_id))]


async def emergency_offers(
    conn: asyncpg.Connection,
    emergency_id: str,
    *,
    audience: list[str] | None,
    affected: list[str],
) -> list[Offer]:
    """The emergency's offers whose audience (policy.offer_audience) meets `audience`."""
    rows = await conn.fetch(
        *q.bind("emergency_offers", emergency_id=emergency_id, audience=audience, affected=affected)
    )
    return [Offer.model_validate({**dict(r), "items": await _items(conn, r["id"])}) for r in rows]
