"""Small helpers for the operations tests: tokens by role, JSON calls, and waiting
on a condition."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from tests.conftest import TokenFactory, bearer

T0 = "2026-02-06T06:00:00+03:00"


async def until(condition: Callable[[], bool], timeout: float = 60) -> None:
    """Return once `condition()` holds; fail after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


@dataclass
class Api:
    client: TestClient  # type: ignore[type-arg]
    token: str

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        expect: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        resp = await self.client.request(
            method, path, json=body, headers={**bearer(self.token), **(headers or {})}
        )
        data = await resp.json(content_type=None) if resp.status != 204 else None
        if expect is not None:
            assert resp.status == expect, (method, path, resp.status, data)
        return data

    async def get(self, path: str, **kw: Any) -> Any:
        return await self.call("GET", path, expect=kw.pop("expect", 200), **kw)

    async def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return await self.call("POST", path, body, **kw)


async def api(
    client: TestClient,
    make_token: TokenFactory,
    role: str,  # type: ignore[type-arg]
    country: str | None = None,
) -> Api:
    return Api(client, await make_token(role, country=country))


def emergency_body(**over: Any) -> dict[str, Any]:
    return {
        "title": "Kahramanmaraş earthquakes",
        "hazard": "earthquake",
        "countries": ["TUR"],
        "location": {"lat": 37.17, "lon": 37.03},
        "severity": "extreme",
        **over,
    }


def item(resource_type: str, quantity: int, **over: Any) -> dict[str, Any]:
    return {"resource_type": resource_type, "quantity": quantity, "available_from": T0, **over}


async def never_blocked_by(
    pool: asyncpg.Pool, holder: asyncpg.Connection, task: asyncio.Task[Any], why: str
) -> None:
    """Until `task` is done, no session may be waiting on a lock `holder` holds."""
    held_by = holder.get_server_pid()
    async with asyncio.timeout(30):
        while not task.done():
            waiting = await pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
                held_by,
            )
            assert waiting == 0, why
            await asyncio.sleep(0.02)


async def response_state(pool: asyncpg.Pool, emergency_id: str, country: str) -> str | None:
    """A nation's circulation state in an emergency (None: not on its distribution)."""
    state: str | None = await pool.fetchval(
        "SELECT state FROM responses WHERE emergency_id = $1 AND country = $2",
        emergency_id,
        country,
    )
    return state


async def blocked_statement(pool: asyncpg.Pool, holder: asyncpg.Connection) -> str:
    """The statement of the first session found waiting on a lock `holder` holds.

    pg_stat_activity's columns come from one snapshot, taken at its first reading in
    the transaction, while pg_blocking_pids looks now: a session that started to wait
    in between would show the statement it ran before. Asking for a session that the
    snapshot shows waiting on a lock too gives the statement it waits in."""
    async with asyncio.timeout(30):
        while True:
            query: str | None = await pool.fetchval(
                "SELECT query FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND $1 = ANY(pg_blocking_pids(pid))",
                holder.get_server_pid(),
            )
            if query is not None:
                return query
            await asyncio.sleep(0.02)
