"""Every view of the console, on a phone (390 by 844) and a desktop, in French and in
English: no horizontal scroll on the phone, no English word of the catalogue left
on a French page, and axe-core finds no serious or critical accessibility problem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from eadrcc.console.views import STATIC
from tests.e2e.conftest import Api, Console, Hub, TokenMaker, emergency_body, item

PHONE = {"width": 390, "height": 844}
TAXONOMY = json.loads(
    (Path(__file__).resolve().parents[2] / "src/eadrcc/matching/data/resource_types.json").read_text(
        "utf-8"
    )
)
DESKTOP = {"width": 1280, "height": 800}


def english_only() -> set[str]:
    """Catalogue messages without placeholders whose English differs from the French."""
    en = json.loads((STATIC / "i18n" / "en.json").read_text("utf-8"))
    fr = json.loads((STATIC / "i18n" / "fr.json").read_text("utf-8"))
    french = {
        v for value in fr.values() for v in (value.values() if isinstance(value, dict) else [value])
    }
    found = set()
    for key, value in en.items():
        if isinstance(value, str) and "{" not in value and value != fr[key] and len(value) > 3:
            found.add(value)
    return found - french  # "active" is French too


@pytest.fixture(scope="module")
def story(hub: Hub, token_for: TokenMaker) -> dict[str, Any]:
    officer = Api(hub.url, token_for("duty_officer"))
    emergency = officer.ok(
        "POST", "/api/v1/emergencies", emergency_body(title="Séisme de Kahramanmaraş")
    )["id"]
    officer.ok(
        "POST",
        "/api/v1/emergencies/" + emergency + "/requests",
        {
            "requesting_country": "TUR",
            "reference": "AFAD-2026-0206-LONG-REFERENCE-THAT-MUST-WRAP",
            "needs": [
                {
                    "resource_type": "usar.heavy",
                    "quantity": 4,
                    "priority": "critical",
                    "needed_by": "2020-01-01T00:00:00Z",
                    "delivery": {"lat": 37.58, "lon": 36.93, "place": "Kahramanmaraş"},
                },
                {"resource_type": "shelter.tent", "quantity": 10, "priority": "high"},
            ],
        },
    )
    for country in ("NOR", "DEU"):
        officer.ok(
            "POST",
            "/api/v1/offers",
            {
                "emergency_id": emergency,
                "offering_country": country,
                "channel": "eu_ucpm",
                "items": [item("usar.heavy", 3), item("shelter.tent", 8)],
            },
        )
    drill = officer.ok(
        "POST", "/api/v1/emergencies", emergency_body(title="CMX exercise", exercise=True)
    )["id"]
    return {"emergency": emergency, "drill": drill}


VIEWS = [
    ("duty_officer", None, "#/board"),
    ("duty_officer", None, "#/e/{emergency}"),
    ("duty_officer", None, "#/e/{emergency}/sitrep"),
    ("duty_officer", None, "#/e/{emergency}/rfa"),
    ("duty_officer", None, "#/alerts"),
    ("duty_officer", None, "#/offers"),
    ("duty_officer", None, "#/partners"),
    ("poc", "NOR", "#/e/{emergency}"),
    ("poc", "NOR", "#/e/{emergency}/offer"),
    ("poc", "NOR", "#/offers"),
]


@pytest.fixture
def console_in(chromium: Any, hub: Hub, token_for: TokenMaker) -> Iterator[Callable[..., Console]]:
    opened: list[Console] = []

    def open_(role: str, country: str | None, lang: str, size: dict[str, int]) -> Console:
        c = Console(chromium, hub, token_for(role, country), lang=lang, **size)
        opened.append(c)
        return c

    yield open_
    for c in opened:
        c.close()


def visible_texts(page: Any) -> list[str]:
    return list(
        page.evaluate(
            """() => {
      const out = [];
      const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode()) {
        const el = n.parentElement;
        if (!el || el.closest('[hidden], noscript, script, style')) continue;
        const text = n.textContent.trim();
        if (text) out.push(text);
      }
      for (const el of document.querySelectorAll('[aria-label], [title], [placeholder]')) {
        for (const a of ['aria-label', 'title', 'placeholder']) {
          const v = el.getAttribute(a);
          if (v) out.push(v.trim());
        }
      }
      return out;
    }"""
        )
    )


def serious_violations(page: Any) -> list[str]:
    results = Axe().run(page)
    problems = []
    for v in results.response["violations"]:
        if v["impact"] in ("serious", "critical"):
            where = [n["target"] for n in v["nodes"][:3]]
            problems.append(f"{v['id']} ({v['impact']}): {v['help']} at {where}")
    return problems


@pytest.mark.parametrize(
    ("lang", "size"), [("fr", PHONE), ("en", DESKTOP)], ids=["fr-phone", "en-desktop"]
)
def test_every_view_fits_speaks_the_language_and_passes_axe(
    story: dict[str, Any], console_in: Callable[..., Console], lang: str, size: dict[str, int]
) -> None:
    english = english_only()
    failures: list[str] = []
    consoles: dict[tuple[str, str | None], Console] = {}
    for role, country, route in VIEWS:
        c = consoles.get((role, country))
        if c is None:
            c = consoles[(role, country)] = console_in(role, country, lang, size)
        page = c.go(route.format(**story))
        page.wait_for_load_state("networkidle")
        expect(page.locator("main .loading:visible")).to_have_count(0)
        expect(page.locator("html")).to_have_attribute("lang", lang)
        view = re.sub(r"[^a-z]+", "-", route.replace("{emergency}", "emergency")).strip("-")
        name = f"{lang}-{size['width']}-{role}-{view}"
        c.screenshot(name, docs=True)
        if size is PHONE:
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            if overflow > 0:
                failures.append(f"{route} as {role}: {overflow}px of horizontal scroll")
        if lang == "fr":
            left = sorted({text for text in visible_texts(page) if text in english})
            if left:
                failures.append(f"{route} as {role}: English left on a French page: {left}")
        failures += [f"{route} as {role}: {p}" for p in serious_violations(page)]
    assert failures == []


def test_the_phone_reaches_the_feed_from_a_button(
    story: dict[str, Any], console_in: Callable[..., Console]
) -> None:
    c = console_in("duty_officer", None, "fr", PHONE)
    page = c.go("#/board")
    feed = page.locator("#feed")
    expect(feed).to_be_hidden()
    page.get_by_role("button", name="Événements en direct").click()
    expect(feed).to_be_visible()
    expect(feed.locator("li.feed-row").first).to_be_in_viewport()
    expect(feed.locator("li.feed-row .feed-emergency").first).to_be_visible()
    c.screenshot("fr-390-feed", docs=True)
    page.get_by_role("button", name="Fermer les événements").click()
    expect(feed).to_be_hidden()


def test_the_printed_sitrep_keeps_every_column(
    story: dict[str, Any], console_in: Callable[..., Console]
) -> None:
    c = console_in("duty_officer", None, "fr", {"width": 760, "height": 1000})  # A4 at 96 dpi
    page = c.go("#/e/{emergency}/sitrep".format(**story))
    expect(page.locator(".sitrep table.report").first).to_be_visible()
    page.emulate_media(media="print")
    cut = page.evaluate(
        """() => [...document.querySelectorAll('.sitrep table')].map((t) => ({
          table: t.closest('.table-wrap').getAttribute('aria-label'),
          columns: t.querySelectorAll('thead th').length,
          shown: [...t.querySelectorAll('thead th')].filter((th) => {
            const r = th.getBoundingClientRect();
            return r.width > 0 && r.right <= document.documentElement.clientWidth + 1;
          }).length,
        }))"""
    )
    assert len(cut) >= 2 and all(t["columns"] == t["shown"] for t in cut), cut
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.locator(".sitrep .badge.exercise")).to_have_count(0)  # a real emergency
    c.screenshot("fr-print-sitrep", docs=True)


def test_the_language_is_remembered_and_switched_from_the_header(
    hub: Hub, story: dict[str, Any], console_in: Callable[..., Console]
) -> None:
    c = console_in("duty_officer", None, "fr", DESKTOP)
    page = c.page
    expect(page.locator("#nav-board")).to_have_text("Urgences")
    page.goto(f"{hub.url}/console#/board")  # no ?lang=: the choice was kept
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("#nav-board")).to_have_text("Urgences")
    page.get_by_label("Langue").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#nav-board")).to_have_text("Emergencies")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")


def test_the_french_console_names_help_in_french(
    story: dict[str, Any], console_in: Callable[..., Console]
) -> None:
    """The taxonomy is the hub's, in English: the French console names each type and
    unit from its own catalogue, in the picture, in the offer form's list and
    wherever a type is shown; no English name is left on the page."""
    c = console_in("poc", "NOR", "fr", DESKTOP)
    page = c.go("#/e/{emergency}".format(**story))
    needs = page.locator(".need-name")
    expect(needs.filter(has_text="Équipe USAR lourde ×4 équipe")).to_have_count(1)
    expect(needs.filter(has_text="Tente ×10")).to_have_count(1)
    english = {t["name"] for t in TAXONOMY["types"]} - {"Ambulance", "Communications", "Expertise"}
    text = page.locator("body").inner_text()
    assert sorted(n for n in english if re.search(rf"\b{re.escape(n)}\b", text)) == []
    page = c.go("#/e/{emergency}/offer".format(**story))
    options = page.locator("select option")
    expect(options.filter(has_text="Tente familiale (article)")).to_have_count(1)
    labels = " ".join(options.all_inner_texts())
    assert "Family tent" not in labels and "Heavy USAR team" not in labels
