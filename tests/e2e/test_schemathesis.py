"""Property-based requests over the whole OpenAPI spec (schemathesis), signed in as a
duty officer: no answer may be a 5xx, and every answer must match the spec.

Besides what schemathesis generates, every operation is sent the input that once
answered 500 (#12) as explicit examples: a NUL and an invalid UTF-8 sequence (what
a lone surrogate becomes on the wire: the client cannot encode one itself) in each
path and query parameter; JSON bodies with a 5,000-digit integer, NaN, 1e400, an
escaped lone surrogate, the instant 9999-12-31T23:59:59-14:00 (past year 9999 in
UTC) in each date-time field, and UTF-16 text; and a non-ASCII X-EADRCC-Signature.
Those values inside otherwise valid bodies (an offer, a CAP alert) are driven by
tests/integration/test_hostile_input.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, example, given, settings

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


ODD_TEXT = ["\x00", "%ED%A0%80"]  # a NUL; a lone surrogate (U+D800) as UTF-8 would spell it
HUGE = b"9" * 5000
ODD_JSON = [
    b'{"n": ' + HUGE + b"}",
    b'{"items": [{"quantity": ' + HUGE + b"}]}",
    b'{"n": NaN}',
    b'{"location": {"lat": 1e400, "lon": 1}}',
    b'{"title": "\\ud800"}',
    '{"title": "UTF-16"}'.encode("utf-16"),
]
LATE = "9999-12-31T23:59:59-14:00"


def odd_cases(operation: Any) -> list[schemathesis.Case]:
    """#12's hostile values as explicit cases of this operation."""
    cases = []
    paths = {p.name: "x" for p in operation.path_parameters}
    for name in paths:
        cases += [operation.Case(path_parameters={**paths, name: odd}) for odd in ODD_TEXT]
    for param in operation.query:
        cases += [
            operation.Case(path_parameters=paths, query={param.name: odd}) for odd in ODD_TEXT
        ]
    if any(body.media_type == "application/json" for body in operation.body):
        bodies = [*ODD_JSON, *(json.dumps({f: LATE}).encode() for f in _date_fields(operation))]
        cases += [
            operation.Case(path_parameters=paths, body=raw, media_type="application/json")
            for raw in bodies
        ]
    if operation.method.upper() == "POST" and operation.path == "/api/v1/alerts":
        signed = {"X-EADRCC-Timestamp": "1", "X-EADRCC-Signature": "sha256=\u00e9"}
        cases.append(operation.Case(headers=signed, body=b"{}", media_type="application/json"))
    return cases


def _date_fields(operation: Any) -> set[str]:
    """Names of date-time properties anywhere in the operation's JSON body schema."""
    found: set[str] = set()
    stack = [b.definition for b in operation.body if b.media_type == "application/json"]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in (node.get("properties") or {}).items():
                if isinstance(value, dict) and value.get("format") == "date-time":
                    found.add(key)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


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

        for odd in odd_cases(operation):
            check = example(case=odd)(check)
        check()
    assert not failures, "\n".join(sorted(set(failures))[:40])
