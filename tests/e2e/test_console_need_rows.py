"""What a need row tells a duty officer beyond its bar: when help is due (the ETA
line), the same help offered through two channels, the other offers that could
fill it (never counted), and a late mark that appears as the needed-by time passes,
with no event and no reload."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import Api, Console, Hub, TokenMaker
from tests.e2e.test_console_everywhere import serious_violations

OpenConsole = Callable[..., Console]
TICK_S = 15  # clock.js TICK_MS: the views redraw late and at-risk this often


def _at(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def _offer(eid: str, country: str, channel: str, code: str, quantity: int) -> dict[str, Any]:
    return {
        "emergency_id": eid,
        "offering_country": country,
        "channel": channel,
        "items": [
            {
                "resource_type": code,
                "quantity": quantity,
                "available_from": _at(-1),
                "origin": {"lat": 52.5, "lon": 13.4},
            }
        ],
    }


def _emergency(officer: Api, needs: list[tuple[str, int, str | None]]) -> tuple[str, list[str]]:
    e = officer.ok(
        "POST",
        "/api/v1/emergencies",
        {
            "title": "Need rows",
            "hazard": "flood",
            "countries": ["TUR"],
            "location": {"lat": 37.2, "lon": 37.0},
            "severity": "severe",
        },
    )
    rfa = officer.ok(
        "POST",
        f"/api/v1/emergencies/{e['id']}/requests",
        {
            "requesting_country": "TUR",
            "needs": [
                {"resource_type": t, "quantity": q, "priority": "high", "needed_by": by}
                for t, q, by in needs
            ],
        },
    )
    return e["id"], [n["id"] for n in rfa["needs"]]


def test_need_rows_show_eta_duplicate_pairs_and_alternatives(
    hub: Hub, token_for: TokenMaker, open_console: OpenConsole
) -> None:
    officer = Api(hub.url, token_for("duty_officer"))
    eid, (tents, blankets, water) = _emergency(
        officer,
        [
            ("shelter.tent.family", 100, _at(30)),
            ("shelter.blanket", 500, _at(48)),
            ("water.purification", 4, _at(30)),
        ],
    )
    # Tents: Germany's 100 are proposed and fill the need's proposals; France's 50
    # then have nowhere to go and are listed as an alternative (not counted).
    officer.ok("POST", "/api/v1/offers", _offer(eid, "DEU", "direct", "shelter.tent.family", 100))
    officer.ok("POST", "/api/v1/offers", _offer(eid, "FRA", "direct", "shelter.tent.family", 50))
    # Blankets: Poland announces the same 300 through the EU and bilaterally.
    officer.ok("POST", "/api/v1/offers", _offer(eid, "POL", "eu_ucpm", "shelter.blanket", 300))
    officer.ok("POST", "/api/v1/offers", _offer(eid, "POL", "bilateral", "shelter.blanket", 300))
    # Water: accepted and half of it dispatched with an ETA.
    purifiers = officer.ok(
        "POST", "/api/v1/offers", _offer(eid, "ITA", "eu_ucpm", "water.purification", 4)
    )
    [match] = purifiers["matches"]
    officer.ok("POST", f"/api/v1/matches/{match['id']}/accept", {})
    officer.ok("POST", f"/api/v1/matches/{match['id']}/dispatch", {"quantity": 2, "eta": _at(6)})

    console = open_console(token_for("duty_officer"))
    page = console.go(f"#/e/{eid}")
    row = page.locator(f'li.need[data-need-id="{tents}"]')
    alternatives = row.locator(".need-alts")
    expect(alternatives).to_be_visible()
    expect(alternatives).to_contain_text("Could also fill it (not counted):")
    expect(alternatives.locator("li")).to_have_count(1)
    expect(alternatives.locator("li")).to_have_text(re.compile(r"^France: 50 .*could arrive"))
    # A list a screen reader announces under its visible title.
    title_id = alternatives.locator(".need-list-title").get_attribute("id")
    expect(alternatives.locator("ul")).to_have_attribute("aria-labelledby", str(title_id))
    expect(row).to_have_attribute("data-uncovered-quantity", "100")  # still not counted

    pairs = page.locator(f'li.need[data-need-id="{blankets}"] .need-dups')
    expect(pairs).to_be_visible()
    expect(pairs.locator("li")).to_have_text(
        ["Poland offers it twice: through EU Civil Protection Mechanism and through Bilateral"]
    )
    expect(page.locator(f'li.need[data-need-id="{tents}"] .need-dups')).to_be_hidden()

    eta = page.locator(f'li.need[data-need-id="{water}"] .need-eta')
    expect(eta).to_contain_text("help due")
    expect(eta).to_contain_text("Italy: 2 on the way, due")
    expect(page.locator(f'li.need[data-need-id="{blankets}"] .need-eta')).to_be_hidden()
    assert serious_violations(page) == []
    console.screenshot("need-rows-alternatives-duplicates")


def test_a_need_turns_late_when_its_needed_by_passes_without_any_event(
    hub: Hub, token_for: TokenMaker, open_console: OpenConsole
) -> None:
    officer = Api(hub.url, token_for("duty_officer"))
    eid, (need,) = _emergency(officer, [("shelter.blanket", 50, _at(10 / 60))])
    console = open_console(token_for("duty_officer"))
    page = console.go(f"#/e/{eid}")
    row = page.locator(f'li.need[data-need-id="{need}"]')
    # Due in 10 minutes with nothing accepted: at risk, not yet late.
    expect(row).to_have_attribute("data-at-risk", "true")
    expect(row).to_have_attribute("data-late", "false")
    expect(row.locator(".flag-late")).to_be_hidden()
    # The row's last redraw on loading: the RFA's details are in (the could-help cell
    # was drawn with the answer). From here only the clock's tick redraws it.
    expect(row.locator(".could-help")).to_have_attribute("data-shown", re.compile(r"^\[\["))
    # The console's clock moves 20 minutes on; nothing is sent, nothing reloaded.
    page.evaluate("() => { window.__eadrccNow = () => Date.now() + 20 * 60 * 1000; }")
    expect(row).to_have_attribute("data-late", "true", timeout=(TICK_S * 2 + 30) * 1000)
    expect(row).to_have_class(re.compile(r"\blate\b"))
    expect(row.locator(".flag-late")).to_be_visible()
    expect(page.locator(".kpi.bad", has_text="Late").locator(".kpi-value")).to_have_text("1")
    # The board's card counts it too, by the same clock.
    page = console.go("#/")
    card = page.locator(".emergency-card", has=page.locator(f'a[href="#/e/{eid}"]'))
    expect(card).to_have_attribute("data-late", "1")
