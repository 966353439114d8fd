"""Subscription rules: who may subscribe to whose view, and what a valid one is."""

from __future__ import annotations

import re
import secrets
from typing import Any

import asyncpg
import structlog

from eadrcc.auth import Principal, Role
from eadrcc.db import transaction
from eadrcc.errors import Conflict, Forbidden, Invalid, NotFound
from eadrcc.events import log as events
from eadrcc.ids import new_id
from eadrcc.partners import store as partners
from eadrcc.policy import STAFF, authorize
from eadrcc.subscriptions import store
from eadrcc.subscriptions.models import (
    Channel,
    Delivery,
    Subscription,
    SubscriptionCreate,
    SubscriptionCreated,
)
from eadrcc.subscriptions.outbound import Guard, Refused, parse_webhook_url

log = structlog.get_logger(__name__)
# Deliberately plain: one @, no spaces or line breaks (an address ends up in a
# mail header), a dot in the domain.
ADDRESS = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def subscriber_principal(row: asyncpg.Record | dict[str, Any]) -> Principal:
    """The principal whose /ws view a subscription receives: a POC of its country,
    staff, or an integration. Deliveries ask policy's one visibility rule of it."""
    if row["audience"] == "poc":
        return Principal.for_country(row["country"])
    if row["audience"] == "staff":
        return Principal.staff_view()
    return Principal(f"view:integration:{row['id']}", "integration view", Role.INTEGRATION)


async def create(
    *, pool: asyncpg.Pool, who: Principal, body: SubscriptionCreate, guard: Guard
) -> SubscriptionCreated:
    country = body.country
    if who.role is Role.POC and country is None:
        country = who.country  # a POC's subscription is its own country's view
    authorize(who, "subscription.create", [country] if country else [])
    if who.role is Role.INTEGRATION and country is not None:
        raise Forbidden("an integration acts for no country; omit `country`")
    audience = _audience(who, country)
    url, address = await _target(body, guard)
    secret = secrets.token_urlsafe(32) if body.kind == "webhook" else None
    async with transaction(pool) as conn:
        if country is not None and await partners.get(conn, country) is None:
            raise Invalid("unknown country", errors={"country": "not an ally or partner"})
        row = await store.insert(
            conn,
            id=new_id("sub"),
            audience=audience,
            country=country,
            kind=body.kind,
            events=body.events,
            language=body.language,
            secret=secret,
            owner_token_id=who.token_id,
            created_by=who.actor,
            url=url,
            address=address,
        )
    log.info("subscription_created", subscription_id=row["id"], kind=body.kind, country=country)
    return SubscriptionCreated.model_validate({**dict(row), "secret": secret})


def _audience(who: Principal, country: str | None) -> str:
    if country is not None:
        return "poc"
    return "integration" if who.role is Role.INTEGRATION else "staff"


async def _target(body: SubscriptionCreate, guard: Guard) -> tuple[str | None, str | None]:
    """(url, address): one of them, checked; 422 naming the field otherwise."""
    if body.kind == "webhook":
        if body.address is not None:
            raise Invalid("a webhook has no address", errors={"address": "only for e-mail"})
        if not body.url:
            raise Invalid("a webhook needs a url", errors={"url": "required for a webhook"})
        try:
            parse_webhook_url(body.url)
            await guard.check_url(body.url)
        except Refused as exc:
            raise Invalid(f"url refused: {exc}", errors={"url": str(exc)}) from None
        return body.url, None
    if body.url is not None:
        raise Invalid("an e-mail subscription has no url", errors={"url": "only for webhook"})
    if not body.address or not ADDRESS.match(body.address):
        raise Invalid("a valid e-mail address is needed", errors={"address": "not an address"})
    return None, body.address


async def list_for(
    *, conn: asyncpg.Connection, who: Principal, country: str | None
) -> list[Subscription]:
    authorize(who, "subscription.read", [country or who.country or ""])
    owner = who.token_id if who.role is Role.INTEGRATION else None
    if who.role is Role.POC:
        if country not in (None, who.country):
            raise Forbidden("a poc reads its own country's subscriptions only")
        country = who.country
    rows = await store.list_all(conn, country=country, owner=owner)
    return [Subscription.model_validate(dict(r)) for r in rows]


async def get_visible(
    *, conn: asyncpg.Connection, who: Principal, subscription_id: str
) -> asyncpg.Record:
    """The subscription if the caller may read it: 403 for a role that never may,
    404 for one it may not see (another nation's, another integration's)."""
    authorize(who, "subscription.read", [who.country] if who.country else [])
    row = await store.get(conn, subscription_id)
    if row is None or not _owns(who, row):
        raise NotFound(f"no subscription {subscription_id!r}")
    return row


def _owns(who: Principal, row: asyncpg.Record) -> bool:
    if who.role is Role.POC:
        return bool(row["country"] == who.country)
    if who.role is Role.INTEGRATION:
        return bool(row["owner_token_id"] == who.token_id)
    return who.role in STAFF


async def delete(*, pool: asyncpg.Pool, who: Principal, subscription_id: str) -> None:
    async with transaction(pool) as conn:
        row = await store.get(conn, subscription_id)
        if row is None:
            raise NotFound(f"no subscription {subscription_id!r}")
        authorize(who, "subscription.delete", [row["country"]] if row["country"] else [])
        if not _owns(who, row):
            raise Forbidden("not a subscription of the caller's")
        await store.delete(conn, subscription_id)
    log.info("subscription_deleted", subscription_id=subscription_id, who=who.actor)


RESUMED = "subscription.resumed"


async def resume(
    *, pool: asyncpg.Pool, who: Principal, subscription_id: str, skip: bool
) -> Subscription:
    """A suspended subscription delivers again: from its cursor (nothing it missed
    is lost, nothing it acknowledged is repeated) or, with `skip`, from the head.
    Staff are told by a `subscription.resumed` event, written in the same transaction."""
    async with transaction(pool) as conn:
        row = await store.get_for_update(conn, subscription_id)
        if row is None:
            raise NotFound(f"no subscription {subscription_id!r}")
        authorize(who, "subscription.resume", [row["country"]] if row["country"] else [])
        if not _owns(who, row):
            raise Forbidden("not a subscription of the caller's")
        if row["status"] != "suspended":
            raise Conflict(f"subscription {subscription_id!r} is not suspended")
        resumed = await store.resume(conn, subscription_id, skip=skip)
        assert resumed is not None  # locked above and suspended
        events.record(
            conn,
            kind=RESUMED,
            actor=who.actor,
            visibility=(),  # staff only, as its suspension was
            data={
                "id": subscription_id,
                "country": row["country"],
                "kind": row["kind"],
                "from": "head" if skip else "cursor",
                "previous_cursor": row["cursor"],
                "cursor": resumed["cursor"],
            },
        )
    log.info(
        "subscription_resumed",
        subscription_id=subscription_id,
        who=who.actor,
        skipped=resumed["cursor"] - row["cursor"],
    )
    return Subscription.model_validate(dict(resumed))


async def deliveries(
    *, conn: asyncpg.Connection, who: Principal, subscription_id: str, limit: int
) -> list[Delivery]:
    await get_visible(conn=conn, who=who, subscription_id=subscription_id)
    rows = await store.deliveries(conn, subscription_id, limit)
    return [Delivery.model_validate(dict(r)) for r in rows]


async def channels(*, conn: asyncpg.Connection, who: Principal) -> list[Channel]:
    """Per nation, whether it has a working channel (a POC sees its own row)."""
    authorize(who, "channel.read", [who.country] if who.country else [])
    country = who.country if who.role is Role.POC else None
    return [Channel.model_validate(dict(r)) for r in await store.channels(conn, country)]
