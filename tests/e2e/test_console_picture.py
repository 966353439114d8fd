"""The console's need rows, computed in the browser from the matches and offers it
holds, give the per-need figures of the expected-results file (the API and the
sitrep are held to the same file), and mark late and at-risk needs."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from tests import picture_scenario as scenario
from tests.e2e.conftest import Api, Console, Hub, TokenMaker, run

OpenConsole = Callable[..., Console]
# data-* attribute of a need row for each figure of the expected file
ATTRIBUTES = {
    "requested": "data-requested",
    "proposed": "data-proposed",
    "accepted": "data-accepted",
    "in_transit": "data-in-transit",
    "delivered": "data-delivered",
    "uncovered_quantity": "data-uncovered-quantity",
    "uncovered": "data-uncovered",
    "duplicated": "data-duplicated",
    "late": "data-late",
    "at_risk": "data-at-risk",
}


def _built(hub: Hub, token_for: TokenMaker) -> dict[str, Any]:
    officer = Api(hub.url, token_for("duty_officer"))

    async def call(method: str, path: str, body: Any) -> Any:
        return officer.ok(method, path, body)

    built: dict[str, Any] = run(scenario.build(call))
    return built


def test_need_rows_equal_the_expected_figures_and_mark_late_and_at_risk(
    hub: Hub, token_for: TokenMaker, open_console: OpenConsole
) -> None:
    built = _built(hub, token_for)
    console = open_console(token_for("duty_officer"))
    page = console.go(f"#/e/{built['emergency_id']}")
    for code, figures in scenario.expected().items():
        row = page.locator(f'li.need[data-need-id="{built["needs"][code]}"]')
        for field, value in figures.items():
            shown = str(value).lower() if isinstance(value, bool) else str(value)
            expect(row).to_have_attribute(ATTRIBUTES[field], shown)
        # The flags a duty officer sees, not only the data attributes.
        for flag, css, on in (
            ("late", r"\blate\b", figures["late"]),
            ("risk", r"\bat-risk\b", figures["at_risk"]),
        ):
            badge = expect(row.locator(f".flag-{flag}"))
            badge.to_be_visible() if on else badge.to_be_hidden()
            marked = expect(row)
            marked.to_have_class(re.compile(css)) if on else marked.not_to_have_class(
                re.compile(css)
            )
    tents = page.locator(f'li.need[data-need-id="{built["needs"]["shelter.tent.family"]}"]')
    expect(tents.locator(".need-eta")).to_contain_text("Germany: 20 on the way, due")
    console.screenshot("need-rows-late-at-risk")
