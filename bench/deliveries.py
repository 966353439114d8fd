"""Outbound delivery: 70 webhook subscriptions and 70 e-mail addresses, one hub.

Everything real, on one machine:

- a fresh database (eadrcc_bench_deliveries_<random>), seeded by `eadrcc seed`;
- one hub, `eadrcc serve` (subprocess), allowed to call 127.0.0.1;
- 70 webhook receivers in this process, each an aiohttp site on its own loopback
  port, recording time.time() at each receipt and answering 204; 70 subscriptions
  (the registry has 67 nations besides the stricken one: three of them have a
  second desk's webhook);
- an aiosmtpd SMTP server in this process for the e-mail part.

Latency: an RFA is filed, then amended 10 times (PATCH of a need), one at a time
as a desk would; each commit writes events every nation may see. For each event,
commit → the last of the 70 receipts (the event's `at` is clock_timestamp() at its
insert, just before commit). Repeated --rounds times, each on a new RFA.
Throughput: --burst emergencies created back to back (each one event every
subscription receives); deliveries / (last receipt - first event's `at`).
Baseline, same run: the same bodies POSTed by a bare aiohttp client, one task per
receiver in order (no signing, no database): the floor for that many POSTs here.
E-mail: 70 e-mail subscriptions (batch window --mail-batch seconds); one event →
70 messages; event → last message accepted by the SMTP server.

    python bench/deliveries.py [--database-url URL] [--rounds 3] [--burst 40]

Results are printed and written to bench/results/deliveries.json, with the load
average before and after (the machine is shared: load shows up as latency).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.harness import (
    free_port,
    hub_command,
    machine,
    percentile,
    processes,
    save,
    scratch_database,
    server_url,
    token,
    wait_ready,
)

WEBHOOKS = 70


class Receivers:
    """70 loopback sites; each receipt's time by (subscription id, seq)."""

    def __init__(self) -> None:
        self.got: dict[tuple[str, int], float] = {}
        self.changed = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.urls: list[str] = []

    async def start(self, count: int) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        for _ in range(count):
            port = free_port()
            await web.TCPSite(self.runner, "127.0.0.1", port).start()
            self.urls.append(f"http://127.0.0.1:{port}/hook")

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        sub, _, seq = request.headers.get("X-EADRCC-Delivery", "x:0").rpartition(":")
        self.got.setdefault((sub, int(seq)), time.time())
        self.changed.set()
        return web.Response(status=204)

    async def wait_for(self, keys: set[tuple[str, int]], timeout: float = 120) -> None:
        async with asyncio.timeout(timeout):
            while not keys <= self.got.keys():
                self.changed.clear()
                await self.changed.wait()


class Inbox:
    def __init__(self) -> None:
        self.times: list[float] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.times.append(time.time())
        return "250 OK"


async def call(http: aiohttp.ClientSession, method: str, url: str, body: Any) -> Any:
    async with http.request(method, url, json=body) as resp:
        assert resp.status < 300, (url, resp.status, await resp.text())
        return await resp.json() if resp.status != 204 else None


async def events_since(http: aiohttp.ClientSession, base: str, since: int) -> list[dict[str, Any]]:
    page = await call(http, "GET", f"{base}/api/v1/events?since={since}&limit=5000", None)
    return list(page["events"])


def at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["at"]).timestamp()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()
    receivers = Receivers()
    await receivers.start(WEBHOOKS)
    inbox = Inbox()
    smtp_port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    try:
        return await _with_hub(args, receivers, inbox, smtp_port, load_before)
    finally:
        smtp.stop()


async def _with_hub(
    args: argparse.Namespace,
    receivers: Receivers,
    inbox: Inbox,
    smtp_port: int,
    load_before: tuple[float, ...],
) -> dict[str, Any]:
    async with scratch_database(server_url(args.database_url), "deliveries") as db_url:
        port = free_port()
        cmd, env = hub_command(db_url, port)
        env.update(
            EADRCC_WEBHOOK_ALLOW_HOSTS="127.0.0.1",
            EADRCC_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
            EADRCC_MAIL_BATCH_SECONDS=str(args.mail_batch),
            EADRCC_POOL_MAX_SIZE="30",
        )
        officer = token(db_url, "duty_officer")["token"]
        tur = token(db_url, "poc", country="TUR")["token"]
        with processes([(cmd, env)]):
            base = f"http://127.0.0.1:{port}"
            await wait_ready(base)
            async with aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {officer}"}
            ) as http:
                return await measure(args, http, tur, base, receivers, inbox, load_before)


async def measure(
    args: argparse.Namespace,
    http: aiohttp.ClientSession,
    tur: str,
    base: str,
    receivers: Receivers,
    inbox: Inbox,
    load_before: tuple[float, ...],
) -> dict[str, Any]:
    partners = [p["code"] for p in await call(http, "GET", f"{base}/api/v1/partners", None)]
    nations = [c for c in partners if c != "TUR"]
    countries = (nations * 2)[:WEBHOOKS]
    subs = []
    for country, url in zip(countries, receivers.urls, strict=True):
        body = {"kind": "webhook", "url": url, "country": country}
        subs.append((await call(http, "POST", f"{base}/api/v1/subscriptions", body))["id"])
    emergency = await call(
        http,
        "POST",
        f"{base}/api/v1/emergencies",
        {
            "title": "Bench earthquake",
            "hazard": "earthquake",
            "countries": ["TUR"],
            "location": {"lat": 37.2, "lon": 37.0},
            "severity": "extreme",
        },
    )
    head = (await call(http, "GET", f"{base}/api/v1/events?since=0&limit=1", None))["head"]
    await receivers.wait_for({(s, head) for s in subs})  # every worker is up and sending
    last_receipt: list[float] = []
    all_receipts: list[float] = []
    tur_http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {tur}"})
    async with tur_http:
        for _ in range(args.rounds):
            since = head
            rfa = await call(
                tur_http,
                "POST",
                f"{base}/api/v1/emergencies/{emergency['id']}/requests",
                {
                    "requesting_country": "TUR",
                    "needs": [{"resource_type": "shelter.blanket", "quantity": 1000}],
                },
            )
            for n in range(10):
                await call(
                    tur_http,
                    "PATCH",
                    f"{base}/api/v1/requests/{rfa['id']}/needs/{rfa['needs'][0]['id']}",
                    {"quantity": 1001 + n},
                )
            events = await events_since(http, base, since)
            head = events[-1]["seq"]
            await receivers.wait_for({(s, e["seq"]) for s in subs for e in events})
            for e in events:
                times = [receivers.got[(s, e["seq"])] - at(e) for s in subs]
                last_receipt.append(max(times))
                all_receipts.extend(times)
    # Throughput: a burst, every event to every subscription.
    since = head
    await asyncio.gather(
        *(
            call(
                http,
                "POST",
                f"{base}/api/v1/emergencies",
                {
                    "title": f"Burst {n}",
                    "hazard": "flood",
                    "countries": ["TUR"],
                    "location": {"lat": 37.2, "lon": 37.0},
                    "severity": "moderate",
                },
            )
            for n in range(args.burst)
        )
    )
    burst = await events_since(http, base, since)
    keys = {(s, e["seq"]) for s in subs for e in burst}
    await receivers.wait_for(keys)
    span = max(receivers.got[k] for k in keys) - min(at(e) for e in burst)
    floor = await baseline(receivers, len(burst))
    mail = await mail_batch(http, base, nations, inbox, args)
    return {
        "machine": machine(),
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "webhooks": WEBHOOKS,
        "rounds": args.rounds,
        "commit_to_last_nation_s": {
            "events": len(last_receipt),
            "p50": percentile(last_receipt, 50),
            "p99": percentile(last_receipt, 99),
            "max": max(last_receipt),
        },
        "commit_to_each_receipt_s": {
            "receipts": len(all_receipts),
            "p50": percentile(all_receipts, 50),
            "p99": percentile(all_receipts, 99),
        },
        "burst": {
            "events": len(burst),
            "deliveries": len(keys),
            "seconds": span,
            "deliveries_per_s": len(keys) / span,
            "baseline_bare_posts_per_s": floor,
        },
        "mail": mail,
    }


async def baseline(receivers: Receivers, per_receiver: int) -> float:
    """Bare aiohttp POSTs of a typical event body: one task per receiver, in order."""
    body = json.dumps({"type": "event", "seq": 0, "kind": "emergency.created", "data": {}})

    async def one(http: aiohttp.ClientSession, url: str, i: int) -> None:
        for n in range(per_receiver):
            headers = {"X-EADRCC-Delivery": f"floor{i}:{n}", "Content-Type": "application/json"}
            async with http.post(url, data=body, headers=headers) as resp:
                await resp.read()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        started = time.perf_counter()
        await asyncio.gather(*(one(http, url, i) for i, url in enumerate(receivers.urls)))
        return per_receiver * len(receivers.urls) / (time.perf_counter() - started)


async def mail_batch(
    http: aiohttp.ClientSession,
    base: str,
    nations: list[str],
    inbox: Inbox,
    args: argparse.Namespace,
) -> dict[str, Any]:
    countries = (nations * 2)[:WEBHOOKS]
    made = []
    for i, country in enumerate(countries):
        body = {
            "kind": "email",
            "address": f"desk{i}@{country.lower()}.example",
            "country": country,
        }
        made.append((await call(http, "POST", f"{base}/api/v1/subscriptions", body))["id"])
    # New subscriptions are claimed within a second; wait two so the figure is the
    # batch and the sending, not the claim.
    await asyncio.sleep(2)
    head = (await call(http, "GET", f"{base}/api/v1/events?since=0&limit=1", None))["head"]
    await call(
        http,
        "POST",
        f"{base}/api/v1/emergencies",
        {
            "title": "Mail bench",
            "hazard": "flood",
            "countries": ["TUR"],
            "location": {"lat": 37.2, "lon": 37.0},
            "severity": "moderate",
        },
    )
    event = (await events_since(http, base, head))[0]
    try:
        async with asyncio.timeout(120):
            while len(inbox.times) < len(countries):
                await asyncio.sleep(0.05)
    except TimeoutError:
        log = await call(http, "GET", f"{base}/api/v1/subscriptions/{made[0]}/deliveries", None)
        return {"error": "not all messages arrived", "arrived": len(inbox.times), "log": log}
    last = max(inbox.times) - at(event)
    return {
        "addresses": len(countries),
        "batch_window_s": args.mail_batch,
        "event_to_last_message_s": last,
        "after_window_s": last - args.mail_batch,
        "messages_per_s": len(countries) / (max(inbox.times) - min(inbox.times) or 1e-9),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--burst", type=int, default=40)
    parser.add_argument("--mail-batch", type=float, default=1.0)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2, default=str))
    print("saved", save("deliveries", result))


if __name__ == "__main__":
    main()
