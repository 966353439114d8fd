"""Each instance's cache of resolved bearer tokens, kept correct by the event log.

Resolving a token is a round trip to PostgreSQL on every request; a console or a
national tool sends the same token again and again. Revocation and secret rotation
must still take effect on every instance within a second, so the cache is only as
old as the event hub's position in the log: every change to a token appends a
`token.` event in the same transaction, and when this instance's hub reads one, the
cache forgets everything (token changes are rare; forgetting all is simple and
plainly correct). The hub wakes on NOTIFY, so that is milliseconds after the commit
(~0.05 s more on an instance where nothing waits on the log: events.hub's quiet read).

Two guards keep a stale answer out:
- a lookup that raced a token change (its query may have read the token before
  the change committed) is not stored when the hub read a token event meanwhile
  (`generation`);
- while the hub is not following the log live (its LISTEN connection is down and
  it only polls), the cache is neither read nor filled.

What they cannot close: between another instance's commit and this hub reading its
event (milliseconds; the next slow poll if a notification is lost, longer if the
hub's reads stall), an entry still answers. So an entry is also trusted only for
`ttl` seconds from the moment its lookup began (EADRCC_TOKEN_CACHE_SECONDS, 1 s):
whatever fails, a revoked token or a replaced secret is never accepted longer than
that after the commit. A client sending several requests a second still hits.

When an entry has expired, the requests that find it so while one lookup of the
token is in flight share that lookup rather than each making their own (a console
and a national tool send bursts): a lookup is one per token at a time, and one
begun before a token event is not shared after it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

import asyncpg

from eadrcc import auth
from eadrcc.auth import Principal

TOKEN_EVENTS = "token."  # the prefix of every event that changes a token


class TokenCache:
    def __init__(self, *, size: int, live: Callable[[], bool], ttl: float = 1.0) -> None:
        self._size, self._live, self._ttl = size, live, ttl
        # digest -> (principal, monotonic time its lookup began)
        self._entries: dict[bytes, tuple[Principal, float]] = {}
        # digest -> the lookup in flight, shared by the requests that wait for it
        self._looking: dict[bytes, asyncio.Task[Principal]] = {}
        self.generation = 0
        self.counters = {"token_cache_hits": 0, "token_cache_misses": 0, "token_lookups": 0}

    async def principal(self, pool: asyncpg.Pool, token: str) -> Principal:
        """The principal behind `token` (401 if unknown or revoked), from the cache
        when the log says nothing changed since it was looked up, less than `ttl` ago."""
        digest = auth.hash_token(token)
        usable = self._size > 0 and self._live()
        began = time.monotonic()
        if usable and (hit := self._entries.get(digest)) is not None:
            principal, looked_up = hit
            if began - looked_up < self._ttl:
                self.counters["token_cache_hits"] += 1
                return principal
        self.counters["token_cache_misses"] += 1
        if not usable:
            return await self._look_up(pool, digest, began, store=False)
        lookup = self._looking.get(digest)
        if lookup is None:
            lookup = asyncio.ensure_future(self._look_up(pool, digest, began, store=True))
            self._looking[digest] = lookup
            lookup.add_done_callback(lambda done: self._ended(digest, done))
        # Shielded: a request that goes away does not end the lookup others wait for.
        return await asyncio.shield(lookup)

    async def _look_up(
        self, pool: asyncpg.Pool, digest: bytes, began: float, *, store: bool
    ) -> Principal:
        self.counters["token_lookups"] += 1
        generation = self.generation
        async with pool.acquire() as conn:
            found = await auth.principal_by_hash(conn=conn, digest=digest)
        if store and generation == self.generation and self._live():
            if len(self._entries) >= self._size:
                self._entries.clear()  # a crude bound; the working set refills at once
            self._entries[digest] = (found, began)
        return found

    def _ended(self, digest: bytes, lookup: asyncio.Task[Principal]) -> None:
        if self._looking.get(digest) is lookup:
            del self._looking[digest]
        if not lookup.cancelled():
            lookup.exception()  # retrieved: every waiter may have gone

    def read(self, kinds: Iterable[str]) -> None:
        """The hub read these event kinds: after a token change, trust nothing held."""
        if any(kind.startswith(TOKEN_EVENTS) for kind in kinds):
            self.forget()

    def forget(self) -> None:
        self.generation += 1
        self._entries.clear()
        self._looking.clear()  # a lookup begun before the change is not shared after it

    def __len__(self) -> int:
        return len(self._entries)

    def gauges(self) -> Callable[[], dict[str, float]]:
        return lambda: {"entries": len(self), **self.counters}
