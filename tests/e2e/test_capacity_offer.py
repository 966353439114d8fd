"""National capacities in the console: a POC offers its declared capacity from the
RFA page with one click and a quantity; duty officers read the register (by type,
by nation from the partner directory) and export it as CSV."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Api, Console, Hub, TokenMaker, emergency_body

OpenConsole = Callable[..., Console]
OSLO = {"lat": 59.91, "lon": 10.75, "place": "Oslo"}


@pytest.fixture(scope="module")
def story(hub: Hub, token_for: TokenMaker) -> dict[str, Any]:
    officer = Api(hub.url, token_for("duty_officer"))
    tur = Api(hub.url, token_for("poc", "TUR"))
    nor = Api(hub.url, token_for("poc", "NOR"))
    emergency = officer.ok("POST", "/api/v1/emergencies", emergency_body())
    rfa = tur.ok(
        "POST",
        f"/api/v1/emergencies/{emergency['id']}/requests",
        {
            "requesting_country": "TUR",
            "needs": [
                {
                    "resource_type": "usar.medium",
                    "quantity": 2,
                    "priority": "critical",
                    "delivery": {"lat": 37.57, "lon": 36.93, "place": "Kahramanmaraş"},
                }
            ],
        },
    )
    capacity = nor.ok(
        "POST",
        "/api/v1/capacities",
        {
            "country": "NOR",
            "resource_type": "usar.heavy",
            "quantity": 3,
            "readiness_hours": 10,
            "home_base": OSLO,
            "credentials": ["insarag.classified"],
            "self_sufficient": True,
            "valid_until": (datetime.now(UTC) + timedelta(days=365)).isoformat(),
            "name": "=NUSAR heavy team",
        },
    )
    return {
        "emergency": emergency["id"],
        "need": rfa["needs"][0]["id"],
        "capacity": capacity["id"],
        "officer": officer,
    }


def test_a_poc_offers_a_declared_capacity_from_the_rfa_page(
    story: dict[str, Any], token_for: TokenMaker, open_console: OpenConsole
) -> None:
    poc = open_console(token_for("poc", "NOR"))
    page = poc.go(f"#/e/{story['emergency']}")
    need = page.locator(f"li.need[data-need-id='{story['need']}']")
    # Other nations that could help are named (teams known from public lists among them).
    expect(need.locator(".could-help li.provider.public").first).to_be_visible()
    form = need.locator(f"form.capacity-offer[data-capacity-id='{story['capacity']}']")
    expect(form).to_contain_text("Your declared capacity could help")
    form.get_by_label("Quantity to offer").fill("1")
    poc.screenshot("capacity-one-click-offer")
    form.get_by_role("button", name="Offer").click()
    # The confirmation stays once Norway's capacity leaves the list (it has offered).
    done = need.locator(".could-help .offer-done")
    expect(done).to_have_text("Offered \u00d71")
    expect(need.locator("form.capacity-offer")).to_have_count(0)
    offer_id = done.get_attribute("data-offer-id")
    offer = story["officer"].ok("GET", f"/api/v1/offers/{offer_id}")
    (built,) = offer["items"]
    assert (offer["offering_country"], built["resource_type"], built["quantity"]) == (
        "NOR",
        "usar.heavy",
        1,
    )
    assert built["origin"] == {"lat": OSLO["lat"], "lon": OSLO["lon"]}
    matches = story["officer"].ok("GET", f"/api/v1/emergencies/{story['emergency']}/matches")
    assert [(m["need_id"], m["quantity"]) for m in matches if m["offer_id"] == offer_id] == [
        (story["need"], 1)
    ]


def test_the_register_by_type_by_nation_and_as_csv(
    story: dict[str, Any], token_for: TokenMaker, open_console: OpenConsole
) -> None:
    c = open_console(token_for("duty_officer"))
    page = c.go("#/partners")
    page.locator("table.partners tr", has_text="Norway").locator("a.capacities-link").click()
    expect(page.locator(".page-title")).to_have_text("Capacities of Norway")
    declared = page.locator("section[data-source=declared] tbody tr")
    expect(declared).to_have_count(1)
    expect(declared.first).to_contain_text("Oslo")
    page = c.go("#/capacities")
    page.select_option("#cap-resource_type", "usar.heavy")
    public = page.locator("section[data-source=public] tbody tr")
    expect(public.first).to_be_visible()
    expect(page.locator("section[data-source=public] tr[data-expired=true]").first).to_contain_text(
        "EXPIRED"
    )
    page.fill("#cap-ready_within", "5")
    page.locator("#cap-ready_within").dispatch_event("change")
    expect(page.locator("table.capacities tbody tr")).to_have_count(0)
    page.fill("#cap-ready_within", "")
    page.locator("#cap-ready_within").dispatch_event("change")
    expect(declared).to_have_count(1)
    c.screenshot("capacities-register")
    with page.expect_download() as got:
        page.get_by_role("button", name="Export CSV").click()
    text = Path(got.value.path()).read_text("utf-8")
    assert story["capacity"] in text and "'=NUSAR heavy team" in text
