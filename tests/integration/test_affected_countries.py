"""Who declares a nation struck: a POC only its own; staff add others by PATCH,
recorded in the log — and the nation added then sees the emergency's offers."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.conftest import TokenFactory
from tests.integration.ops_helpers import api, emergency_body, item

Client = TestClient  # type: ignore[type-arg]


async def test_a_poc_names_only_its_own_country(client: Client, make_token: TokenFactory) -> None:
    tur = await api(client, make_token, "poc", "TUR")
    before = await tur.get("/api/v1/emergencies")
    refused = await tur.post(
        "/api/v1/emergencies", emergency_body(countries=["TUR", "USA", "DEU"]), expect=403
    )
    assert "USA" in refused["detail"]
    assert await tur.get("/api/v1/emergencies") == before  # nothing created
    await tur.post("/api/v1/emergencies", emergency_body(countries=["TUR"]), expect=201)


async def test_staff_add_a_nation_and_it_is_recorded(
    client: Client, make_token: TokenFactory
) -> None:
    officer = await api(client, make_token, "duty_officer")
    tur = await api(client, make_token, "poc", "TUR")
    geo = await api(client, make_token, "poc", "GEO")
    nor = await api(client, make_token, "poc", "NOR")
    emergency = await tur.post("/api/v1/emergencies", emergency_body(), expect=201)
    path = f"/api/v1/emergencies/{emergency['id']}"
    await nor.post(
        "/api/v1/offers",
        {
            "emergency_id": emergency["id"],
            "offering_country": "NOR",
            "channel": "direct",
            "items": [item("shelter.blanket", 10)],
        },
        expect=201,
    )
    assert (await geo.get(f"{path}/snapshot"))["offers"] == []
    await tur.call("PATCH", path, {"countries": ["TUR", "GEO"]}, expect=403)
    await officer.call("PATCH", path, {"countries": ["TUR", "TUR"]}, expect=422)
    updated = await officer.call("PATCH", path, {"countries": ["TUR", "GEO"]}, expect=200)
    assert updated["countries"] == ["TUR", "GEO"]
    log = await officer.get("/api/v1/events?since=0&limit=5000")
    changes = [e for e in log["events"] if e["kind"] == "emergency.updated"]
    assert changes[-1]["data"]["countries"] == ["TUR", "GEO"]
    assert changes[-1]["actor"].startswith("duty_officer")
    assert len((await geo.get(f"{path}/snapshot"))["offers"]) == 1
