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
from tests.integration.ops_helpers import emergency_body
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


async def test_no_secret_reaches_the_log_from_the_newer_paths(db_url: str, tmp_path: Path) -> None:
    """Revoked sockets, webhook and e-mail deliveries (credentials in a URL), and
    aiohttp's own records of a malformed request that carries a token."""

    def token(role: str, name: str) -> dict[str, str]:
        made = eadrcc(db_url, "token", "create", "--role", role, "--name", name, "--json")
        parsed: dict[str, str] = json.loads(made.stdout)
        return parsed

    officer, watcher = token("duty_officer", "night shift"), token("observer", "watcher")
    port, dead = free_port(), free_port()  # nothing listens on `dead`
    hook_key, mail_password = "hookkey-5e3c9a1f0d", "mailpw-77b2c4e8aa"
    log_path = tmp_path / "hub.log"
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "EADRCC_LOG_LEVEL": "debug",
        "EADRCC_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
        "EADRCC_SMTP_URL": f"smtp://relay:{mail_password}@127.0.0.1:{dead}",
        "EADRCC_MAIL_BATCH_SECONDS": "0",
        "EADRCC_DELIVERY_MIN_BACKOFF_SECONDS": "0.2",
    }
    with log_path.open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "eadrcc", "serve", "--port", str(port),
            env=env, stdout=log_file, stderr=log_file,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            await wait_ready(url)
            auth = {"Authorization": f"Bearer {officer['token']}"}
            async with aiohttp.ClientSession(headers=auth) as http:
                for sub in (
                    {"kind": "webhook", "url": f"http://127.0.0.1:{dead}/hook?key={hook_key}"},
                    {"kind": "email", "address": "ops@example.org"},
                ):
                    async with http.post(f"{url}/api/v1/subscriptions", json=sub) as r:
                        assert r.status == 201, await r.text()
                async with stream(url, watcher["token"]) as (ws, _):
                    async with http.post(f"{url}/api/v1/emergencies", json=emergency_body()) as r:
                        assert r.status == 201, await r.text()
                    eadrcc(db_url, "token", "revoke", watcher["id"])
                    await asyncio.wait_for(ws.wait_closed(), 30)
            # A malformed header after a token: aiohttp logs the request it could not parse.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"GET /api/v1/partners HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer "
                + officer["token"].encode()
                + b"\x01\r\n\r\n"
            )
            assert (await reader.readline()).split()[1] == b"400"
            writer.close()
            async with asyncio.timeout(60):  # both deliveries failed (and were logged)
                while log_path.read_text().count('"delivery_failed"') < 2:
                    await asyncio.sleep(0.1)
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 30)
    text = log_path.read_text()
    assert '"socket_revoked"' in text
    for secret in (officer["token"], watcher["token"], hook_key, mail_password):
        assert secret not in text, f"a secret reached the log: {secret[:12]}"
