"""The alert inbox shows what the hub knows about an alert's past: a stale alert
(stored, but too old to open a watch) says so and why, and an event whose earlier
watch was dismissed names and links that watch (previous_emergency_ids)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import Api, Console, Hub, TokenMaker
from tests.e2e.test_console_everywhere import serious_violations
from tests.integration.alert_docs import render

OpenConsole = Callable[..., Console]


def _alert(hub: Hub, token: str, name: str, now: datetime) -> dict[str, Any]:
    req = urllib.request.Request(f"{hub.url}/api/v1/alerts", data=render(name, now), method="POST")
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/cap+xml")
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.status == 201
        answer: dict[str, Any] = json.loads(r.read())
        return answer


def test_the_inbox_shows_stale_alerts_and_an_events_earlier_watch(
    hub: Hub, token_for: TokenMaker, open_console: OpenConsole
) -> None:
    token = token_for("duty_officer")
    officer = Api(hub.url, token)
    now = datetime.now(UTC).replace(microsecond=0)
    first = _alert(hub, token, "quake-pazarcik.cap.xml", now)
    dismissed = first["emergency_id"]
    officer.ok("PATCH", f"/api/v1/emergencies/{dismissed}", {"status": "closed"})
    aftershock = _alert(hub, token, "quake-aftershock.cap.xml", now)
    assert aftershock["group_id"] == first["group_id"]
    assert aftershock["emergency_id"] not in (None, dismissed)
    storm = _alert(hub, token, "storm-expired.cap.xml", now)
    assert storm["stale"]
    title = officer.ok("GET", f"/api/v1/emergencies/{dismissed}")["title"]

    console = open_console(token)
    page = console.go("#/alerts")
    history = page.locator(".alert-group", has=page.locator(f'[data-alert-id="{first["id"]}"]'))
    link = history.locator(".group-history a")
    expect(link).to_have_count(1)
    expect(link).to_have_attribute("href", f"#/e/{dismissed}")
    expect(link).to_have_text(f"{title} (closed)")
    expect(history.locator(".group-history")).to_contain_text("Earlier watch for this event:")

    row = page.locator(f'li.alert[data-alert-id="{storm["id"]}"]')
    expect(row.locator(".badge.stale")).to_be_visible()
    expect(row.locator(".alert-stale")).to_have_text(
        "Opened no watch: the alert had expired when it arrived."
    )
    expect(page.locator(f'li.alert[data-alert-id="{first["id"]}"] .badge.stale')).to_be_hidden()
    assert serious_violations(page) == []
    console.screenshot("alert-inbox-stale-and-earlier-watch")
