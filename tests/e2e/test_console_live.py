"""The console live: bars that move as offers arrive, a decision in one console seen
in another, the POC offer form with the server's field errors, and what a POC
may not see. One hub and one browser for the module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Api, Console, Hub, TokenMaker, emergency_body, item

OpenConsole = Callable[..., Console]


@pytest.fixture(scope="module")
def ops(hub: Hub, token_for: TokenMaker) -> dict[str, Any]:
    """An emergency with Türkiye's RFA, and an API client per role."""
    apis = {
        "officer": Api(hub.url, token_for("duty_officer")),
        "TUR": Api(hub.url, token_for("poc", "TUR")),
        "NOR": Api(hub.url, token_for("poc", "NOR")),
        "DEU": Api(hub.url, token_for("poc", "DEU")),
    }
    emergency = apis["officer"].ok("POST", "/api/v1/emergencies", emergency_body())
    rfa = apis["TUR"].ok(
        "POST",
        f"/api/v1/emergencies/{emergency['id']}/requests",
        {
            "requesting_country": "TUR",
            "reference": "TUR-RFA-1",
            "needs": [
                {
                    "resource_type": "usar.heavy",
                    "quantity": 4,
                    "priority": "critical",
                    "delivery": {"lat": 37.58, "lon": 36.93, "place": "Kahramanmaraş"},
                },
                {"resource_type": "shelter.tent.family", "quantity": 1000, "priority": "high"},
                {"resource_type": "medical.emt.type2", "quantity": 2, "priority": "high"},
            ],
        },
    )
    return {"apis": apis, "emergency": emergency["id"], "rfa": rfa}


def need_row(console: Console, need_id: str) -> Any:
    return console.page.locator(f'li.need[data-need-id="{need_id}"]')


def offer(api: Api, emergency: str, country: str, *items: dict[str, Any]) -> Any:
    return api.ok(
        "POST",
        "/api/v1/offers",
        {
            "emergency_id": emergency,
            "offering_country": country,
            "channel": "direct",
            "items": list(items),
        },
    )


def test_an_offer_posted_through_the_api_moves_a_need_bar_without_reload(
    ops: dict[str, Any], token_for: TokenMaker, open_console: OpenConsole
) -> None:
    officer = open_console(token_for("duty_officer"))
    page = officer.go(f"#/e/{ops['emergency']}")
    tents = ops["rfa"]["needs"][1]["id"]
    row = need_row(officer, tents)
    expect(row).to_have_attribute("data-proposed", "0")
    page.evaluate("window.__sameDocument = true")

    made = offer(ops["apis"]["NOR"], ops["emergency"], "NOR", item("shelter.tent.winterised", 300))

    expect(row).to_have_attribute("data-proposed", "300")
    expect(row.locator(".seg-proposed")).not_to_have_attribute("style", "width: 0%;")
    # A proposal is not cover: the whole 1,000 stays uncovered until accepted.
    expect(row.locator(".flag-gap")).to_have_text("UNCOVERED 1,000")
    assert page.evaluate("window.__sameDocument") is True  # no reload
    expect(page.locator(f'tr[data-offer-id="{made["id"]}"]')).to_be_visible()
    first = page.locator("#feed-list li[data-kind='offer.created']").first
    expect(first).to_contain_text("Norway")
    expect(first.locator(".feed-emergency")).to_contain_text("Kahramanmaraş")  # which emergency


def test_accepting_in_the_console_updates_the_requesting_pocs_console(
    ops: dict[str, Any], token_for: TokenMaker, open_console: OpenConsole
) -> None:
    usar = ops["rfa"]["needs"][0]["id"]
    made = offer(ops["apis"]["DEU"], ops["emergency"], "DEU", item("usar.heavy", 2))
    match = next(m for m in made["matches"] if m["need_id"] == usar)
    officer = open_console(token_for("duty_officer"))
    turkey = open_console(token_for("poc", "TUR"))
    officer.go(f"#/e/{ops['emergency']}")
    turkey.go(f"#/e/{ops['emergency']}")
    theirs = need_row(turkey, usar)
    expect(theirs).to_have_attribute("data-proposed", "2")
    expect(theirs).to_have_attribute("data-accepted", "0")

    proposal = officer.page.locator(f'li.proposal[data-match-id="{match["id"]}"]')
    proposal.locator("input.qty").fill("1")  # a partial acceptance
    proposal.get_by_role("button", name="Accept").click()

    expect(theirs).to_have_attribute("data-accepted", "1")
    expect(theirs).to_have_attribute("data-proposed", "1")  # the rest proposed again
    expect(turkey.page.locator("#feed-list li[data-kind='match.accepted']").first).to_be_visible()
    expect(need_row(officer, usar)).to_have_attribute("data-accepted", "1")


def test_a_poc_files_an_offer_and_sees_the_servers_field_errors_beside_the_fields(
    ops: dict[str, Any], token_for: TokenMaker, open_console: OpenConsole
) -> None:
    norway = open_console(token_for("poc", "NOR"))
    page = norway.go(f"#/e/{ops['emergency']}/offer")
    posted: list[dict[str, str]] = []
    page.on(
        "request",
        lambda r: (
            posted.append(r.headers) if r.method == "POST" and r.url.endswith("/offers") else None
        ),
    )
    expect(page.locator("#offer-title")).to_contain_text("Kahramanmaraş")
    expect(page.locator("input[name=offering_country]")).to_have_value("NOR")
    # Nothing is chosen for the user: no channel, no time.
    expect(page.locator("select[name=channel]")).to_have_value("")
    expect(page.locator("input[name='items.0.available_from']")).to_have_value("")
    page.select_option("select[name='items.0.resource_type']", "medical.emt.type2")
    page.fill("input[name='items.0.quantity']", "two")
    page.fill("input[name='items.0.origin.lat']", "59,91")  # a decimal comma is a decimal
    page.fill("input[name='items.0.origin.lon']", "10.75")
    page.get_by_role("button", name="Send the offer").click()
    quantity_error = page.locator("[data-field='items.0.quantity'] .field-error")
    expect(quantity_error).to_have_text("A whole number greater than 0.")
    expect(page.locator("[data-field='items.0.origin.lat'] .field-error")).to_have_text("")
    assert posted == []  # caught before anything was sent
    page.fill("input[name='items.0.quantity']", "1")
    expect(quantity_error).to_have_text("")  # cleared as soon as the field changed

    page.select_option("select[name=channel]", "direct")
    page.locator("[data-field='items.0.available_from']").get_by_role("button", name="Now").click()
    expect(page.locator("[data-field='items.0.available_from']")).to_contain_text("UTC")
    # Credentials come from the hub's list, those that fit the type chosen.
    creds = page.locator("[data-field='items.0.credentials'] input[type=checkbox]")
    expect(creds.first).to_be_visible()
    emt = page.locator("[data-field='items.0.credentials'] input[value='who.emt.classified']")
    emt.check()
    # A code withdrawn from the list after the page loaded: the server's error shows
    # beside the field it names.
    ticked = emt.element_handle()
    ticked.evaluate("el => { el.value = 'made.up'; }")
    page.get_by_role("button", name="Send the offer").click()
    credentials_error = page.locator("[data-field='items.0.credentials'] .field-error")
    expect(credentials_error).to_contain_text("unknown credential 'made.up'")
    norway.screenshot("poc-offer-form-error")

    ticked.uncheck()
    expect(credentials_error).to_have_text("")
    page.get_by_role("button", name="Send the offer").click()
    expect(page.locator(".form-done")).to_contain_text("Offer sent")
    keys = [h.get("idempotency-key") for h in posted]
    assert len(keys) == 2 and all(keys) and keys[0] != keys[1]  # one per submission
    assert all("authorization" in h for h in posted)

    norway.go("#/offers")
    sent = page.locator("table.offers tbody tr", has_text="EMT Type 2")
    expect(sent).to_have_count(1)
    expect(sent).to_contain_text("0 / 1")  # nothing accepted yet, of one offered


def test_a_poc_console_shows_nothing_restricted_of_another_country(
    ops: dict[str, Any], token_for: TokenMaker, open_console: OpenConsole
) -> None:
    norway = open_console(token_for("poc", "NOR"))
    turkey = open_console(token_for("poc", "TUR"))
    for c in (norway, turkey):
        c.go(f"#/e/{ops['emergency']}")
    german = offer(ops["apis"]["DEU"], ops["emergency"], "DEU", item("medical.emt.type2", 1))
    marks = [german["id"], *(m["id"] for m in german["matches"])]
    # A later event everyone sees: once it is in Norway's feed, anything before it is too.
    ops["apis"]["officer"].ok(
        "PATCH", f"/api/v1/emergencies/{ops['emergency']}", {"severity": "severe"}
    )
    for c in (norway, turkey):
        expect(c.page.locator("#feed-list li[data-kind='emergency.updated']").first).to_be_visible()

    # The stricken nation sees the German offer and its proposal; Norway sees neither.
    expect(turkey.page.locator(f'tr[data-offer-id="{german["id"]}"]')).to_be_visible()
    expect(
        turkey.page.locator(f'li.proposal[data-match-id="{german["matches"][0]["id"]}"]')
    ).to_be_visible()
    # Norway's own offers (from the tests before) are drawn: the page has loaded.
    expect(norway.page.locator("tr[data-country='NOR']").first).to_be_visible()
    seen = norway.page.evaluate("document.documentElement.outerHTML")
    for mark in marks:
        assert mark not in seen
    offering = norway.page.eval_on_selector_all(
        "tr[data-country]", "rows => rows.map(r => r.dataset.country)"
    )
    assert offering and set(offering) == {"NOR"}
    matches = norway.page.eval_on_selector_all(
        "li.proposal", "rows => rows.map(r => r.textContent)"
    )
    assert all("Norway" in m for m in matches)
    kinds = norway.page.eval_on_selector_all(
        "#feed-list li", "rows => rows.map(r => [r.dataset.kind, r.textContent])"
    )
    assert not [t for k, t in kinds if k.startswith(("offer.", "match.")) and "DEU" in t]
    norway.go("#/alerts")  # not offered to a POC, and the API would refuse it anyway
    expect(norway.page.locator("#nav-alerts")).to_have_count(0)
