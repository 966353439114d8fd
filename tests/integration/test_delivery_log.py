"""The delivery log keeps its retention window: the worker's hourly prune drops what
was last attempted before it, and nothing newer (no delivery test runs an hour)."""

from __future__ import annotations

import asyncpg

from eadrcc.subscriptions import store


async def test_pruning_drops_only_deliveries_older_than_the_retention(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        await store.insert(
            conn,
            id="sub_log",
            audience="staff",
            country=None,
            kind="email",
            url=None,
            address="log@example.org",
            events=[],
            language="en",
            secret=None,
            owner_token_id="tok_log",
            created_by="test",
        )
        await conn.execute(
            """INSERT INTO deliveries (subscription_id, seq, first_seq, status, attempts,
                                       first_attempt_at, last_attempt_at)
               SELECT 'sub_log', seq, seq, 'delivered', 1, at, at
               FROM unnest(ARRAY[1, 2, 3]::bigint[],
                           ARRAY[now() - interval '31 days', now() - interval '29 days',
                                 now()]) AS d (seq, at)"""
        )
        await store.prune_deliveries(conn, 30)
        kept = await conn.fetch("SELECT seq FROM deliveries ORDER BY seq")
    assert [r["seq"] for r in kept] == [2, 3]
