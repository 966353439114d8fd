"""The partner registry over HTTP: reads, ETags, guarded replace, change feed, history."""

from __future__ import annotations

import asyncio

import asyncpg
from aiohttp.test_utils import TestClient

from eadrcc.partners import store
from tests.conftest import TokenFactory, bearer

Client = TestClient  # type: ignore[type-arg]


async def _edit(client: Client, token: str, partner: str, **changes: object) -> tuple[int, dict]:  # type: ignore[type-arg]
    resp = await client.get(f"/api/v1/partners/{partner}", headers=bearer(token))
    record = await resp.json()
    record.update(changes)
    put = await client.put(
        f"/api/v1/partners/{partner}",
        json=record,
        headers={**bearer(token), "If-Match": resp.headers["ETag"]},
    )
    return put.status, await put.json(content_type=None)


async def test_every_role_reads_the_registry(client: Client, make_token: TokenFactory) -> None:
    for role, country in [
        ("admin", None),
        ("duty_officer", None),
        ("poc", "GEO"),
        ("integration", None),
        ("observer", None),
    ]:
        token = await make_token(role, country=country)
        resp = await client.get("/api/v1/partners", headers=bearer(token))
        assert resp.status == 200
        partners = {p["code"]: p for p in await resp.json()}
        assert sum(p["status"] == "ally" for p in partners.values()) == 32
        assert partners["GEO"]["status"] == "partner"
        assert any(g["code"] == "PDP" for g in partners["GEO"]["programmes"])


async def test_programme_catalogue(client: Client, make_token: TokenFactory) -> None:
    resp = await client.get("/api/v1/programmes", headers=bearer(await make_token("observer")))
    codes = [p["code"] for p in await resp.json()]
    for code in [
        "ITPP",
        "ANP",
        "PCM",
        "PARP",
        "OCC",
        "MTEP",
        "PMF",
        "DCB",
        "BI",
        "PDP",
        "DEEP",
        "SPS",
        "EADRCC",
        "WPS",
    ]:
        assert code in codes


async def test_etag_and_if_none_match(client: Client, make_token: TokenFactory) -> None:
    token = await make_token("observer")
    first = await client.get("/api/v1/partners/NOR", headers=bearer(token))
    tag = first.headers["ETag"]
    again = await client.get(
        "/api/v1/partners/NOR", headers={**bearer(token), "If-None-Match": tag}
    )
    assert again.status == 304 and again.headers["ETag"] == tag
    listing = await client.get("/api/v1/partners", headers=bearer(token))
    cached = await client.get(
        "/api/v1/partners", headers={**bearer(token), "If-None-Match": listing.headers["ETag"]}
    )
    assert cached.status == 304


async def test_unknown_code_is_404(client: Client, make_token: TokenFactory) -> None:
    resp = await client.get("/api/v1/partners/XXX", headers=bearer(await make_token("observer")))
    assert resp.status == 404
    assert (await resp.json(content_type=None))["status"] == 404


async def test_admin_replaces_with_if_match_and_history_is_kept(
    client: Client, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    admin = await make_token("admin")
    before = await (await client.get("/api/v1/partners/GEO", headers=bearer(admin))).json()
    status, after = await _edit(
        client,
        admin,
        "GEO",
        contacts=[
            {
                "role": "24/7 national point of contact",
                "organisation": "Emergency Management Service",
                "phone": "+995 32 000 0000",
                "hours": "24/7",
            }
        ],
    )
    assert status == 200
    assert after["version"] > before["version"]
    assert after["contacts"][0]["phone"] == "+995 32 000 0000"
    async with pool.acquire() as conn:
        versions = [h["version"] for h in await store.history(conn, "GEO")]
        kinds = await conn.fetch("SELECT kind, data FROM events WHERE seq = $1", after["version"])
    assert versions[-2:] == [before["version"], after["version"]]
    assert kinds[0]["kind"] == "partner.updated" and kinds[0]["data"]["code"] == "GEO"


async def test_put_preconditions(client: Client, make_token: TokenFactory) -> None:
    admin = await make_token("admin")
    record = await (await client.get("/api/v1/partners/NOR", headers=bearer(admin))).json()
    missing = await client.put("/api/v1/partners/NOR", json=record, headers=bearer(admin))
    assert missing.status == 428
    stale = await client.put(
        "/api/v1/partners/NOR", json=record, headers={**bearer(admin), "If-Match": '"v1"'}
    )
    assert stale.status == 412
    assert (await stale.json(content_type=None))["current_etag"] == f'"v{record["version"]}"'


async def test_two_editors_with_the_same_etag_one_wins(
    client: Client, make_token: TokenFactory
) -> None:
    admin = await make_token("admin")
    resp = await client.get("/api/v1/partners/MDA", headers=bearer(admin))
    record, tag = await resp.json(), resp.headers["ETag"]

    async def put(name: str) -> int:
        r = await client.put(
            "/api/v1/partners/MDA",
            json={**record, "name": name},
            headers={**bearer(admin), "If-Match": tag},
        )
        return r.status

    assert sorted(await asyncio.gather(put("Moldova A"), put("Moldova B"))) == [200, 412]


async def test_non_admins_may_not_edit(client: Client, make_token: TokenFactory) -> None:
    for role, country in [
        ("poc", "NOR"),
        ("duty_officer", None),
        ("observer", None),
        ("integration", None),
    ]:
        token = await make_token(role, country=country)
        status, body = await _edit(client, token, "NOR", name="Changed")
        assert status == 403, body
    admin = await make_token("admin")
    record = await (await client.get("/api/v1/partners/NOR", headers=bearer(admin))).json()
    assert record["name"] == "Norway"


async def test_bad_records_change_nothing(client: Client, make_token: TokenFactory) -> None:
    admin = await make_token("admin")
    for bad in [
        {"status": "enemy"},
        {"programmes": [{"code": "NOPE"}]},
        {"frameworks": ["PfP", "PfP"]},
        {"code": "SWE"},
        {"surprise": True},
        {"programmes": [{"code": "PARP", "since": "last year"}]},
    ]:
        status, body = await _edit(client, admin, "FIN", **bad)
        assert 400 <= status < 500, (bad, body)
    record = await (await client.get("/api/v1/partners/FIN", headers=bearer(admin))).json()
    assert record["status"] == "ally" and record["name"] == "Finland"


async def test_sql_metacharacters_are_stored_verbatim(
    client: Client, make_token: TokenFactory
) -> None:
    admin = await make_token("admin")
    nasty = "Robert'); DROP TABLE partners;-- \\x00 %s $1 \" ; --"
    status, body = await _edit(
        client,
        admin,
        "AUT",
        name=nasty,
        contacts=[{"role": nasty, "organisation": nasty, "email": "a'b@example.org"}],
    )
    assert status == 200, body
    again = await (await client.get("/api/v1/partners/AUT", headers=bearer(admin))).json()
    assert again["name"] == nasty and again["contacts"][0]["organisation"] == nasty


async def test_change_feed_follows_edits_in_order(client: Client, make_token: TokenFactory) -> None:
    admin = await make_token("admin")
    start = await (
        await client.get("/api/v1/partners/changes?since=0&limit=1000", headers=bearer(admin))
    ).json()
    mark = start["high_water"]
    assert len(start["changes"]) >= 32
    await _edit(client, admin, "IRL", name="Ireland (edited)")
    await _edit(client, admin, "CHE", name="Switzerland (edited)")
    feed = await (
        await client.get(f"/api/v1/partners/changes?since={mark}", headers=bearer(admin))
    ).json()
    assert [c["code"] for c in feed["changes"]] == ["IRL", "CHE"]
    assert feed["high_water"] == feed["changes"][-1]["version"]
    empty = await (
        await client.get(
            f"/api/v1/partners/changes?since={feed['high_water']}", headers=bearer(admin)
        )
    ).json()
    assert empty == {"changes": [], "high_water": feed["high_water"]}
    bad = await client.get("/api/v1/partners/changes?since=-1", headers=bearer(admin))
    assert bad.status == 422
