"""The per-need figures of the picture scenario, as the API and the situation report
give them, equal the expected-results file (the console is held to the same file in
tests/e2e/test_console_picture.py)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests import picture_scenario as scenario
from tests.conftest import TokenFactory
from tests.integration.ops_helpers import api

Client = TestClient  # type: ignore[type-arg]


async def _built(client: Client, make_token: TokenFactory) -> tuple[Any, dict[str, Any]]:
    officer = await api(client, make_token, "duty_officer")

    async def call(method: str, path: str, body: Any) -> Any:
        return await officer.call(
            method,
            path,
            body,
            expect=201
            if method == "POST"
            and (path.endswith("/requests") or path in ("/api/v1/offers", "/api/v1/emergencies"))
            else 200,
        )

    return officer, await scenario.build(call)


async def test_the_api_gives_the_expected_figures(client: Client, make_token: TokenFactory) -> None:
    officer, built = await _built(client, make_token)
    rfa = await officer.get(f"/api/v1/requests/{built['request_id']}")
    got = {n["resource_type"]: scenario.figures(n) for n in rfa["needs"]}
    assert got == scenario.expected()
    tents = next(n for n in rfa["needs"] if n["resource_type"] == "shelter.tent.family")
    assert [d["quantity"] for d in tents["dispatches"]] == [20]
    assert tents["eta"] == tents["dispatches"][0]["eta"]
    blankets = next(n for n in rfa["needs"] if n["resource_type"] == "shelter.blanket")
    assert [(d["channel"], d["duplicate_channel"]) for d in blankets["duplicates"]] == [
        ("eu_ucpm", "bilateral")
    ]


async def test_the_sitrep_gives_the_expected_figures(
    client: Client, make_token: TokenFactory
) -> None:
    officer, built = await _built(client, make_token)
    report = await officer.get(f"/api/v1/emergencies/{built['emergency_id']}/sitrep")
    got = {n["resource_type"]: scenario.figures(n) for n in report["needs"]}
    assert got == scenario.expected()
    assert report["summary"]["needs_late"] == 1 and report["summary"]["needs_at_risk"] == 3
    assert [(d["offering_country"], d["duplicate_channel"]) for d in report["duplicates"]] == [
        ("POL", "bilateral")
    ]
    md = await client.get(
        f"/api/v1/emergencies/{built['emergency_id']}/sitrep",
        headers={"Authorization": f"Bearer {officer.token}", "Accept": "text/markdown"},
    )
    line = next(ln for ln in (await md.text()).splitlines() if "| usar.heavy |" in ln)
    assert line.endswith("| LATE AT RISK UNCOVERED")
