"""The console tells the duty officer whom to telephone: a banner while any
subscription's delivery is suspended, and each nation's channel on the partner
page — driven by a real receiver that never answers (a closed loopback port)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Api, Console, Hub, TokenMaker, emergency_body, free_port

OpenConsole = Callable[..., Console]

FAST_GIVE_UP = {
    "EADRCC_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
    "EADRCC_DELIVERY_MIN_BACKOFF_SECONDS": "0.05",
    "EADRCC_DELIVERY_MAX_BACKOFF_SECONDS": "0.2",
    "EADRCC_DELIVERY_GIVE_UP_HOURS": "0.0005",  # under 2 s
}


@pytest.fixture(scope="module")
def hub(hub_db: str) -> Iterator[Hub]:
    h = Hub(hub_db, env=FAST_GIVE_UP)
    h.start()
    yield h
    h.stop()


def test_a_suspended_channel_shows_as_a_banner_and_on_the_partner_page(
    hub: Hub, token_for: TokenMaker, open_console: OpenConsole
) -> None:
    officer = token_for("duty_officer")
    c = open_console(officer)
    page = c.page
    expect(page.locator("#delivery-banner")).to_be_hidden()
    api = Api(hub.url, officer)
    port = free_port()
    nobody = f"http://127.0.0.1:{port}/hook"  # connection refused, until it listens below
    sub = api.ok(
        "POST", "/api/v1/subscriptions", {"kind": "webhook", "url": nobody, "country": "NOR"}
    )
    api.ok("POST", "/api/v1/emergencies", emergency_body())  # an event NOR may see
    banner = page.locator("#delivery-banner")
    expect(banner).to_be_visible(timeout=30_000)
    expect(banner).to_contain_text("NOR")
    expect(banner).to_contain_text("Telephone")
    page = c.go("#/partners")
    nor = page.locator("table.partners tbody tr", has=page.locator("td.code", has_text="NOR"))
    expect(nor.locator("td.channel")).to_have_attribute("data-state", "suspended")
    deu = page.locator("table.partners tbody tr", has=page.locator("td.code", has_text="DEU"))
    expect(deu.locator("td.channel")).to_have_attribute("data-state", "none")
    c.screenshot("delivery-suspended")

    # The nation's receiver is back: the officer resumes the channel from the banner.
    with receiving(port):
        resume = f'#delivery-banner button[data-subscription="{sub["id"]}"]'
        page.locator(resume).click()
        expect(banner).to_be_hidden(timeout=30_000)
        feed = page.locator("#feed-list")
        expect(feed).to_contain_text("Delivery suspended: Norway")
        expect(feed).to_contain_text("Delivery resumed: Norway's webhook channel")
        found = [s for s in api.ok("GET", "/api/v1/subscriptions") if s["id"] == sub["id"]]
        assert found[0]["status"] == "active"


class _Ok(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@contextlib.contextmanager
def receiving(port: int) -> Iterator[None]:
    """A receiver answering 204 on the port while the block runs."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
