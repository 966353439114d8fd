"""Offers' SQL: one function per query; each takes a connection (named parameters:
sql/queries/offers.sql writes `:name`, and each call passes them by name)."""

from __future__ import annotations

from typing import Any

import asyncpg

from eadrcc.db import queries
from eadrcc.offers.models import Offer, OfferCreate, OfferItem

q = queries("offers")


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
) -> Offer:
    """Store the offer and its items (duplicates across channels flagged); the stored
    offer, in one round trip."""
    items = body.items
    row = await conn.fetchrow(
        *q.bind(
            "create_offer",
            id=offer_id,
            emergency_id=body.emergency_id,
            request_id=body.request_id,
            offering_country=body.offering_country,
            channel=body.channel,
            notes=body.notes,
            actor=actor,
            item_ids=item_ids,
            types=[i.resource_type for i in items],
            quantities=[i.quantity for i in items],
            available_from=[i.available_from for i in items],
            lats=[i.origin.lat if i.origin else None for i in items],
            lons=[i.origin.lon if i.origin else None for i in items],
            self_sufficient=[i.self_sufficient for i in items],
            credentials=[",".join(i.credentials) for i in items],
        )
    )
    return Offer.model_validate({**row["offer"], "items": [_item(i) for i in row["items"]]})


async def facts(
    conn: asyncpg.Connection,
    *,
    emergency_id: str,
    country: str,
    types: list[str],
    credentials: list[str],
    request_id: str | None,
) -> asyncpg.Record:
    """What validating an offer needs (see offer_facts), in one round trip."""
    row: asyncpg.Record = await conn.fetchrow(
        *q.bind(
            "offer_facts",
            emergency_id=emergency_id,
            country=country,
            types=types,
            credentials=credentials,
            request_id=request_id,
        )
    )
    return row


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
