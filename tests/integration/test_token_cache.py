"""The token cache: a second instance that has the token cached stops accepting it
within a second of its revocation (made by the CLI, another process), and takes a
rotated secret as soon; and the cache really answers (else this proves nothing).
When the hub never hears of a change, an entry still expires after its time to live."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from eadrcc import auth, db
from eadrcc.app import create_app
from eadrcc.appkeys import TOKENS
from eadrcc.config import Settings
from eadrcc.errors import Unauthorized
from eadrcc.tokencache import TokenCache
from tests.conftest import bearer
from tests.integration.test_alerts_api import _signed as signed
from tests.integration.test_alerts_api import quake

Client = TestClient  # type: ignore[type-arg]
WITHIN = 1.0  # seconds from the commit


@pytest.fixture
async def two(db_url: str) -> AsyncIterator[list[Client]]:
    # No slow poll to fall back on, and entries trusted for a minute: only the event's
    # NOTIFY can act in time.
    settings = Settings(
        database_url=db_url, event_poll_seconds=60, token_cache_seconds=60, pool_max_size=4
    )
    clients = [TestClient(TestServer(create_app(settings))) for _ in range(2)]
    for c in clients:
        await c.start_server()
    yield clients
    for c in clients:
        await c.close()


async def _cli(db_url: str, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "eadrcc",
        *args,
        env={**os.environ, "DATABASE_URL": db_url},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out
    return out.decode()


async def _issue(pool: asyncpg.Pool, role: str) -> auth.IssuedToken:
    async with db.transaction(pool) as conn:
        return await auth.create(conn=conn, role=auth.Role(role), name=f"cache {role}")


async def _status_until(client: Client, call: object, wanted: int) -> float:
    """Seconds until `call()` answers `wanted` (bounded by WITHIN)."""
    began = time.monotonic()
    async with asyncio.timeout(WITHIN):
        while (await call()) != wanted:  # type: ignore[operator]
            await asyncio.sleep(0.01)
    return time.monotonic() - began


async def test_a_revoked_token_stops_working_on_a_second_instance_within_a_second(
    two: list[Client], pool: asyncpg.Pool, db_url: str
) -> None:
    issued = await _issue(pool, "observer")
    second = two[1]

    async def partners() -> int:
        return (await second.get("/api/v1/partners", headers=bearer(issued.token))).status

    cache = second.server.app[TOKENS]
    hits = cache.counters["token_cache_hits"]
    assert await partners() == 200 and await partners() == 200
    assert cache.counters["token_cache_hits"] > hits  # answered from the cache
    await _cli(db_url, "token", "revoke", issued.id)  # committed when the CLI exits
    await _status_until(second, partners, 401)


async def test_a_rotated_secret_works_on_a_second_instance_within_a_second(
    two: list[Client], pool: asyncpg.Pool, db_url: str
) -> None:
    feed = await _issue(pool, "integration")
    second = two[1]
    n = iter(range(1000))

    def post_with(secret: str) -> object:
        async def post() -> int:
            body = json.dumps(quake(identifier=f"CACHE-{next(n)}")).encode()
            headers = signed(feed.token, secret, body)
            return (await second.post("/api/v1/alerts", data=body, headers=headers)).status

        return post

    assert await post_with(feed.secret or "")() == 201  # the token is cached here now
    new = (await _cli(db_url, "token", "rotate-secret", feed.id)).strip()
    await _status_until(second, post_with(new), 201)


async def test_a_revocation_the_hub_never_hears_of_ends_with_the_entry_s_time_to_live(
    pool: asyncpg.Pool, db_url: str
) -> None:
    ttl = 0.5
    settings = Settings(
        database_url=db_url, event_poll_seconds=60, token_cache_seconds=ttl, pool_max_size=4
    )
    issued = await _issue(pool, "observer")
    async with TestClient(TestServer(create_app(settings))) as client:

        async def partners() -> int:
            return (await client.get("/api/v1/partners", headers=bearer(issued.token))).status

        cache = client.server.app[TOKENS]
        hits = cache.counters["token_cache_hits"]
        async with asyncio.timeout(10):  # until an answer came from the cache
            while cache.counters["token_cache_hits"] == hits:
                assert await partners() == 200
        # Revoked with no token event, as if its notification and every poll were lost.
        await pool.execute("UPDATE tokens SET revoked_at = now() WHERE id = $1", issued.id)
        async with asyncio.timeout(10):  # the time to live is 0.5 s; 10 s allows for load
            while await partners() != 401:
                await asyncio.sleep(0.01)


async def test_requests_that_miss_together_share_one_lookup_of_their_token(
    pool: asyncpg.Pool,
) -> None:
    """A burst with one token finds nothing cached: one lookup answers them all, a
    known token and an unknown one alike; a token event during the lookup makes the
    requests after it look the token up again."""
    issued = await _issue(pool, "observer")
    cache = TokenCache(size=100, live=lambda: True, ttl=60)
    async with asyncio.timeout(10):
        principals = await asyncio.gather(*(cache.principal(pool, issued.token) for _ in range(20)))
    assert {p.token_id for p in principals} == {issued.id}
    assert cache.counters["token_lookups"] == 1

    unknown = "eadrcc_" + "x" * 40
    async with asyncio.timeout(10):
        refused = await asyncio.gather(
            *(cache.principal(pool, unknown) for _ in range(20)), return_exceptions=True
        )
    assert all(isinstance(r, Unauthorized) for r in refused), refused
    assert cache.counters["token_lookups"] == 2

    other = await _issue(pool, "observer")
    before = asyncio.ensure_future(cache.principal(pool, other.token))
    await asyncio.sleep(0)  # its lookup is in flight
    cache.forget()  # as when the hub reads a token event
    after = asyncio.ensure_future(cache.principal(pool, other.token))
    async with asyncio.timeout(10):
        await asyncio.gather(before, after)
    assert cache.counters["token_lookups"] == 4
