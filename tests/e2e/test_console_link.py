"""The console is honest about its link to the hub. A frozen hub (SIGSTOP: the TCP
connection stays open, nothing answers) turns the page stale within 20 s, an action
pressed meanwhile says it is waiting, and one pressed while stale is not sent;
SIGCONT brings it back to live within 5 s. A stopped hub (SIGTERM) shows offline at
once, and the page is live again within 3 s of the hub's restart.

Every wait is on a condition with a timeout; the clocks only measure.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Api, Console, Hub, TokenMaker, emergency_body, item


def link_is(page: Any, state: str, timeout_ms: float) -> float:
    """Wait until <html data-link> is `state`; how long it took, in seconds.
    (Locator waits: the page's CSP forbids the string evaluation wait_for_function uses.)"""
    start = time.monotonic()
    expect(page.locator("html")).to_have_attribute("data-link", state, timeout=timeout_ms)
    return time.monotonic() - start


def link_leaves(page: Any, state: str, timeout_ms: float) -> float:
    start = time.monotonic()
    expect(page.locator("html")).not_to_have_attribute("data-link", state, timeout=timeout_ms)
    return time.monotonic() - start


@pytest.fixture
def frozen(hub: Hub) -> Iterator[Callable[[], None]]:
    """SIGSTOP the hub; it is always let go again, whatever the test did."""
    stopped = False

    def freeze() -> None:
        nonlocal stopped
        assert hub.proc is not None
        hub.proc.send_signal(signal.SIGSTOP)
        stopped = True

    yield freeze
    if stopped and hub.proc is not None:
        hub.proc.send_signal(signal.SIGCONT)


def test_a_frozen_hub_turns_the_page_stale_and_actions_wait(
    hub: Hub,
    token_for: TokenMaker,
    open_console: Callable[..., Console],
    frozen: Callable[[], None],
) -> None:
    officer = Api(hub.url, token_for("duty_officer"))
    emergency = officer.ok("POST", "/api/v1/emergencies", emergency_body())["id"]
    officer.ok(
        "POST",
        f"/api/v1/emergencies/{emergency}/requests",
        {"requesting_country": "TUR", "needs": [{"resource_type": "shelter.tent", "quantity": 50}]},
    )
    for country in ("NOR", "DEU"):
        officer.ok(
            "POST",
            "/api/v1/offers",
            {
                "emergency_id": emergency,
                "offering_country": country,
                "channel": "direct",
                "items": [item("shelter.tent", 20)],
            },
        )
    console = open_console(token_for("duty_officer"))
    page = console.go(f"#/e/{emergency}")
    expect(page.locator("li.proposal")).to_have_count(2)
    ids = [page.locator("li.proposal").nth(n).get_attribute("data-match-id") for n in (0, 1)]
    first, second = (page.locator(f'li.proposal[data-match-id="{i}"]') for i in ids)
    assert page.locator("html").get_attribute("data-link") == "live"

    frozen()
    stopped_at = time.monotonic()
    # Pressed while the page still believes the hub: it says it is waiting, not done.
    first.get_by_role("button", name="Accept").click()
    note = first.locator(".action-note")
    expect(note).to_have_attribute("data-tone", "pending")
    expect(note).to_contain_text("waiting for the hub")

    link_leaves(page, "live", timeout_ms=20_000)
    assert time.monotonic() - stopped_at < 20
    expect(page.locator("#conn")).to_have_attribute("data-state", "stale")  # not "Live"
    banner = page.locator("#link-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Data as of")
    expect(banner.get_by_role("button", name="Reconnect now")).to_be_visible()
    # Pressed while stale: not sent, and it says why.
    second.get_by_role("button", name="Accept").click()
    expect(second.locator(".action-note")).to_have_attribute("data-tone", "paused")
    expect(second.locator(".action-note")).to_contain_text("Not sent")
    console.screenshot("link-stale", docs=True)

    assert hub.proc is not None
    hub.proc.send_signal(signal.SIGCONT)
    assert link_is(page, "live", timeout_ms=5000) < 5
    expect(banner).to_be_hidden()
    # The first press reaches the hub now that it runs again (the row then leaves
    # the proposals, accepted); the one refused while stale was never sent.
    expect(first).to_have_count(0)
    accepted = officer.ok("GET", f"/api/v1/emergencies/{emergency}/matches?status=accepted")
    assert [m["id"] for m in accepted] == [ids[0]]
    expect(second.locator(".action-note")).to_have_attribute("data-tone", "paused")


def test_a_stopped_hub_shows_offline_at_once_and_live_soon_after_restart(
    hub: Hub, token_for: TokenMaker, open_console: Callable[..., Console]
) -> None:
    console = open_console(token_for("duty_officer"))
    page = console.page
    assert page.locator("html").get_attribute("data-link") == "live"

    hub.stop()  # SIGTERM; returns once the process has exited
    assert link_is(page, "offline", timeout_ms=1000) < 1
    expect(page.locator("#link-banner")).to_contain_text("Offline")
    console.screenshot("link-offline", docs=True)

    hub.start()  # returns once /readyz answers
    assert link_is(page, "live", timeout_ms=3000) < 3
    expect(page.locator("#link-banner")).to_be_hidden()
