"""Subscriptions' SQL: one function per query; each takes a connection (named
parameters: sql/queries/subscriptions.sql writes `:name`, and each call passes them by
name)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from eadrcc.db import queries

q = queries("subscriptions")


async def insert(
    conn: asyncpg.Connection,
    *,
    id: str,
    audience: str,
    country: str | None,
    kind: str,
    url: str | None,
    address: str | None,
    events: list[str],
    language: str,
    secret: str | None,
    owner_token_id: str | None,
    created_by: str,
) -> asyncpg.Record:
    record: asyncpg.Record = await conn.fetchrow(
        *q.bind(
            "insert",
            id=id,
            audience=audience,
            country=country,
            kind=kind,
            url=url,
            address=address,
            events=events,
            language=language,
            secret=secret,
            owner_token_id=owner_token_id,
            created_by=created_by,
        )
    )
    return record


async def get(conn: asyncpg.Connection, subscription_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(*q.bind("get", id=subscription_id))
    return row


async def get_for_update(conn: asyncpg.Connection, subscription_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(*q.bind("get_for_update", id=subscription_id))
    return row


async def resume(
    conn: asyncpg.Connection, subscription_id: str, *, skip: bool
) -> asyncpg.Record | None:
    """Back to active (None if it was not suspended); `skip`: from the log's head."""
    row: asyncpg.Record | None = await conn.fetchrow(
        *q.bind("resume", id=subscription_id, skip=skip)
    )
    return row


async def list_all(
    conn: asyncpg.Connection, *, country: str | None, owner: str | None
) -> list[asyncpg.Record]:
    return list(await conn.fetch(*q.bind("list_all", country=country, owner=owner)))


async def delete(conn: asyncpg.Connection, subscription_id: str) -> bool:
    return await conn.fetchval(*q.bind("delete", id=subscription_id)) is not None


async def deliveries(
    conn: asyncpg.Connection, subscription_id: str, limit: int
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(*q.bind("deliveries", subscription_id=subscription_id, limit=limit))
    )


async def channels(conn: asyncpg.Connection, country: str | None) -> list[asyncpg.Record]:
    return list(await conn.fetch(*q.bind("channels", country=country)))


# ---- the worker's side -------------------------------------------------------------


async def claim(
    conn: asyncpg.Connection, holder: str, limit: int, lease_seconds: float
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(*q.bind("claim", holder=holder, limit=limit, lease_seconds=lease_seconds))
    )


async def renew(conn: asyncpg.Connection, holder: str, lease_seconds: float) -> set[str]:
    return {
        r["id"]
        for r in await conn.fetch(*q.bind("renew", holder=holder, lease_seconds=lease_seconds))
    }


async def release(conn: asyncpg.Connection, holder: str) -> None:
    await conn.execute(*q.bind("release", holder=holder))


async def pending_events(
    conn: asyncpg.Connection,
    *,
    after: int,
    audience: list[str] | None,
    prefixes: list[str],
    until: int | None,
    limit: int,
) -> tuple[int, list[dict[str, Any]]]:
    """(head, events after `after` the subscription should receive), one snapshot."""
    row = await conn.fetchrow(
        *q.bind(
            "pending_events",
            after=after,
            audience=audience,
            prefixes=prefixes,
            until=until,
            limit=limit,
        )
    )
    events = row["events"]
    for event in events:  # as the /ws reader has them: `at` a datetime
        event["at"] = datetime.fromisoformat(event["at"])
    return row["head"], events


async def delivered(
    conn: asyncpg.Connection,
    *,
    subscription_id: str,
    holder: str,
    cursor: int,
    log: list[tuple[int, int, int, float, datetime]],
) -> bool:
    """Advance the cursor and log the deliveries; False if the lease is no longer ours."""
    seqs, firsts, attempts, latencies, started = (list(c) for c in zip(*log, strict=True))
    count = await conn.fetchval(
        *q.bind(
            "delivered",
            id=subscription_id,
            holder=holder,
            cursor=cursor,
            seqs=seqs,
            first_seqs=firsts,
            attempts=attempts,
            latencies=latencies,
            started=started,
        )
    )
    return bool(count)


async def failed(
    conn: asyncpg.Connection,
    *,
    subscription_id: str,
    holder: str,
    first_seq: int,
    seq: int,
    error: str,
    next_attempt_at: datetime,
    latency_ms: float | None,
) -> asyncpg.Record | None:
    """Record a failed attempt; None if the lease is no longer ours."""
    row: asyncpg.Record | None = await conn.fetchrow(
        *q.bind(
            "failed",
            id=subscription_id,
            holder=holder,
            first_seq=first_seq,
            seq=seq,
            error=error,
            next_attempt_at=next_attempt_at,
            latency_ms=latency_ms,
        )
    )
    return row


async def suspend(
    conn: asyncpg.Connection, subscription_id: str, holder: str
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        *q.bind("suspend", id=subscription_id, holder=holder)
    )
    return row


async def prune_deliveries(conn: asyncpg.Connection, days: int) -> None:
    await conn.execute(*q.bind("prune_deliveries", days=days))


async def emergency_titles(conn: asyncpg.Connection, ids: list[str]) -> dict[str, tuple[str, bool]]:
    rows = await conn.fetch(*q.bind("emergency_titles", ids=ids))
    return {r["id"]: (r["title"], r["exercise"]) for r in rows}
