"""What a new user meets first: the CLI from any directory, a busy port, the demo
token, quiet commands, readable errors."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from eadrcc.config import ConfigError, default_data_dir
from eadrcc.serve import check_port
from tests.conftest import TokenFactory, bearer, free_port, wait_ready
from tests.integration.ops_helpers import api, emergency_body, item


def run_cli(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eadrcc", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_cli_from_two_directories_shares_one_embedded_database(tmp_path: Path) -> None:
    """No DATABASE_URL and no EADRCC_DATA_DIR: every directory reaches the same
    per-user data folder, migrated on first use by whatever command comes first."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EADRCC_", "DATABASE_URL"))}
    env["XDG_DATA_HOME"] = str(home / "data")
    env["HOME"] = str(home)
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()

    made = run_cli(
        "token", "create", "--role", "observer", "--name", "from one", cwd=first, env=env
    )
    assert made.returncode == 0, made.stderr
    # Quiet: the token on stdout, one hint on stderr, no log lines.
    assert made.stdout.strip().startswith("eadrcc_")
    assert "{" not in made.stderr, made.stderr

    listed = run_cli("token", "list", cwd=second, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "from one" in listed.stdout
    assert not (first / ".eadrcc").exists() and not (second / ".eadrcc").exists()
    assert (home / "data" / "eadrcc" / "pgdata").is_dir()


def test_default_data_dir_is_per_user_not_per_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / "eadrcc" / "pgdata"
    monkeypatch.chdir(tmp_path)
    assert default_data_dir().is_absolute()


def test_a_busy_port_is_one_clear_line_naming_a_free_one() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError) as raised:
            check_port("127.0.0.1", port)
    message = str(raised.value)
    assert message.startswith(f"port {port} is in use on 127.0.0.1; try --port ")
    suggested = int(message.rsplit(" ", 1)[1])
    assert suggested > port


def test_serve_on_a_busy_port_mints_no_token_and_exits_2(db_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": db_url}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--demo", "--port", str(port), cwd=tmp_path, env=env, timeout=60)
    assert result.returncode == 2
    assert f"port {port} is in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert "token" not in result.stdout
    listed = run_cli("token", "list", cwd=tmp_path, env=env)
    assert "demo duty officer" not in listed.stdout


async def _serve_demo(db_url: str, port: int) -> str:
    """Start `eadrcc serve --demo`, return the demo token it prints, stop it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "eadrcc",
        "serve",
        "--demo",
        "--port",
        str(port),
        env={**os.environ, "DATABASE_URL": db_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(60):
            while b"token" not in (line := await proc.stdout.readline()):
                assert line, "serve --demo ended before printing a token"
        await wait_ready(f"http://127.0.0.1:{port}")
        return line.decode().rsplit(" ", 1)[1].strip()
    finally:
        proc.terminate()
        await proc.wait()


async def test_each_demo_start_revokes_the_previous_demo_token(db_url: str) -> None:
    port = free_port()
    first = await _serve_demo(db_url, port)
    second = await _serve_demo(db_url, port)
    assert first != second
    env = {**os.environ, "DATABASE_URL": db_url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "eadrcc",
        "serve",
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await wait_ready(f"http://127.0.0.1:{port}")
        async with aiohttp.ClientSession() as http:
            me = f"http://127.0.0.1:{port}/api/v1/me"
            async with http.get(me, headers=bearer(first)) as old:
                assert old.status == 401
            async with http.get(me, headers=bearer(second)) as new:
                assert new.status == 200
    finally:
        proc.terminate()
        await proc.wait()


async def test_sitrep_format_parameter_and_a_bodyless_dispatch(
    client: TestClient, make_token: TokenFactory
) -> None:
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    await officer.post(
        f"/api/v1/emergencies/{emergency['id']}/requests",
        {
            "requesting_country": "TUR",
            "needs": [{"resource_type": "shelter.tent.family", "quantity": 100}],
        },
        expect=201,
    )
    offer = await officer.post(
        "/api/v1/offers",
        {
            "emergency_id": emergency["id"],
            "offering_country": "NOR",
            "channel": "direct",
            "items": [item("shelter.tent.family", 60)],
        },
        expect=201,
    )
    path = f"/api/v1/emergencies/{emergency['id']}/sitrep"
    for name, media in (("md", "text/markdown"), ("csv", "text/csv"), ("html", "text/html")):
        # format= wins over Accept: a link in a browser or chat cannot set headers.
        resp = await client.get(
            f"{path}?format={name}",
            headers={**bearer(officer.token), "Accept": "application/json"},
        )
        assert (resp.status, resp.content_type) == (200, media)
    bad = await client.get(f"{path}?format=pdf", headers=bearer(officer.token))
    assert bad.status == 422 and "format" in (await bad.json())["errors"]

    match_id = offer["matches"][0]["id"]
    await officer.post(f"/api/v1/matches/{match_id}/accept", expect=200)
    empty = await client.post(f"/api/v1/matches/{match_id}/dispatch", headers=bearer(officer.token))
    problem = await empty.json(content_type=None)
    assert empty.status == 422 and "quantity" in problem["errors"], problem
    # Deliveries add up: two arrivals of 20 make 40 delivered.
    await officer.post(
        f"/api/v1/matches/{match_id}/dispatch",
        {"quantity": 60, "eta": "2026-02-07T06:00:00+03:00"},
        expect=200,
    )
    await officer.post(f"/api/v1/matches/{match_id}/deliver", {"quantity": 20}, expect=200)
    delivered = await officer.post(
        f"/api/v1/matches/{match_id}/deliver", {"quantity": 20}, expect=200
    )
    assert delivered["delivered"] == 40


async def test_unknown_codes_say_where_the_valid_ones_are(
    client: TestClient, make_token: TokenFactory
) -> None:
    officer = await api(client, make_token, "duty_officer")
    emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
    rfa = await officer.post(
        f"/api/v1/emergencies/{emergency['id']}/requests",
        {"requesting_country": "TUR", "needs": [{"resource_type": "usar.huge", "quantity": 1}]},
        expect=422,
    )
    assert "GET /api/v1/resource-types" in rfa["errors"]["needs.0.resource_type"]
    offer = await officer.post(
        "/api/v1/offers",
        {
            "emergency_id": emergency["id"],
            "offering_country": "NOR",
            "channel": "direct",
            "items": [item("usar.heavy", 1, credentials=["insarag.platinum"])],
        },
        expect=422,
    )
    assert "GET /api/v1/credentials" in offer["errors"]["items.0.credentials"]
