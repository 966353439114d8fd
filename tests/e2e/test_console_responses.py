"""The response matrix in the console: a duty officer's grid moves live as a nation
opens the RFA and acknowledges it in its own console; "unable" needs a reason;
the silence filter and the counts follow. One hub and one browser for the module."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import EXPECT_MS, Api, Console, Hub, TokenMaker, emergency_body

OpenConsole = Callable[..., Console]


@pytest.fixture(scope="module")
def story(hub: Hub, token_for: TokenMaker) -> dict[str, Any]:
    """An exercise with Türkiye's RFA circulated to Norway, Germany and France."""
    officer = Api(hub.url, token_for("duty_officer"))
    emergency = officer.ok("POST", "/api/v1/emergencies", emergency_body(exercise=True))
    officer.ok(
        "POST",
        f"/api/v1/emergencies/{emergency['id']}/requests",
        {
            "requesting_country": "TUR",
            "needs": [{"resource_type": "shelter.tent.family", "quantity": 500}],
        },
    )
    officer.ok(
        "PUT",
        f"/api/v1/emergencies/{emergency['id']}/distribution",
        {"countries": ["DEU", "FRA", "NOR"]},
    )
    return {"officer": officer, "emergency": emergency["id"]}


def grid_row(console: Console, country: str) -> Any:
    return console.page.locator(f'table.responses-grid tr[data-country="{country}"]')


def test_the_grid_updates_live_when_a_nation_opens_and_acknowledges(
    story: dict[str, Any], token_for: TokenMaker, open_console: OpenConsole
) -> None:
    officer = open_console(token_for("duty_officer"))
    page = officer.go(f"#/e/{story['emergency']}")
    nor_row = grid_row(officer, "NOR")
    expect(nor_row).to_have_attribute("data-state", "notified")
    expect(page.locator("table.responses-grid tbody tr")).to_have_count(3)
    page.evaluate("window.__sameDocument = true")

    nor = open_console(token_for("poc", "NOR"))
    nor.go(f"#/e/{story['emergency']}")  # opening the RFA: Norway has seen it
    expect(nor_row).to_have_attribute("data-state", "seen")
    expect(nor.page.locator(".response-answer")).to_have_attribute("data-state", "seen")

    nor.page.click("#response-ack")
    expect(nor.page.locator(".response-answer")).to_have_attribute("data-state", "acknowledged")
    expect(nor_row).to_have_attribute("data-state", "acknowledged")
    expect(nor_row.locator('td[data-col="acknowledged"]')).to_have_class("current")
    expect(page.locator(".response-counts")).to_contain_text("Acknowledged 1")
    assert page.evaluate("window.__sameDocument") is True  # live, not reloaded

    # "Silent for more than 0 hours": the nation that answered drops out.
    page.fill("#responses-silent", "0")
    expect(page.locator("table.responses-grid tbody tr")).to_have_count(2)
    expect(nor_row).to_have_count(0)
    officer.screenshot("response-matrix", docs=True)


def test_unable_needs_a_reason_and_shows_in_french(
    story: dict[str, Any], hub: Hub, token_for: TokenMaker, open_console: OpenConsole
) -> None:
    deu = open_console(token_for("poc", "DEU"))
    page = deu.go(f"#/e/{story['emergency']}")
    panel = page.locator(".response-answer")
    expect(panel).to_be_visible()
    page.click("#response-unable")
    expect(page.locator(".response-note")).to_have_text("Say why your nation is unable to assist")
    page.fill("#response-reason", "All our tents are deployed at home")
    page.click("#response-unable")
    expect(panel).to_have_attribute("data-state", "unable")
    expect(page.locator(".response-state")).to_contain_text("All our tents are deployed at home")

    officer = open_console(token_for("duty_officer"))
    officer.page.goto(f"{hub.url}/console?lang=fr#/e/{story['emergency']}")
    officer.page.wait_for_selector("#conn[data-state=live]", timeout=EXPECT_MS)
    row = grid_row(officer, "DEU")
    expect(row).to_have_attribute("data-state", "unable")
    expect(officer.page.locator("#responses-title")).to_have_text("Réponses des nations")
    expect(officer.page.locator(".response-counts")).to_contain_text("Dans l'incapacité d'aider")


def test_the_grid_marks_a_nation_asked_for_what_it_declared(
    hub: Hub, token_for: TokenMaker, open_console: OpenConsole
) -> None:
    """Norway declared a heavy USAR team; an RFA asking for USAR marks Norway's row,
    France's stays plain; cancelling the need takes the mark off live, and a new RFA
    it fits puts it back, both without a reload."""
    officer = Api(hub.url, token_for("duty_officer"))
    officer.ok(
        "POST",
        "/api/v1/capacities",
        {
            "country": "NOR",
            "resource_type": "usar.heavy",
            "quantity": 1,
            "readiness_hours": 10,
            "valid_until": (datetime.now(UTC) + timedelta(days=365)).isoformat(),
        },
    )
    emergency = officer.ok("POST", "/api/v1/emergencies", emergency_body(exercise=True))["id"]
    officer.ok(
        "PUT", f"/api/v1/emergencies/{emergency}/distribution", {"countries": ["FRA", "NOR"]}
    )
    usar = {"resource_type": "usar.medium", "quantity": 1}
    rfa = officer.ok(
        "POST",
        f"/api/v1/emergencies/{emergency}/requests",
        {"requesting_country": "TUR", "needs": [usar]},
    )
    console = open_console(token_for("duty_officer"))
    page = console.go(f"#/e/{emergency}")
    mark = grid_row(console, "NOR").locator('td[data-col="declared"] .declared-mark')
    expect(mark).to_have_text("declared: Heavy USAR team \u00d71")
    expect(mark).to_have_attribute("title", "Heavy USAR team \u00d71 for need Medium USAR team")
    expect(grid_row(console, "FRA")).to_have_attribute("data-state", "notified")
    expect(grid_row(console, "FRA").locator(".declared-mark")).to_have_count(0)
    page.evaluate("window.__sameDocument = true")

    need = rfa["needs"][0]["id"]
    officer.ok("PATCH", f"/api/v1/requests/{rfa['id']}/needs/{need}", {"status": "cancelled"})
    expect(mark).to_have_count(0)
    officer.ok(
        "POST",
        f"/api/v1/emergencies/{emergency}/requests",
        {"requesting_country": "TUR", "needs": [usar]},
    )
    expect(mark).to_have_count(1)
    assert page.evaluate("window.__sameDocument") is True


def test_a_circulation_is_one_feed_row_naming_how_many_nations(
    hub: Hub, token_for: TokenMaker, open_console: OpenConsole
) -> None:
    """A real emergency's RFA goes to every Ally and partner: one request.circulated
    each. The duty officer's feed folds them into one row instead of ~67 lines."""
    officer = open_console(token_for("duty_officer"))
    page = officer.page
    api = Api(hub.url, token_for("duty_officer"))
    emergency = api.ok("POST", "/api/v1/emergencies", emergency_body())
    api.ok(
        "POST",
        f"/api/v1/emergencies/{emergency['id']}/requests",
        {
            "requesting_country": "TUR",
            "needs": [{"resource_type": "shelter.blanket", "quantity": 100}],
        },
    )
    nations = len(api.ok("GET", f"/api/v1/emergencies/{emergency['id']}/responses"))
    assert nations > 20  # the default list: every Ally and partner but Türkiye
    rows = page.locator(
        f"#feed-list li[data-kind='request.circulated']:has(a[href='#/e/{emergency['id']}'])"
    )
    expect(rows.first).to_have_attribute("data-seqs", _count_of(nations))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"RFA circulated to {nations} nations")
    seqs = officer.feed_seqs()
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == len(set(seqs))


def _count_of(n: int) -> Any:
    """A data-seqs value holding exactly n seqs."""
    import re

    return re.compile(rf"^\d+(?: \d+){{{n - 1}}}$")
