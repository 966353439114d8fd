"""Input an attacker sends (each one answered 500 once): every answer is a 4xx
problem+json and nothing changes; websocket hellos of the same kind close 4000."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import asyncpg
import pytest
import websockets
from aiohttp.test_utils import TestClient
from websockets.exceptions import ConnectionClosed

from eadrcc import auth, db
from tests.conftest import TokenFactory, bearer
from tests.integration.ops_helpers import api, emergency_body, item

Client = TestClient  # type: ignore[type-arg]
HUGE = "9" * 5000


async def _count(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT coalesce(max(seq), 0) FROM events"))


def _problem(status: int, body: str, what: Any) -> None:
    assert 400 <= status < 500, (what, status, body[:300])
    assert json.loads(body)["status"] == status, what


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/requests/%00",
        "/api/v1/partners/%00",
        "/api/v1/alert-groups/%00",
        "/api/v1/alerts/%00",
        "/api/v1/offers/%00",
        "/api/v1/emergencies/%00",
        "/api/v1/alerts?hazard=%00",
        "/api/v1/partners/%ED%A0%80",  # U+D800 (a lone surrogate) as UTF-8 would spell it
        "/api/v1/emergencies?status=%00",
        "/api/v1/capacities?country=%00",
        "/console/static/%00/js/app.js",
        "/console/static/x/js/%00",
    ],
)
async def test_nul_in_paths_and_queries(
    client: Client, make_token: TokenFactory, path: str
) -> None:
    token = await make_token("duty_officer")
    resp = await client.get(path, headers=bearer(token))
    _problem(resp.status, await resp.text(), path)


async def _world(client: Client, make_token: TokenFactory) -> tuple[Any, str]:
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    return officer, emergency["id"]


OFFER_ITEMS: list[dict[str, Any]] = [
    {"quantity": "HUGE"},  # a 5,000-digit JSON number, spliced in below
    {"quantity": True},
    {"quantity": "5"},
    {"quantity": 5.0},
    {"available_from": "9999-12-31T23:59:59-14:00"},
    {"available_from": "0001-01-01T00:00:00+14:00"},
    {"self_sufficient": 1},
    {"self_sufficient": "true"},
]


@pytest.mark.parametrize("change", OFFER_ITEMS)
async def test_offers_refuse_odd_values(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool, change: dict[str, Any]
) -> None:
    officer, emergency_id = await _world(client, make_token)
    before = await _count(pool)
    body = {
        "emergency_id": emergency_id,
        "offering_country": "NOR",
        "channel": "direct",
        "items": [{**item("shelter.blanket", 10), **change}],
    }
    raw = json.dumps(body).replace('"HUGE"', HUGE)
    resp = await client.post(
        "/api/v1/offers",
        data=raw,
        headers={**bearer(officer.token), "Content-Type": "application/json"},
    )
    _problem(resp.status, await resp.text(), change)
    assert await _count(pool) == before


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (
            b'{"identifier": "N", "sender": "s", "sent": "2026-11-27T01:00:00+00:00", '
            b'"event": "Flood", "location": {"lat": NaN, "lon": 1}}',
            "application/json",
        ),
        (
            b'{"identifier": "N", "sender": "s", "sent": "2026-11-27T01:00:00+00:00", '
            b'"event": "Flood", "location": {"lat": 1e400, "lon": 1}}',
            "application/json",
        ),
        (
            json.dumps(
                {
                    "identifier": "U",
                    "sender": "s",
                    "sent": "2026-11-27T01:00:00+00:00",
                    "event": "Flood",
                }
            ).encode("utf-16"),
            "application/json",
        ),
        (b'{"n": ' + HUGE.encode() + b"}", "application/json"),
    ],
)
async def test_alerts_refuse_odd_json(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool, body: bytes, ctype: str
) -> None:
    token = await make_token("duty_officer")
    before = await _count(pool)
    resp = await client.post(
        "/api/v1/alerts", data=body, headers={**bearer(token), "Content-Type": ctype}
    )
    _problem(resp.status, await resp.text(), body[:60])
    assert await _count(pool) == before


async def test_non_ascii_signature_is_401(client: Client, pool: asyncpg.Pool) -> None:
    async with db.transaction(pool) as conn:
        feed = await auth.create(conn=conn, role=auth.Role.INTEGRATION, name="feed")
    resp = await client.post(
        "/api/v1/alerts",
        data=b"{}",
        headers={
            **bearer(feed.token),
            "Content-Type": "application/json",
            "X-EADRCC-Timestamp": "1",
            "X-EADRCC-Signature": "sha256=é".encode().decode("latin-1"),
        },
    )
    _problem(resp.status, await resp.text(), "signature")


@pytest.mark.parametrize(
    "hello",
    [
        '{"type": "hello", "token": "x", "since": ' + HUGE + "}",
        '{"type": "hello", "token": "\\ud800"}',
        '{"type": "hello", "token": "x", "since": 1e400}',
        '{"type": "hello", "token": "x", "since": NaN}',
        '{"type": "hello", "token": "x", "since": true}',
        '{"type": "hello", "token": 5}',
        "[" * 60_000,  # under the 64 KiB message limit: nesting, not size
        '{"type": "hello", "token": "' + "a" * 60_000 + '"}',
    ],
)
async def test_bad_hellos_close_4000_with_a_reason(client: Client, hello: str) -> None:
    url = str(client.make_url("/ws")).replace("http", "ws", 1)
    async with websockets.connect(url) as ws:
        await ws.send(hello)
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:
                pass
    assert ws.close_code in (4000, 4001), (hello[:60], ws.close_code)
    assert ws.close_reason, hello[:60]
