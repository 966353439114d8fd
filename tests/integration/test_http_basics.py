"""Auth, problem+json, limits and ops endpoints, through a real socket."""

from __future__ import annotations

import asyncio
import io
import json

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from eadrcc import db
from eadrcc.auth import revoke
from tests.conftest import TokenFactory, bearer

PROBLEM = "application/problem+json"


async def _problem(resp, status: int) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert resp.status == status, await resp.text()
    assert resp.content_type == PROBLEM
    body = await resp.json(content_type=PROBLEM)
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    return body  # type: ignore[no-any-return]


async def test_healthz_and_readyz(client: TestClient) -> None:  # type: ignore[type-arg]
    assert (await client.get("/healthz")).status == 200
    resp = await client.get("/readyz")
    assert resp.status == 200
    assert (await resp.json())["checks"]["database"] == "ok"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer "},
    ],
)
async def test_missing_or_bad_token_is_401(client: TestClient, headers: dict) -> None:  # type: ignore[type-arg]
    resp = await client.get("/api/v1/partners", headers=headers)
    await _problem(resp, 401)
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


async def test_revoked_token_is_401(
    client: TestClient,
    make_token: TokenFactory,  # type: ignore[type-arg]
    pool: asyncpg.Pool,
) -> None:
    token = await make_token("observer")
    assert (await client.get("/api/v1/partners", headers=bearer(token))).status == 200
    async with db.transaction(pool) as conn:
        token_id = await conn.fetchval("SELECT id FROM tokens WHERE name = 'test observer'")
        await revoke(conn=conn, token_id=token_id)
    # The instance's token cache lets go once its hub reads the token.revoked event.
    async with asyncio.timeout(30):
        while (resp := await client.get("/api/v1/partners", headers=bearer(token))).status != 401:
            await asyncio.sleep(0.02)
    await _problem(resp, 401)


async def test_request_id_is_echoed_or_made(client: TestClient) -> None:  # type: ignore[type-arg]
    mine = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert mine.headers["X-Request-ID"] == "abc-123"
    made = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["X-Request-ID"] not in ("", "bad id with spaces")


async def test_unknown_path_and_method_are_problems(client: TestClient) -> None:  # type: ignore[type-arg]
    await _problem(await client.get("/api/v1/nothing-here"), 404)
    resp = await client.delete("/api/v1/partners")
    await _problem(resp, 405)


async def test_oversized_malformed_and_wrong_type_bodies(
    client: TestClient,
    make_token: TokenFactory,  # type: ignore[type-arg]
) -> None:
    headers = {**bearer(await make_token("admin")), "If-Match": '"v1"'}
    big = b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    await _problem(
        await client.put(
            "/api/v1/partners/NOR",
            data=io.BytesIO(big),
            headers={**headers, "Content-Type": "application/json"},
        ),
        413,
    )
    await _problem(
        await client.put(
            "/api/v1/partners/NOR",
            data=b"{not json",
            headers={**headers, "Content-Type": "application/json"},
        ),
        400,
    )
    await _problem(
        await client.put(
            "/api/v1/partners/NOR",
            data=b"<x/>",
            headers={**headers, "Content-Type": "application/xml"},
        ),
        415,
    )
    body = await _problem(
        await client.put("/api/v1/partners/NOR", json={"name": 5, "extra": 1}, headers=headers), 422
    )
    assert {"name", "status", "extra"} <= body["errors"].keys()


async def test_metrics_count_requests_by_route(client: TestClient) -> None:  # type: ignore[type-arg]
    await client.get("/api/v1/partners/NOR")
    text = await (await client.get("/metrics")).text()
    assert (
        'eadrcc_http_requests_total{method="GET",route="/api/v1/partners/{code}",status="401"}'
        in text
    )
    assert "eadrcc_http_request_duration_seconds_bucket" in text
    assert 'eadrcc_db_pool_connections{state="max"}' in text
    assert "eadrcc_pg_notification_queue_usage " in text  # shared server: any value
    assert 'eadrcc_event_hub{name="subscribers"} 0.0' in text


async def test_openapi_lists_every_route(client: TestClient) -> None:  # type: ignore[type-arg]
    spec = await (await client.get("/api/v1/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    for route in client.app.router.routes():  # type: ignore[union-attr]
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method == "HEAD" or path is None:
            continue
        assert route.method.lower() in spec["paths"][path], f"{route.method} {path} missing"
    json.dumps(spec)  # serialisable


async def test_security_headers_on_every_answer(client: TestClient) -> None:  # type: ignore[type-arg]
    for path in ("/healthz", "/api/v1/partners", "/api/v1/nothing"):
        resp = await client.get(path)
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
