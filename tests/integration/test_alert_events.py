"""Issue 11's alert defects, one test each, on documents written for them
(tests/data/alerts): statuses kept apart, known events, dismissed watches, countries
from geometry, stale alerts, early updates, distinct quakes, GDACS items and GeoJSON."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from eadrcc.alerts.feeds import FeedError, read_gdacs_rss
from eadrcc.app import create_app
from eadrcc.config import Settings
from tests.conftest import TokenFactory, bearer
from tests.integration.alert_docs import DOCS, render
from tests.integration.feed_helpers import eventually

Client = TestClient  # type: ignore[type-arg]
CAP_XML = {"Content-Type": "application/cap+xml"}


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def officer(make_token: TokenFactory) -> dict[str, str]:
    return bearer(await make_token("duty_officer"))


class Hub:
    """The duty officer's side of the API, with the documents' times set to `now`."""

    def __init__(self, client: Client, headers: dict[str, str], now: datetime) -> None:
        self.client, self.headers, self.now = client, headers, now

    async def alert(self, name: str) -> dict[str, Any]:
        resp = await self.client.post(
            "/api/v1/alerts", data=render(name, self.now), headers={**self.headers, **CAP_XML}
        )
        assert resp.status == 201, await resp.text()
        return await resp.json()  # type: ignore[no-any-return]

    async def get(self, path: str) -> Any:
        resp = await self.client.get(path, headers=self.headers)
        assert resp.status == 200, await resp.text()
        return await resp.json()

    async def emergency(self, emergency_id: str) -> dict[str, Any]:
        return await self.get(f"/api/v1/emergencies/{emergency_id}")  # type: ignore[no-any-return]

    async def watches(self) -> list[str]:
        return [e["id"] for e in await self.get("/api/v1/emergencies?status=watch")]


@pytest.fixture
def hub(client: Client, officer: dict[str, str], now: datetime) -> Hub:
    return Hub(client, officer, now)


# ---- statuses apart ----------------------------------------------------------------


async def test_a_test_cancel_never_closes_a_real_watch(hub: Hub) -> None:
    real = await hub.alert("flood-valley-actual.cap.xml")
    assert real["emergency_id"] and real["countries"] == ["NOR"]
    cancel = await hub.alert("flood-valley-test-cancel.cap.xml")
    assert cancel["references"] == [] and cancel["emergency_id"] is None
    assert cancel["group_id"] != real["group_id"]
    assert (await hub.emergency(real["emergency_id"]))["status"] == "watch"


async def test_a_real_flood_after_a_drill_in_the_same_valley_opens_a_real_watch(hub: Hub) -> None:
    drill = await hub.alert("flood-valley-exercise.cap.xml")
    real = await hub.alert("flood-valley-actual.cap.xml")
    assert real["group_id"] != drill["group_id"]
    assert drill["emergency_id"] and real["emergency_id"]
    assert real["emergency_id"] != drill["emergency_id"]
    assert (await hub.emergency(drill["emergency_id"]))["exercise"] is True
    watch = await hub.emergency(real["emergency_id"])
    assert (watch["status"], watch["exercise"], watch["countries"]) == ("watch", False, ["NOR"])


async def test_test_alerts_never_attach_to_a_real_watch(hub: Hub) -> None:
    real = await hub.alert("flood-valley-actual.cap.xml")
    test = await hub.alert("flood-valley-test.cap.xml")
    assert test["emergency_id"] is None and test["group_id"] != real["group_id"]
    assert await hub.watches() == [real["emergency_id"]]


# ---- known events and dismissed watches ----------------------------------------------


async def test_an_alert_about_an_open_emergency_attaches_to_it(hub: Hub) -> None:
    resp = await hub.client.post(
        "/api/v1/emergencies",
        json={
            "title": "M7.8 earthquake, Kahramanmaraş",
            "hazard": "earthquake",
            "countries": ["TUR"],
            "location": {"lat": 37.4, "lon": 37.1},
            "severity": "extreme",
        },
        headers=hub.headers,
    )
    assert resp.status == 201
    known = (await resp.json())["id"]
    alert = await hub.alert("quake-pazarcik.cap.xml")
    assert alert["emergency_id"] == known
    assert await hub.watches() == []
    assert [e["id"] for e in await hub.get("/api/v1/emergencies")] == [known]


async def test_a_dismissed_watch_takes_no_new_alerts(hub: Hub) -> None:
    first = await hub.alert("quake-pazarcik.cap.xml")
    dismissed = first["emergency_id"]
    resp = await hub.client.patch(
        f"/api/v1/emergencies/{dismissed}", json={"status": "closed"}, headers=hub.headers
    )
    assert resp.status == 200
    aftershock = await hub.alert("quake-aftershock.cap.xml")  # 30 min later, 11 km away
    assert aftershock["group_id"] == first["group_id"]
    assert aftershock["emergency_id"] not in (None, dismissed)
    assert (await hub.emergency(dismissed))["status"] == "closed"
    assert await hub.watches() == [aftershock["emergency_id"]]
    group = await hub.get(f"/api/v1/alert-groups/{first['group_id']}")
    assert group["emergency_id"] == aftershock["emergency_id"]
    assert group["previous_emergency_ids"] == [dismissed]


# ---- countries from the area ---------------------------------------------------------


async def test_an_area_in_iceland_opens_a_watch_for_iceland(hub: Hub) -> None:
    # No geocode and no country name in the text: only the polygon says where.
    quake = await hub.alert("quake-reykjanes.cap.xml")
    assert quake["countries"] == ["ISL"]
    assert quake["emergency_id"]
    assert (await hub.emergency(quake["emergency_id"]))["countries"] == ["ISL"]


async def test_an_iso_3166_2_geocode_names_its_country(hub: Hub) -> None:
    fire = await hub.alert("bushfire-au-nsw.cap.xml")
    assert fire["countries"] == ["AUS"]


# ---- stale alerts --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "why"),
    [("storm-expired.cap.xml", "expired at"), ("storm-old.cap.xml", "sent more than 72 h")],
)
async def test_stale_alerts_are_stored_but_open_no_watch(hub: Hub, name: str, why: str) -> None:
    storm = await hub.alert(name)
    assert storm["countries"] == ["NOR"] and storm["stale"].startswith(why)
    assert storm["emergency_id"] is None and await hub.watches() == []
    listed = await hub.get("/api/v1/alerts")
    assert [a["id"] for a in listed] == [storm["id"]]


# ---- links and grouping --------------------------------------------------------------


async def test_an_update_that_came_first_is_linked_when_its_original_arrives(hub: Hub) -> None:
    update = await hub.alert("quake-pazarcik-update.cap.xml")
    assert update["references"] == []
    original = await hub.alert("quake-pazarcik.cap.xml")
    assert original["group_id"] == update["group_id"]
    assert original["emergency_id"] == update["emergency_id"] is not None
    assert (await hub.get(f"/api/v1/alerts/{update['id']}"))["references"] == [original["id"]]
    assert await hub.watches() == [update["emergency_id"]]


async def test_an_original_cancelled_before_it_arrived_opens_no_watch(hub: Hub) -> None:
    cancel = await hub.alert("quake-pazarcik-cancel.cap.xml")
    original = await hub.alert("quake-pazarcik.cap.xml")
    assert original["emergency_id"] is None and await hub.watches() == []
    assert (await hub.get(f"/api/v1/alerts/{cancel['id']}"))["references"] == [original["id"]]


async def test_two_quakes_hours_apart_are_two_events(hub: Hub) -> None:
    first = await hub.alert("quake-pazarcik.cap.xml")
    second = await hub.alert("quake-elbistan.cap.xml")  # 6.5 h later, ~50 km away
    assert second["group_id"] != first["group_id"]
    # Two events, one emergency: the second quake is near the first's open watch.
    assert second["emergency_id"] == first["emergency_id"]


# ---- GDACS ---------------------------------------------------------------------------


async def test_gdacs_geojson_gets_a_clear_problem(hub: Hub, pool: asyncpg.Pool) -> None:
    doc = (DOCS / "gdacs-api-events.geojson").read_bytes()
    resp = await hub.client.post(
        "/api/v1/alerts", data=doc, headers={**hub.headers, "Content-Type": "application/json"}
    )
    assert resp.status == 422
    problem = await resp.json(content_type="application/problem+json")
    assert problem["detail"].startswith("JSON received, GDACS RSS expected")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM alerts") == 0
    with pytest.raises(FeedError, match="JSON received, GDACS RSS expected"):
        read_gdacs_rss(doc)  # what the poller logs when its URL answers the API's JSON


@pytest.fixture
async def gdacs_source(now: datetime) -> AsyncIterator[str]:
    """A stand-in for GDACS on loopback, serving the test feed."""
    body = render("gdacs-drought-and-flood.rss.xml", now)

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/rss.xml", serve)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/rss.xml"))
    await server.close()


async def test_gdacs_items_every_country_and_no_watch_for_what_is_over(
    db_url: str, pool: asyncpg.Pool, gdacs_source: str
) -> None:
    settings = Settings(
        database_url=db_url, pool_min_size=1, pool_max_size=5, gdacs_url=gdacs_source,
        feed_interval_seconds=0.05,
    )  # fmt: skip
    async with TestClient(TestServer(create_app(settings))):
        await eventually(lambda: _stored(pool, 2))
    async with pool.acquire() as conn:
        rows = {
            r["identifier"]: r
            for r in await conn.fetch("SELECT * FROM alerts WHERE sender = 'gdacs.org'")
        }
    drought, flood = (rows[k] for k in ("DR1099001-3", "FL1099002-1"))
    assert drought["countries"] == ["MDA", "ROU", "UKR"]
    assert drought["stale"] == "the source marks the event as no longer current"
    assert drought["emergency_id"] is None
    assert flood["countries"] == ["BGR", "ROU"] and flood["stale"] is None
    async with pool.acquire() as conn:
        watch = await conn.fetchrow(
            "SELECT * FROM emergencies WHERE id = $1", flood["emergency_id"]
        )
    assert (watch["status"], watch["countries"]) == ("watch", ["BGR", "ROU"])


async def _stored(pool: asyncpg.Pool, n: int) -> bool:
    async with pool.acquire() as conn:
        return bool(await conn.fetchval("SELECT count(*) >= $1 FROM alerts", n))
