"""The duty officer's views on a busy picture — board, emergency page, alert inbox,
situation report, partners — driven by keyboard where it matters, and saved as
screenshots (artifacts/screenshots/; EADRCC_SCREENSHOTS_TO_DOCS=1 refreshes the
ones under docs/screenshots/)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Api, Console, Hub, TokenMaker, emergency_body, item

OpenConsole = Callable[..., Console]
PLACES = {
    "Kahramanmaraş": (37.58, 36.93),
    "Antakya": (36.20, 36.16),
    "Adıyaman": (37.76, 38.28),
}
NEEDS = [
    ("usar.heavy", 6, "critical", "Kahramanmaraş"),
    ("usar.medium", 4, "critical", "Antakya"),
    ("medical.emt.type2", 3, "high", "Adıyaman"),
    ("shelter.tent.winterised", 2000, "high", "Kahramanmaraş"),
    ("shelter.blanket", 10000, "normal", "Antakya"),
    ("power.generator", 100, "high", "Antakya"),
]
OFFERS = [
    ("NOR", "direct", [("usar.heavy", 1, (59.91, 10.75))]),
    (
        "DEU",
        "eu_ucpm",
        [("usar.heavy", 2, (50.11, 8.68)), ("shelter.tent.winterised", 800, (50.11, 8.68))],
    ),
    ("ITA", "eu_ucpm", [("medical.emt.type2", 1, (41.90, 12.50))]),
    (
        "POL",
        "direct",
        [("usar.medium", 1, (52.23, 21.01)), ("shelter.blanket", 12000, (52.23, 21.01))],
    ),
    ("AZE", "bilateral", [("usar.medium", 1, (40.41, 49.87))]),
    ("USA", "direct", [("power.generator.medium", 40, (38.90, -77.04))]),
    ("JPN", "direct", [("medical.emt.type2", 1, (35.68, 139.69))]),
]


@pytest.fixture(scope="module")
def picture(hub: Hub, token_for: TokenMaker) -> dict[str, Any]:
    officer = Api(hub.url, token_for("duty_officer"))
    integration_free = officer  # a duty officer may post alerts without signing them
    main = officer.ok(
        "POST", "/api/v1/emergencies", emergency_body(title="M7.8 earthquake, Kahramanmaraş")
    )
    rfa = officer.ok(
        "POST",
        f"/api/v1/emergencies/{main['id']}/requests",
        {
            "requesting_country": "TUR",
            "reference": "TUR-AFAD-0206",
            "needs": [
                {
                    "resource_type": t,
                    "quantity": q,
                    "priority": p,
                    "delivery": {"lat": PLACES[place][0], "lon": PLACES[place][1], "place": place},
                }
                for t, q, p, place in NEEDS
            ],
        },
    )
    matches: dict[tuple[str, str], dict[str, Any]] = {}
    for country, channel, items in OFFERS:
        made = officer.ok(
            "POST",
            "/api/v1/offers",
            {
                "emergency_id": main["id"],
                "offering_country": country,
                "channel": channel,
                "items": [
                    item(t, q, origin={"lat": lat, "lon": lon}) for t, q, (lat, lon) in items
                ],
            },
        )
        for m in made["matches"]:
            matches[(country, m["resource_type"])] = m
    accept = [
        ("NOR", "usar.heavy"),
        ("DEU", "usar.heavy"),
        ("ITA", "medical.emt.type2"),
        ("DEU", "shelter.tent.winterised"),
    ]
    for key in accept:
        officer.ok("POST", f"/api/v1/matches/{matches[key]['id']}/accept", {})
    norway = matches[("NOR", "usar.heavy")]["id"]
    officer.ok("POST", f"/api/v1/matches/{norway}/dispatch", {"quantity": 1})
    officer.ok("POST", f"/api/v1/matches/{norway}/deliver", {"quantity": 1})
    tents = matches[("DEU", "shelter.tent.winterised")]["id"]
    officer.ok("POST", f"/api/v1/matches/{tents}/dispatch", {"quantity": 500})
    officer.ok(
        "POST",
        "/api/v1/emergencies",
        emergency_body(
            title="EXERCISE Trident Shield: flooding, Danube basin",
            hazard="flood",
            countries=["ROU", "BGR"],
            location={"lat": 44.2, "lon": 26.1},
            severity="moderate",
            exercise=True,
        ),
    )
    closed = officer.ok(
        "POST",
        "/api/v1/emergencies",
        emergency_body(
            title="Storm Daniel, Thessaly",
            hazard="storm",
            countries=["GRC"],
            location={"lat": 39.6, "lon": 22.4},
            severity="severe",
        ),
    )
    officer.ok("PATCH", f"/api/v1/emergencies/{closed['id']}", {"status": "closed"})
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    for n, (event, country, lat, lon, level) in enumerate(
        [
            ("Forest fire", "GRC", 38.1, 23.8, "red"),
            ("Flood", "UKR", 46.6, 32.6, "orange"),
            ("Earthquake", "ITA", 42.4, 13.4, None),
        ]
    ):
        status, _ = integration_free.call(
            "POST",
            "/api/v1/alerts",
            {
                "identifier": f"e2e-{n}",
                "sender": "gdacs@example.org",
                "sent": now,
                "event": event,
                "severity": "Severe",
                "certainty": "Observed",
                "urgency": "Immediate",
                "headline": f"{event} in {country}",
                "countries": [country],
                "location": {"lat": lat, "lon": lon},
                **({"level": level} if level else {}),
            },
        )
        assert status == 201
    return {"officer": officer, "main": main["id"], "rfa": rfa}


def test_board_shows_emergencies_by_status_with_exercises_apart(
    picture: dict[str, Any], token_for: TokenMaker, open_console: OpenConsole
) -> None:
    c = open_console(token_for("duty_officer"))
    page = c.page
    real = page.locator("section.board.real")
    expect(real.locator(".col-active .card-title")).to_contain_text(
        ["M7.8 earthquake, Kahramanmaraş"]
    )
    expect(real.locator(".col-closed .card-title")).to_contain_text(["Storm Daniel, Thessaly"])
    expect(real.locator(".col-watch .emergency-card")).to_have_count(3)
    expect(page.locator("section.board.exercises .card-title")).to_contain_text(["EXERCISE"])
    expect(real.locator(".col-active .card-stats")).to_contain_text("1 RFA · 6 needs")
    c.screenshot("board", docs=True)


def test_emergency_page_bars_map_and_keyboard(
    picture: dict[str, Any], token_for: TokenMaker, open_console: OpenConsole
) -> None:
    c = open_console(token_for("duty_officer"))
    page = c.go(f"#/e/{picture['main']}")
    heavy = page.locator(f'li.need[data-need-id="{picture["rfa"]["needs"][0]["id"]}"]')
    # Three teams accepted, one of them arrived: accepted (not yet moving) is 2.
    expect(heavy).to_have_attribute("data-accepted", "2")
    expect(heavy).to_have_attribute("data-delivered", "1")
    expect(page.locator("svg.map path.struck[data-iso3='TUR']").first).to_be_visible()
    expect(page.locator("svg.map path.offering[data-iso3='JPN']")).to_have_count(1)
    expect(page.locator("svg.timeline .lane-accepted circle")).to_have_count(4)
    c.screenshot("emergency", docs=True)

    # Keyboard: Tab reaches the first proposal's Accept, a real <button> with a visible focus ring.
    page.locator("li.proposal input.qty").first.focus()
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => [document.activeElement.tagName, document.activeElement.textContent,"
        " getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert focused == ["BUTTON", "Accept", "solid"]
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.classList.contains('qty')")


def test_alert_inbox_promotes_a_watch(
    picture: dict[str, Any], token_for: TokenMaker, open_console: OpenConsole
) -> None:
    c = open_console(token_for("duty_officer"))
    page = c.go("#/alerts")
    fire = page.locator("li.alert", has_text="Forest fire in GRC")
    expect(fire.locator(".alert-watch")).to_contain_text("now watch")
    expect(page.locator("li.alert")).to_have_count(3)
    c.screenshot("alert-inbox", docs=True)
    fire.get_by_role("button", name="Promote to emergency").click()
    expect(page.locator("li.alert")).to_have_count(
        2
    )  # acknowledged: out of the unacknowledged list
    page.get_by_label("Unacknowledged only").uncheck()
    expect(page.locator("li.alert")).to_have_count(3)
    expect(fire).to_have_class("alert card acknowledged")
    expect(fire.locator(".alert-watch")).to_contain_text("now active")


def test_sitrep_partners_and_a_pocs_offer_form(
    picture: dict[str, Any], token_for: TokenMaker, open_console: OpenConsole
) -> None:
    c = open_console(token_for("duty_officer"))
    page = c.go(f"#/e/{picture['main']}/sitrep")
    expect(page.locator(".sitrep h2")).to_contain_text("Situation report")
    expect(page.locator(".sitrep")).to_contain_text("Outstanding needs")
    c.screenshot("sitrep")
    with page.expect_download() as got:
        page.get_by_role("button", name="Download CSV").click()
    assert got.value.suggested_filename.endswith(".csv")
    assert "usar.heavy" in Path(got.value.path()).read_text("utf-8")
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    page.emulate_media(media="screen")

    page = c.go("#/partners")
    page.fill("#partner-filter", "OCC")
    expect(page.locator("table.partners tbody tr").first).to_be_visible()
    c.screenshot("partners")

    poc = open_console(token_for("poc", "POL"))
    page = poc.go(f"#/e/{picture['main']}/offer")
    page.select_option("select[name='items.0.resource_type']", "usar.medium")
    page.fill("input[name='items.0.quantity']", "1")
    page.locator("[data-field='items.0.credentials'] input[value='nato.occ.evaluated']").check()
    page.get_by_role("button", name="Send the offer").click()
    # Nothing was chosen for the user: the channel and the time are asked for.
    expect(page.locator("[data-field='channel'] .field-error")).to_contain_text("channel")
    expect(page.locator("[data-field='items.0.available_from'] .field-error")).to_contain_text(
        "UTC"
    )
    page.locator(".item-row").scroll_into_view_if_needed()
    poc.screenshot("poc-offer-form", docs=True)
