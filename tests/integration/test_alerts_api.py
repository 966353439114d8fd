"""POST /api/v1/alerts as integrations and duty officers use it: formats, safety,
signatures, idempotency, grouping, watches, triage."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from eadrcc import auth, db
from eadrcc.alerts.signature import sign
from eadrcc.app import create_app
from eadrcc.config import Settings
from tests.conftest import TokenFactory, bearer

Client = TestClient  # type: ignore[type-arg]
CAP = Path(__file__).parents[1] / "data" / "cap"
CAP_XML = {"Content-Type": "application/cap+xml"}
# Recent, so that the alerts are not stale (older than EADRCC_ALERT_MAX_AGE_HOURS).
SENT = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)


async def _counts(pool: asyncpg.Pool) -> tuple[int, int, int]:
    async with pool.acquire() as conn:
        return (
            await conn.fetchval("SELECT count(*) FROM alerts"),
            await conn.fetchval("SELECT count(*) FROM events"),
            await conn.fetchval("SELECT count(*) FROM emergencies"),
        )


def quake(**over: Any) -> dict[str, Any]:
    return {
        "source": "json",
        "identifier": "EQ-2023-02-06-1",
        "sender": "ops@afad.gov.tr",
        "sent": SENT.isoformat(),
        "event": "Earthquake M7.8",
        "headline": "M7.8 earthquake near Pazarcık",
        "severity": "Extreme",
        "certainty": "Observed",
        "urgency": "Immediate",
        "location": {"lat": 37.17, "lon": 37.03},
        "countries": ["TUR"],
        **over,
    }


async def test_cap_from_an_officer_is_stored_once(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    token = await make_token("duty_officer")
    body = (CAP / "oasis-cap12-appendixA.3.cap.xml").read_bytes()
    first = await client.post("/api/v1/alerts", data=body, headers={**bearer(token), **CAP_XML})
    assert first.status == 201, await first.text()
    stored = await first.json()
    assert (stored["identifier"], stored["cap_version"], stored["hazard"]) == (
        "TRI13970876.2",
        "1.2",
        "earthquake",
    )
    before = await _counts(pool)
    again = await client.post(
        "/api/v1/alerts", data=body, headers={**bearer(token), "Content-Type": "application/xml"}
    )
    assert again.status == 200 and (await again.json())["id"] == stored["id"]
    assert await _counts(pool) == before


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("google-caplib_xee.cap.xml", 400),
        ("google-caplib_invalid.cap.xml", 422),
        ("google-caplib_noaa_errors.cap.xml", 422),
        ("google-caplib_canada_errors.cap.xml", 422),
    ],
)
async def test_bad_cap_changes_nothing(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool, name: str, status: int
) -> None:
    token = await make_token("duty_officer")
    before = await _counts(pool)
    resp = await client.post(
        "/api/v1/alerts", data=(CAP / name).read_bytes(), headers={**bearer(token), **CAP_XML}
    )
    assert resp.status == status
    problem = await resp.json(content_type="application/problem+json")
    assert problem["detail"]
    if status == 422:
        assert problem["errors"]
    assert await _counts(pool) == before


async def test_an_entity_bomb_is_refused_fast(client: Client, make_token: TokenFactory) -> None:
    token = await make_token("duty_officer")
    entities = "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 12))
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY e0 "boom">{entities}]>'
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&e11;'
        "</identifier></alert>"
    )
    started = time.perf_counter()
    resp = await client.post("/api/v1/alerts", data=bomb, headers={**bearer(token), **CAP_XML})
    assert resp.status == 400 and time.perf_counter() - started < 2


async def test_formats_and_roles(client: Client, make_token: TokenFactory) -> None:
    officer = await make_token("duty_officer")
    resp = await client.post(
        "/api/v1/alerts", data=b"x=1", headers={**bearer(officer), "Content-Type": "text/plain"}
    )
    assert resp.status == 415
    bad = await client.post(
        "/api/v1/alerts", json={**quake(), "severity": "Apocalyptic"}, headers=bearer(officer)
    )
    assert bad.status == 422 and "severity" in (await bad.json(content_type=None))["errors"]
    for role, country in [("poc", "TUR"), ("observer", None)]:
        token = await make_token(role, country=country)
        assert (
            await client.post("/api/v1/alerts", json=quake(), headers=bearer(token))
        ).status == 403
    poc = await make_token("poc", country="TUR")
    assert (await client.get("/api/v1/alerts", headers=bearer(poc))).status == 403
    observer = await make_token("observer")
    assert (await client.get("/api/v1/alerts", headers=bearer(observer))).status == 200


async def test_a_strong_alert_opens_one_watch_for_its_event(
    client: Client, make_token: TokenFactory
) -> None:
    officer = await make_token("duty_officer")
    first = await (
        await client.post("/api/v1/alerts", json=quake(), headers=bearer(officer))
    ).json()
    assert first["emergency_id"]
    emergency = await (
        await client.get(f"/api/v1/emergencies/{first['emergency_id']}", headers=bearer(officer))
    ).json()
    assert (
        emergency["status"],
        emergency["hazard"],
        emergency["countries"],
        emergency["exercise"],
    ) == ("watch", "earthquake", ["TUR"], False)
    # GDACS and USGS report the same quake a little later and ~30 km away.
    for source, ident, lat in [("gdacs", "EQ1357", 37.3), ("usgs", "us6000jllz", 37.22)]:
        other = await (
            await client.post(
                "/api/v1/alerts",
                json=quake(
                    source=source,
                    identifier=ident,
                    sender=f"{source}.example",
                    sent=(SENT + timedelta(minutes=43)).isoformat(),
                    location={"lat": lat, "lon": 37.2},
                    external_ids={source: ident},
                    level="red",
                ),
                headers=bearer(officer),
            )
        ).json()
        assert other["group_id"] == first["group_id"]
        assert other["emergency_id"] == first["emergency_id"]
    group = await (
        await client.get(f"/api/v1/alert-groups/{first['group_id']}", headers=bearer(officer))
    ).json()
    assert len(group["alerts"]) == 3 and group["emergency_id"] == first["emergency_id"]
    watches = await (
        await client.get("/api/v1/emergencies?status=watch", headers=bearer(officer))
    ).json()
    assert [w["id"] for w in watches] == [first["emergency_id"]]


async def test_exercises_tests_and_cancellations(client: Client, make_token: TokenFactory) -> None:
    officer = await make_token("duty_officer")

    async def post(**over: Any) -> dict[str, Any]:
        resp = await client.post("/api/v1/alerts", json=quake(**over), headers=bearer(officer))
        assert resp.status == 201, await resp.text()
        return await resp.json()  # type: ignore[no-any-return]

    drill = await post(
        identifier="DRILL-1", status="Exercise", location={"lat": 60, "lon": 10}, countries=["NOR"]
    )
    drill_emergency = await (
        await client.get(f"/api/v1/emergencies/{drill['emergency_id']}", headers=bearer(officer))
    ).json()
    assert drill_emergency["exercise"] is True
    test = await post(
        identifier="TEST-1", status="Test", location={"lat": 42, "lon": 44}, countries=["GEO"]
    )
    assert test["emergency_id"] is None
    real = await post(
        identifier="REAL-1",
        location={"lat": 41.7, "lon": 44.8},
        countries=["GEO"],
        hazard="flood",
        event="Flood",
    )
    cancel = await post(
        identifier="REAL-1-C",
        msg_type="Cancel",
        hazard="flood",
        event="Flood",
        references=[
            {
                "sender": "ops@afad.gov.tr",
                "identifier": "REAL-1",
                "sent": SENT.isoformat(),
            }
        ],
    )
    assert cancel["references"] == [real["id"]] and cancel["group_id"] == real["group_id"]
    dismissed = await (
        await client.get(f"/api/v1/emergencies/{real['emergency_id']}", headers=bearer(officer))
    ).json()
    assert dismissed["status"] == "closed"


async def test_triage_list_filter_acknowledge(client: Client, make_token: TokenFactory) -> None:
    officer = await make_token("duty_officer")
    stored = [
        await (
            await client.post(
                "/api/v1/alerts",
                json=quake(identifier=f"A{i}", severity=sev),
                headers=bearer(officer),
            )
        ).json()
        for i, sev in enumerate(["Extreme", "Minor", "Extreme"])
    ]
    newest = await (await client.get("/api/v1/alerts", headers=bearer(officer))).json()
    assert [a["id"] for a in newest] == [s["id"] for s in reversed(stored)]
    extreme = await (
        await client.get("/api/v1/alerts?severity=Extreme", headers=bearer(officer))
    ).json()
    assert {a["id"] for a in extreme} == {stored[0]["id"], stored[2]["id"]}
    acked = await client.post(
        f"/api/v1/alerts/{stored[1]['id']}/acknowledge", headers=bearer(officer)
    )
    assert (await acked.json())["acknowledged_at"]
    open_ = await (
        await client.get("/api/v1/alerts?acknowledged=false", headers=bearer(officer))
    ).json()
    assert stored[1]["id"] not in {a["id"] for a in open_}
    observer = await make_token("observer")
    assert (
        await client.post(f"/api/v1/alerts/{stored[0]['id']}/acknowledge", headers=bearer(observer))
    ).status == 403


# ---- signed integrations ------------------------------------------------------------


async def _integration(pool: asyncpg.Pool) -> auth.IssuedToken:
    async with db.transaction(pool) as conn:
        return await auth.create(conn=conn, role=auth.Role.INTEGRATION, name="AFAD feed")


def _signed(token: str, secret: str, body: bytes, *, at: int | None = None) -> dict[str, str]:
    stamp = str(at if at is not None else int(time.time()))
    return {
        **bearer(token),
        "Content-Type": "application/json",
        "X-EADRCC-Timestamp": stamp,
        "X-EADRCC-Signature": sign(secret, stamp, body),
    }


async def test_integrations_must_sign(client: Client, pool: asyncpg.Pool) -> None:
    feed = await _integration(pool)
    assert feed.secret is not None
    body = json.dumps(quake(identifier="SIGNED-1")).encode()
    before = await _counts(pool)
    for headers in [
        {**bearer(feed.token), "Content-Type": "application/json"},  # unsigned
        _signed(feed.token, "wrong-secret", body),  # wrong secret
        _signed(feed.token, feed.secret, body, at=int(time.time()) - 301),  # too old
        _signed(feed.token, feed.secret, body + b" "),  # body changed
    ]:
        resp = await client.post("/api/v1/alerts", data=body, headers=headers)
        assert resp.status == 401, await resp.text()
    assert await _counts(pool) == before
    headers = _signed(feed.token, feed.secret, body)
    assert (await client.post("/api/v1/alerts", data=body, headers=headers)).status == 201
    replay = await client.post("/api/v1/alerts", data=body, headers=headers)
    assert (
        replay.status == 401 and "already used" in (await replay.json(content_type=None))["detail"]
    )


async def test_rotation_keeps_two_secrets_alive(client: Client, pool: asyncpg.Pool) -> None:
    feed = await _integration(pool)
    async with db.transaction(pool) as conn:
        second = await auth.rotate_secret(conn=conn, token_id=feed.id)
    for n, secret in enumerate([feed.secret, second]):
        body = json.dumps(quake(identifier=f"ROT-{n}")).encode()
        resp = await client.post(
            "/api/v1/alerts", data=body, headers=_signed(feed.token, secret or "", body)
        )
        assert resp.status == 201
    async with db.transaction(pool) as conn:
        await auth.rotate_secret(conn=conn, token_id=feed.id)  # the first secret retires
    # It retires here once this instance's hub reads token.secret_rotated (token cache).
    async with asyncio.timeout(30):
        for n in itertools.count():
            body = json.dumps(quake(identifier=f"ROT-old-{n}")).encode()
            resp = await client.post(
                "/api/v1/alerts", data=body, headers=_signed(feed.token, feed.secret or "", body)
            )
            if resp.status == 401:
                break
            await asyncio.sleep(0.02)


@pytest.fixture
async def strict_client(db_url: str) -> AsyncIterator[Client]:
    # One token back every 100 s: however slow a loaded machine serves the five
    # posts, none is refilled while the test runs.
    settings = Settings(
        database_url=db_url, pool_min_size=1, alert_rate_per_minute=0.6, alert_burst=3
    )
    async with TestClient(TestServer(create_app(settings))) as c:
        yield c


async def test_rate_limit(strict_client: Client, make_token: TokenFactory) -> None:
    token = await make_token("duty_officer")
    statuses = []
    for n in range(5):
        resp = await strict_client.post(
            "/api/v1/alerts", json=quake(identifier=f"R{n}"), headers=bearer(token)
        )
        statuses.append(resp.status)
    assert statuses == [201, 201, 201, 429, 429]
    assert int(resp.headers["Retry-After"]) >= 1


async def test_mutated_cap_over_http_never_gets_a_5xx(
    client: Client, make_token: TokenFactory
) -> None:
    import random

    token = await make_token("duty_officer")
    rng = random.Random(20260206)
    samples = [p.read_bytes() for p in sorted(CAP.glob("*.xml"))]
    statuses = set()
    for _ in range(80):
        data = bytearray(rng.choice(samples))
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(data) + 1)
            if rng.random() < 0.5:
                del data[at : at + rng.randint(1, 30)]
            else:
                data[at:at] = rng.choice([b"<", b"&", b"<!DOCTYPE x>", b"\xff", b"Update"])
        resp = await client.post(
            "/api/v1/alerts", data=bytes(data), headers={**bearer(token), **CAP_XML}
        )
        statuses.add(resp.status)
    assert all(s < 500 for s in statuses), statuses
    assert statuses & {400, 422}
