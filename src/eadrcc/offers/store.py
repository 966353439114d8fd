from __future__ import annotations

from typing import Any

import asyncpg

from eadrcc.db import queries
from eadrcc.offers.models import Offer, OfferItem

q = queries("offers")


def _item(row: asyncpg.Record) -> OfferItem:
    data: dict[str, Any] = dict(row)
    lat, lon = data.pop("origin_lat"), data.pop("origin_lon")
    data["origin"] = {"lat": lat, "lon": lon} if lat is not None else None
    return OfferItem.model_validate(data)


async def insert(
    conn: asyncpg.Connection, *, offer: dict[str, Any], items: list[dict[str, Any]], actor: str
) -> None:
    await conn.execute(
        q.insert_offer,
        offer["id"],
        offer["emergency_id"],
        offer["request_id"],
        offer["offering_country"],
        offer["channel"],
        offer["notes"],
        actor,
    )
    await conn.execute(
        q.insert_items,
        [i["id"] for i in items],
        offer["id"],
        offer["emergency_id"],
        [i["resource_type"] for i in items],
        [i["quantity"] for i in items],
        [i["available_from"] for i in items],
        [i["origin"]["lat"] if i["origin"] else None for i in items],
        [i["origin"]["lon"] if i["origin"] else None for i in items],
        [i["self_sufficient"] for i in items],
        [",".join(i["credentials"]) for i in items],
    )


async def flag_duplicates(
    conn: asyncpg.Connection, offer_id: str, country: str, channel: str
) -> dict[str, str]:
    rows = await conn.fetch(q.flag_duplicates, offer_id, country, channel)
    return {r["id"]: r["possible_duplicate_of"] for r in rows if r["possible_duplicate_of"]}


async def get(conn: asyncpg.Connection, offer_id: str, *, lock: bool = False) -> Offer | None:
    row = await conn.fetchrow(q.lock_offer if lock else q.get_offer, offer_id)
    if row is None:
        return None
    items = [_item(r) for r in await conn.fetch(q.offer_items, offer_id)]
    return Offer.model_validate({**dict(row), "items": items})


async def emergency_offers(
    conn: asyncpg.Connection,
    emergency_id: str,
    *,
    audience: list[str] | None,
    affected: list[str],
) -> list[Offer]:
    """The emergency's offers whose audience (policy.offer_audience) meets `audience`."""
    rows = await conn.fetch(q.emergency_offers, emergency_id, audience, affected)
    return [
        Offer.model_validate(
            {**dict(r), "items": [_item(i) for i in await conn.fetch(q.offer_items, r["id"])]}
        )
        for r in rows
    ]
