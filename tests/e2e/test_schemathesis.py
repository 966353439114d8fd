"""Property-based requests over the whole OpenAPI spec (schemathesis), signed in as a
duty officer: no answer may be a 5xx, and every answer must match the spec."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import free_port, wait_ready
from tests.integration.test_cli import eadrcc


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, server_url: str) -> Iterator[tuple[str, str]]:
    """A hub process on a database of its own, and a duty officer's token."""
    import asyncio
    import uuid

    import asyncpg

    from tests.conftest import _drop, with_database

    name = f"eadrcc_fuzz_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        admin = await asyncpg.connect(server_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()

    asyncio.run(create())
    db_url = with_database(server_url, name)
    assert eadrcc(db_url, "seed", "--demo").returncode == 0
    token = eadrcc(
        db_url, "token", "create", "--role", "duty_officer", "--name", "fuzz", "--json"
    ).stdout
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "EADRCC_LOG_LEVEL": "warning",
        "EADRCC_ALERT_RATE_PER_MINUTE": "100000",
        "EADRCC_ALERT_BURST": "100000",
    }
    log = (tmp_path_factory.mktemp("hub") / "hub.log").open("wb")  # read it when this fails
    proc = subprocess.Popen(
        [sys.executable, "-m", "eadrcc", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # Ready, or the fixture fails here (not later, as every request failing).
        asyncio.run(wait_ready(url))
        import json

        yield url, json.loads(token)["token"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        asyncio.run(_drop(server_url, name))


def test_no_5xx_and_every_answer_matches_the_spec(hub: tuple[str, str]) -> None:
    url, token = hub
    schema = schemathesis.openapi.from_url(f"{url}/api/v1/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in ("/ws",):
            continue

        @settings(
            max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            if case.query and "wait" in case.query:
                case.query["wait"] = 0  # the long-poll's waiting is tested elsewhere
            response = case.call(base_url=url, headers={"Authorization": f"Bearer {token}"})
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")
            try:
                case.validate_response(
                    response,
                    checks=[
                        schemathesis.checks.not_a_server_error,
                        schemathesis.checks.response_schema_conformance,
                        schemathesis.checks.status_code_conformance,
                        schemathesis.checks.content_type_conformance,
                    ],
                )
            except Exception as exc:  # collect every operation's problems, then fail once
                failures.append(f"{case.method} {case.formatted_path}: {str(exc)[:300]}")

        check()
    assert not failures, "\n".join(sorted(set(failures))[:40])
