"""Logs are JSON lines with a request id, and never hold a token, secret or signature."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import aiohttp

from eadrcc.alerts.signature import sign
from tests.conftest import free_port, wait_ready
from tests.integration.test_cli import eadrcc
from tests.integration.ws_helpers import stream


async def test_no_secret_reaches_the_log(db_url: str, tmp_path: Path) -> None:
    officer = json.loads(
        eadrcc(
            db_url, "token", "create", "--role", "duty_officer", "--name", "night shift", "--json"
        ).stdout
    )
    feed = json.loads(
        eadrcc(
            db_url, "token", "create", "--role", "integration", "--name", "feed", "--json"
        ).stdout
    )
    port = free_port()
    log_path = tmp_path / "hub.log"
    env = {**os.environ, "DATABASE_URL": db_url, "EADRCC_LOG_LEVEL": "debug"}
    with log_path.open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "eadrcc",
            "serve",
            "--port",
            str(port),
            env=env,
            stdout=log_file,
            stderr=log_file,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            await wait_ready(url)
            async with aiohttp.ClientSession() as http:
                auth = {"Authorization": f"Bearer {officer['token']}", "X-Request-ID": "req-42"}
                async with http.get(f"{url}/api/v1/partners/NOR", headers=auth) as resp:
                    assert resp.status == 200
                async with http.get(
                    f"{url}/api/v1/partners", headers={"Authorization": "Bearer eadrcc_notreal"}
                ) as r:
                    assert r.status == 401
                body = json.dumps(
                    {
                        "identifier": "L1",
                        "sender": "s",
                        "event": "Flood",
                        "sent": "2026-11-27T01:00:00+00:00",
                    }
                ).encode()
                stamp = str(int(time.time()))
                signed = {
                    "Authorization": f"Bearer {feed['token']}",
                    "Content-Type": "application/json",
                    "X-EADRCC-Timestamp": stamp,
                    "X-EADRCC-Signature": sign(feed["secret"], stamp, body),
                }
                async with http.post(f"{url}/api/v1/alerts", data=body, headers=signed) as r:
                    assert r.status == 201, await r.text()
            async with stream(url, officer["token"]):
                pass
            # A malformed request: aiohttp itself logs it, with a traceback.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"GET / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            assert (await reader.readline()).startswith(b"HTTP/1.0 400")
            writer.close()
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 30)
    text = log_path.read_text()
    for secret in (
        officer["token"],
        feed["token"],
        feed["secret"],
        "eadrcc_notreal",
        signed["X-EADRCC-Signature"],
    ):
        assert secret not in text, "a secret reached the log"
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "request"]
    assert any(r.get("request_id") == "req-42" and r["status"] == 200 for r in requests)
    assert all(r.get("request_id") for r in requests)
    # One stream: aiohttp's own error output is a JSON record too, not bare text.
    assert not [line for line in text.splitlines() if line.startswith(("Traceback", "Error"))]
    assert any(
        line.get("logger") == "aiohttp.server" and "Traceback" in line.get("exception", "")
        for line in lines
    )
