"""Console tests: the hub as a real `eadrcc serve` process on the test's own
database, Debian's Chromium driven by Playwright, and a small HTTP client.

The hub runs as a subprocess so a test can stop it and start it again on the
same port while a page stays open. One browser serves a whole module.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from eadrcc import auth, db
from tests.conftest import ROOT, _drop, with_database

CHROMIUM = os.environ.get("EADRCC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "artifacts" / "screenshots"
DOCS = ROOT / "docs" / "screenshots"
# How long expect() waits for the page to show something, unless a test says
# otherwise. Playwright's 5 s is too tight for a loaded CI machine running a hub
# process and Chromium on two cores; a wait ends as soon as its condition holds.
EXPECT_MS = 30_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Hub:
    """`eadrcc serve` on a database and a port; stop() and start() again at will."""

    db_url: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)  # extra EADRCC_* settings

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": self.db_url,
            "EADRCC_LOG_LEVEL": "warning",
            "EADRCC_EVENT_POLL_SECONDS": "0.5",
            **self.env,
        }
        log = (ROOT / "artifacts").joinpath(f"hub-{self.port}.log")
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "eadrcc", "serve", "--port", str(self.port), "--no-migrate"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 90  # a cold start on a loaded machine
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the hub exited with {self.proc.returncode}; see {log}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the hub did not become ready; see {log}")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)  # graceful: sockets get 1001 going away
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@dataclass
class Api:
    """A plain HTTP client for arranging a test (urllib: nothing shared with the page)."""

    base: str
    token: str

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            # Generous: a 500-need RFA on a loaded machine may take a while to answer.
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.call(method, path, body)
        assert status < 300, (method, path, status, answer)
        return answer


def run(coro: Any) -> Any:
    """Run a coroutine to the end on a thread of its own: Playwright's sync API keeps
    an event loop running in the test's thread, where asyncio.run() may not start."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="module")
def hub_db(server_url: str, template_db: str) -> Iterator[str]:
    """A database of the module's own, cloned from the migrated and seeded template."""
    name = f"eadrcc_e2e_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        admin = await asyncpg.connect(server_url)
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
        await admin.close()

    run(create())
    yield with_database(server_url, name)
    run(_drop(server_url, name))


@pytest.fixture(scope="module")
def hub(hub_db: str) -> Iterator[Hub]:
    h = Hub(hub_db)
    h.start()
    yield h
    h.stop()


TokenMaker = Callable[..., str]


@pytest.fixture(scope="module")
def token_for(hub_db: str) -> TokenMaker:
    """token_for("poc", "TUR") → a bearer token value."""

    def make(role: str, country: str | None = None) -> str:
        async def issue() -> str:
            conn = await db.connect(hub_db)
            try:
                async with conn.transaction():
                    issued = await auth.create(
                        conn=conn,
                        role=auth.Role(role),
                        name=f"{role} {country or ''}".strip(),
                        country=country,
                    )
            finally:
                await conn.close()
            return issued.token

        return str(run(issue()))

    return make


def query(db_url: str, sql: str, *args: Any) -> list[Any]:
    async def fetch() -> list[Any]:
        conn = await asyncpg.connect(db_url)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return list(run(fetch()))


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright, one per module (never `playwright install`)."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_MS)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Console:
    """One signed-in console tab; it records page errors and CSP violations."""

    def __init__(
        self,
        browser: Any,
        hub: Hub,
        token: str,
        width: int = 1280,
        height: int = 720,
        lang: str | None = None,
    ):
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("console", self._console)
        self.page.goto(f"{hub.url}/console" + (f"?lang={lang}" if lang else ""))
        self.page.fill("#token", token)
        self.page.click("form.signin button[type=submit]")
        self.page.wait_for_selector("#conn[data-state=live]", timeout=EXPECT_MS)

    def _console(self, msg: Any) -> None:
        if msg.type == "error" and "WebSocket" not in msg.text and "Failed to load" not in msg.text:
            self.problems.append(f"console error: {msg.text}")

    def go(self, hash_route: str) -> Any:
        self.page.evaluate("(h) => { location.hash = h; }", hash_route)
        return self.page

    def feed_seqs(self) -> list[int]:
        """Every event the feed shows, newest first: a folded row (one RFA circulated
        to many nations) lists its events' seqs in data-seqs."""
        rows = self.page.eval_on_selector_all(
            "#feed-list li", "rows => rows.map(r => r.dataset.seqs || r.dataset.seq)"
        )
        return [int(s) for row in rows for s in reversed(str(row).split())]

    def screenshot(self, name: str, *, docs: bool = False) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        if docs and os.environ.get("EADRCC_SCREENSHOTS_TO_DOCS"):
            DOCS.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, DOCS / path.name)
        return path

    def close(self) -> None:
        self.context.close()
        assert not self.problems, self.problems


@pytest.fixture
def open_console(chromium: Any, hub: Hub) -> Iterator[Callable[..., Console]]:
    opened: list[Console] = []

    def open_(token: str, **kw: Any) -> Console:
        c = Console(chromium, hub, token, **kw)
        opened.append(c)
        return c

    yield open_
    for c in opened:
        c.close()


T0 = "2026-02-06T06:00:00+03:00"


def emergency_body(**over: Any) -> dict[str, Any]:
    return {
        "title": "Kahramanmaraş earthquakes",
        "hazard": "earthquake",
        "countries": ["TUR"],
        "location": {"lat": 37.17, "lon": 37.03},
        "severity": "extreme",
        **over,
    }


def item(resource_type: str, quantity: int, **over: Any) -> dict[str, Any]:
    return {"resource_type": resource_type, "quantity": quantity, "available_from": T0, **over}
