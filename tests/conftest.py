"""Test fixtures: real PostgreSQL (DATABASE_URL or embedded), a database per test
cloned from a migrated and seeded template, and the app on a real socket."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from eadrcc import auth, db, logs
from eadrcc.app import create_app
from eadrcc.config import Settings
from eadrcc.migrate import migrate
from eadrcc.readtimeouts import HubRunner
from eadrcc.seed import seed_reference

ROOT = Path(__file__).resolve().parents[1]
TESTDATA = Path(__file__).parent / "data"


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def server_url() -> str:
    """A URL to the server's maintenance database, where we may CREATE DATABASE."""
    logs.configure("warning")
    if url := os.environ.get("DATABASE_URL"):
        return url
    return db.start_embedded(ROOT / ".eadrcc" / "test-pgdata")


@pytest.fixture(scope="session")
def template_db(server_url: str) -> Iterator[str]:
    name = f"eadrcc_tmpl_{uuid.uuid4().hex[:8]}"

    async def build() -> None:
        admin = await asyncpg.connect(server_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        url = with_database(server_url, name)
        conn = await db.connect(url)
        await migrate(conn)
        await conn.close()
        pool = await db.create_pool(url, min_size=1, max_size=2)
        await seed_reference(pool)
        await pool.close()

    asyncio.run(build())
    yield name
    asyncio.run(_drop(server_url, name))


async def _drop(server_url: str, name: str) -> None:
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture
async def db_url(server_url: str, template_db: str) -> AsyncIterator[str]:
    """A fresh, migrated and seeded database of the test's own."""
    name = f"eadrcc_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    await admin.close()
    yield with_database(server_url, name)
    await _drop(server_url, name)


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await db.create_pool(db_url, min_size=1, max_size=20)
    yield p
    await p.close()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, pool_min_size=1, pool_max_size=10)


class HubTestServer(TestServer):
    """aiohttp's TestServer serving the app as `eadrcc serve` does (HubRunner: with
    the read deadlines)."""

    async def _make_runner(self, **kwargs: Any) -> HubRunner:
        return HubRunner(self.app, **kwargs)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient[object, object]]:
    """The hub on a real loopback socket, with an HTTP client for it."""
    app = create_app(settings)
    async with TestClient(HubTestServer(app)) as c:
        yield c


TokenFactory = Callable[..., Awaitable[str]]


@pytest.fixture
def make_token(pool: asyncpg.Pool) -> TokenFactory:
    """`await make_token("poc", country="TUR")` → a bearer token value."""

    async def make(role: str, *, country: str | None = None, name: str | None = None) -> str:
        async with db.transaction(pool) as conn:
            issued = await auth.create(
                conn=conn, role=auth.Role(role), name=name or f"test {role}", country=country
            )
        return issued.token

    return make


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_ready(url: str, timeout: float = 90) -> None:
    """Until GET {url}/readyz answers 200 (a hub process that is starting)."""
    async with aiohttp.ClientSession() as http, asyncio.timeout(timeout):
        while True:
            try:
                async with http.get(f"{url}/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
