"""The `eadrcc` command, run as a user would, against a test database."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from aiohttp.test_utils import TestClient

from tests.conftest import bearer


def eadrcc(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db_url, "EADRCC_LOG_LEVEL": "warning"}
    return subprocess.run(
        [sys.executable, "-m", "eadrcc", *args], env=env, capture_output=True, text=True, timeout=60
    )


async def test_token_create_json_list_and_revoke(db_url: str, client: TestClient) -> None:  # type: ignore[type-arg]
    made = eadrcc(
        db_url,
        "token",
        "create",
        "--role",
        "poc",
        "--country",
        "tur",
        "--name",
        "Türkiye POC",
        "--json",
    )
    assert made.returncode == 0, made.stderr
    issued = json.loads(made.stdout)
    assert issued["secret"] is None and issued["token"].startswith("eadrcc_")
    assert (await client.get("/api/v1/partners", headers=bearer(issued["token"]))).status == 200

    listed = eadrcc(db_url, "token", "list")
    assert "Türkiye POC" in listed.stdout and issued["token"] not in listed.stdout

    assert eadrcc(db_url, "token", "revoke", issued["id"]).returncode == 0
    async with asyncio.timeout(30):  # once the hub reads token.revoked (token cache)
        while (await client.get("/api/v1/partners", headers=bearer(issued["token"]))).status != 401:
            await asyncio.sleep(0.02)


def test_integration_tokens_get_a_secret_and_bad_input_is_refused(db_url: str) -> None:
    made = eadrcc(db_url, "token", "create", "--role", "integration", "--name", "GDACS", "--json")
    assert json.loads(made.stdout)["secret"]
    for args in (
        ["--role", "poc", "--name", "x"],
        ["--role", "poc", "--country", "XXX", "--name", "x"],
        ["--role", "observer", "--country", "NOR", "--name", "x"],
    ):
        bad = eadrcc(db_url, "token", "create", *args)
        assert bad.returncode == 2 and "country" in bad.stderr, bad.stderr


def test_export_import_round_trip_json_and_csv(db_url: str, tmp_path: Path) -> None:
    for fmt in ("json", "csv"):
        out = tmp_path / f"registry.{fmt}"
        assert (
            eadrcc(db_url, "partners", "export", "--format", fmt, "--out", str(out)).returncode == 0
        )
        again = eadrcc(db_url, "partners", "import", str(out))
        assert again.returncode == 0, again.stderr
        assert "0 changed" in again.stdout  # the same data writes no new version


def test_import_reports_every_problem_and_changes_nothing(db_url: str, tmp_path: Path) -> None:
    exported = eadrcc(db_url, "partners", "export", "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(exported)))
    rows[0]["status"] = "friend"
    rows[1]["code"] = "no"
    rows[2]["contacts"] = "{broken"
    rows[3]["name"] = "Renamed, but the file has errors"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "bad.csv"
    path.write_text(out.getvalue())

    result = eadrcc(db_url, "partners", "import", str(path))
    assert result.returncode == 2
    assert "line 2: status" in result.stderr
    assert "line 3: code" in result.stderr
    assert "line 4: contacts" in result.stderr
    assert "nothing was changed" in result.stderr
    after = eadrcc(db_url, "partners", "export", "--format", "csv").stdout
    assert after == exported


def test_migrate_is_idempotent(db_url: str) -> None:
    result = eadrcc(db_url, "migrate")
    assert result.returncode == 0 and "up to date" in result.stdout


def test_bad_configuration_is_named(db_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": db_url, "EADRCC_PORT": "not-a-port"}
    result = subprocess.run(
        [sys.executable, "-m", "eadrcc", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "EADRCC_PORT" in result.stderr


def test_seed_demo_loads_an_exercise_once(db_url: str) -> None:
    first = eadrcc(db_url, "seed", "--demo")
    assert first.returncode == 0, first.stderr
    loaded = json.loads(first.stdout)
    assert loaded["demo_emergency"].startswith("emg_") and loaded["resource_types"] > 50
    assert json.loads(eadrcc(db_url, "seed", "--demo").stdout)["demo_emergency"] == (
        "already loaded"
    )
