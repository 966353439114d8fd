"""The framework floor: the least an aiohttp + asyncpg endpoint can do per request
(parse a JSON body, insert one row, answer JSON), to compare the hub against.

    DATABASE_URL=... python bench/floor_app.py PORT
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web

POOL = web.AppKey("pool", asyncpg.Pool)


async def insert(request: web.Request) -> web.Response:
    body = await request.json()
    async with request.app[POOL].acquire() as conn:
        row_id = await conn.fetchval(
            "INSERT INTO bench_floor (body) VALUES ($1) RETURNING id", json.dumps(body)
        )
    return web.json_response({"id": row_id}, status=201)


async def pool(app: web.Application) -> AsyncIterator[None]:
    app[POOL] = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=2, max_size=20)
    async with app[POOL].acquire() as conn:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, body jsonb NOT NULL)"
        )
    yield
    await app[POOL].close()


async def ready(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ready"})


def main() -> None:
    app = web.Application()
    app.cleanup_ctx.append(pool)
    app.router.add_post("/floor", insert)
    app.router.add_get("/readyz", ready)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
