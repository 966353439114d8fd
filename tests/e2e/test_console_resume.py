"""The hub stops and starts again under an open console: it says so, reconnects by
itself, and catches up from the last event it saw with no row missed or doubled."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import expect

from tests.e2e.conftest import Api, Console, Hub, TokenMaker, emergency_body, item, query


def test_a_restart_shows_reconnecting_then_catches_up_without_gaps_or_doubles(
    hub: Hub, hub_db: str, token_for: TokenMaker, open_console: Callable[..., Console]
) -> None:
    officer = Api(hub.url, token_for("duty_officer"))
    emergency = officer.ok("POST", "/api/v1/emergencies", emergency_body())["id"]
    rfa = officer.ok(
        "POST",
        f"/api/v1/emergencies/{emergency}/requests",
        {
            "requesting_country": "TUR",
            "needs": [{"resource_type": "shelter.blanket", "quantity": 9000}],
        },
    )
    blankets = rfa["needs"][0]["id"]
    console = open_console(token_for("duty_officer"))
    page = console.go(f"#/e/{emergency}")
    row = page.locator(f'li.need[data-need-id="{blankets}"]')
    expect(row).to_have_attribute("data-proposed", "0")
    page.evaluate("window.__sameDocument = true")

    hub.stop()
    expect(page.locator("#conn")).to_have_attribute("data-state", "reconnecting")
    expect(page.locator("#conn")).to_contain_text("Reconnecting")

    # While it is down, another instance on the same database takes offers.
    other = Hub(hub_db)
    other.start()
    try:
        elsewhere = Api(other.url, officer.token)
        for n, country in enumerate(["NOR", "DEU", "POL"], start=1):
            elsewhere.ok(
                "POST",
                "/api/v1/offers",
                {
                    "emergency_id": emergency,
                    "offering_country": country,
                    "channel": "direct",
                    "items": [item("shelter.blanket", 1000 * n)],
                },
            )
    finally:
        other.stop()
    head = query(hub_db, "SELECT max(seq) AS head FROM events")[0]["head"]

    hub.start()  # the same port: the page reconnects by itself, with backoff
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(page.locator(f"#feed-list li[data-seq='{head}']")).to_have_count(1)
    expect(row).to_have_attribute("data-proposed", "6000")
    assert page.evaluate("window.__sameDocument") is True

    shown = console.feed_seqs()
    assert shown == sorted(shown, reverse=True), "the feed is newest first, each once"
    logged = [
        r["seq"]
        for r in query(hub_db, "SELECT seq FROM events WHERE seq >= $1 ORDER BY seq", min(shown))
    ]
    assert sorted(shown) == logged  # nothing missed, nothing doubled
