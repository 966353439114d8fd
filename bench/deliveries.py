"""Outbound delivery: 70 webhook subscriptions and 70 e-mail addresses, one hub.

Everything real, on one machine:

- a fresh database (eadrcc_bench_deliveries_<random>), seeded by `eadrcc seed`;
- one hub, `eadrcc serve` (subprocess), allowed to call 127.0.0.1;
- 70 webhook receivers in this process, each an aiohttp site on its own loopback
  port, recording time.time() at each receipt and answering 204; 70 subscriptions
  (the registry has 67 nations besides the stricken one: three of them have a
  second desk's webhook);
- an aiosmtpd SMTP server in this process for the e-mail part.

What each subscription should receive is read from the hub's database with the
visibility rule the worker uses (a POC of its country): each nation gets its own
`request.circulated` of every commit, besides the events every nation sees.

Latency (webhooks): an RFA is filed, then amended 10 times (PATCH of a need), one
commit at a time as a desk would. Per commit: commit → the last of the 70
receivers' receipt of what that commit wrote (`at` is clock_timestamp() at insert,
just before commit): the issue's "commit → last nation's receipt", goal p99 < 2 s.
Also commit → each receipt. Repeated --rounds times, each on a new RFA.
Throughput: --burst emergencies created at once (each one event every subscription
receives); deliveries / (last receipt - first event's `at`). Baseline, same run: the
same number of bodies POSTed by a bare aiohttp client, one task per receiver in
order (no signing, no database): the floor for that many POSTs here.
E-mail: 70 e-mail subscriptions (batch window --mail-batch seconds), one event every
nation sees: commit → the message carrying it accepted by the SMTP server, per
address. Accounted per (subscription, event) from each message's
X-EADRCC-Delivery header and the `(#seq)` lines of its text, never by counting
messages (a daily report is a message of its own): `missing` and `carried_twice`
name subscriptions, and a missing one's delivery log is printed.

    python bench/deliveries.py [--database-url URL] [--rounds 3] [--burst 40]
                               [--mail-batch 1] [--mail-timeout 120] [--no-webhooks]

BENCH_HUB_LOG=<file> keeps the hub's log (warnings and errors) for a post-mortem.
    python bench/deliveries.py [--database-url URL] [--rounds 3] [--burst 40]

Results are printed and written to bench/results/deliveries.json, with the load
average before and after (the machine is shared: load shows up as latency).
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import json
import os
import re
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
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

from eadrcc import policy
from eadrcc.auth import Principal
from eadrcc.events import log as event_log

WEBHOOKS = 70
SEQS_IN_TEXT = re.compile(r"\(#(\d+)\)")


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
    """The SMTP sink: per message, the subscription (X-EADRCC-Delivery), the events
    it carries (the `(#seq)` of each line of its plain text) and when it arrived."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[int], float]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        arrived = time.time()
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        sub = str(message.get("X-EADRCC-Delivery", "")).rpartition(":")[0]
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        self.messages.append((sub, [int(n) for n in SEQS_IN_TEXT.findall(text)], arrived))
        return "250 OK"

    def receipts(self) -> dict[tuple[str, int], list[float]]:
        """(subscription, seq) → the arrival of every message that carried it."""
        found: dict[tuple[str, int], list[float]] = {}
        for sub, seqs, arrived in list(self.messages):
            for seq in seqs:
                found.setdefault((sub, seq), []).append(arrived)
        return found


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
    # Named: else aiosmtpd calls socket.getfqdn() for every connection, blocking its
    # loop; where DNS does not answer (seconds a lookup), the sink is the bottleneck.
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port, server_hostname="sink.local")
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
                return await measure(
                    args, http, tur, base, receivers, inbox, load_before, Log(db_url)
                )


class Log:
    """What each subscription should receive, read from the hub's database with the
    same visibility rule the worker uses (a POC of the subscription's country)."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url

    async def head(self) -> int:
        conn = await asyncpg.connect(self.db_url)
        try:
            return int(await event_log.head(conn))
        finally:
            await conn.close()

    async def seq_of(self, kind: str, emergency_id: str) -> int:
        conn = await asyncpg.connect(self.db_url)
        try:
            return int(
                await conn.fetchval(
                    "SELECT seq FROM events WHERE kind = $1 AND emergency_id = $2",
                    kind,
                    emergency_id,
                )
            )
        finally:
            await conn.close()

    async def commit_groups(self, spans: list[tuple[int, int]]) -> list[dict[int, float]]:
        """Per API call (the log's head before and after it): the events that call's
        transaction wrote (seq → at), leaving out what the hub wrote meanwhile."""
        conn = await asyncpg.connect(self.db_url)
        try:
            groups = []
            for before, after in spans:
                rows = await conn.fetch(
                    "SELECT seq, at FROM events WHERE seq > $1 AND seq <= $2"
                    " AND actor NOT LIKE 'hub:%'",
                    before,
                    after,
                )
                groups.append({r["seq"]: r["at"].timestamp() for r in rows})
            return groups
        finally:
            await conn.close()

    async def expected(
        self, subs: list[tuple[str, str]], since: int, until: int
    ) -> dict[tuple[str, int], float]:
        """(subscription, seq) → the event's commit time (its `at`) for every event in
        (since, until] that subscription's country may see."""
        conn = await asyncpg.connect(self.db_url)
        try:
            found: dict[tuple[str, int], float] = {}
            for sub_id, country in subs:
                rows = await event_log.read_between(
                    conn,
                    since=since,
                    until=until,
                    audience=policy.audience(Principal.for_country(country)),
                    limit=1_000_000,
                )
                found.update({(sub_id, r["seq"]): r["at"].timestamp() for r in rows})
            return found
        finally:
            await conn.close()


def latencies(
    expected: dict[tuple[str, int], float], got: dict[tuple[str, int], float]
) -> tuple[list[float], list[float]]:
    """(commit → each receipt, commit → the last receiver of each event)."""
    each = [got[k] - at for k, at in expected.items()]
    last: dict[int, float] = {}
    for (_sub, seq), at in expected.items():
        last[seq] = max(last.get(seq, float("-inf")), got[(_sub, seq)] - at)
    return each, list(last.values())


def per_commit(
    groups: list[dict[int, float]],
    expected: dict[tuple[str, int], float],
    got: dict[tuple[str, int], float],
) -> list[float]:
    """Commit → the last nation's receipt of what that commit circulated (each nation
    gets its own request.circulated, so this is over all 70 receivers)."""
    receivers: dict[int, list[str]] = {}
    for sub, seq in expected:
        receivers.setdefault(seq, []).append(sub)
    out = []
    for group in groups:
        if not group:
            continue
        committed = max(group.values())  # `at` is taken at insert, just before commit
        last = max(got[(sub, seq)] for seq in group for sub in receivers.get(seq, []))
        out.append(last - committed)
    return out


def figures(values: list[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values) if values else float("nan"),
    }


async def measure(
    args: argparse.Namespace,
    http: aiohttp.ClientSession,
    tur: str,
    base: str,
    receivers: Receivers,
    inbox: Inbox,
    load_before: tuple[float, ...],
    log: Log,
) -> dict[str, Any]:
    partners = [p["code"] for p in await call(http, "GET", f"{base}/api/v1/partners", None)]
    nations = [c for c in partners if c != "TUR"]
    result: dict[str, Any] = {"machine": machine(), "load_before": load_before}
    if args.webhooks:
        result.update(await webhook_rounds(args, http, tur, base, receivers, nations, log))
    result["mail"] = await mail_batch(http, base, nations, inbox, args, log)
    result["load_after"] = os.getloadavg()
    return result


async def webhook_rounds(
    args: argparse.Namespace,
    http: aiohttp.ClientSession,
    tur: str,
    base: str,
    receivers: Receivers,
    nations: list[str],
    log: Log,
) -> dict[str, Any]:
    countries = (nations * 2)[:WEBHOOKS]
    subs = []
    for country, url in zip(countries, receivers.urls, strict=True):
        body = {"kind": "webhook", "url": url, "country": country}
        made = await call(http, "POST", f"{base}/api/v1/subscriptions", body)
        subs.append((made["id"], country))
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
    head = await log.head()
    await receivers.wait_for({(s, head) for s, _c in subs})  # every worker is up and sending
    # Each round: an RFA filed, then amended 10 times, one commit at a time as a desk
    # would. Every commit circulates to each of the 67 nations (its own
    # request.circulated) besides the events every nation sees.
    expected: dict[tuple[str, int], float] = {}
    spans: list[tuple[int, int]] = []
    tur_http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {tur}"})
    async with tur_http:
        for _ in range(args.rounds):
            before = await log.head()
            rfa = await call(
                tur_http,
                "POST",
                f"{base}/api/v1/emergencies/{emergency['id']}/requests",
                {
                    "requesting_country": "TUR",
                    "needs": [{"resource_type": "shelter.blanket", "quantity": 1000}],
                },
            )
            spans.append((before, await log.head()))
            for n in range(10):
                before = await log.head()
                await call(
                    tur_http,
                    "PATCH",
                    f"{base}/api/v1/requests/{rfa['id']}/needs/{rfa['needs'][0]['id']}",
                    {"quantity": 1001 + n},
                )
                spans.append((before, await log.head()))
            until = await log.head()
            # Also what delivery wrote meanwhile (response rows moving to `delivered`).
            round_keys = await log.expected(subs, head, until)
            await receivers.wait_for(set(round_keys))
            expected.update(round_keys)
            head = until
    each, last = latencies(expected, receivers.got)
    commits = per_commit(await log.commit_groups(spans), expected, receivers.got)
    # Throughput: a burst, every event to every subscription.
    since = await log.head()
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
    burst = await log.expected(subs, since, await log.head())
    await receivers.wait_for(set(burst))
    span = max(receivers.got[k] for k in burst) - min(burst.values())
    floor = await baseline(receivers, len({seq for _s, seq in burst}))
    return {
        "webhooks": WEBHOOKS,
        "rounds": args.rounds,
        # The figure: an RFA filed or amended -> the last of the 70 receipts.
        "webhook_commit_to_last_nation_s": figures(commits),
        "webhook_event_to_last_receiver_s": figures(last),
        "webhook_commit_to_each_receipt_s": figures(each),
        "burst": {
            "deliveries": len(burst),
            "seconds": span,
            "deliveries_per_s": len(burst) / span,
            "baseline_bare_posts_per_s": floor,
        },
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
    log: Log,
) -> dict[str, Any]:
    """70 addresses; one event every nation sees. Each address must get that event in
    exactly one message: counted per (subscription, event), never by message count
    (a daily report, which goes alone, is a message too)."""
    countries = (nations * 2)[:WEBHOOKS]
    made = []
    for i, country in enumerate(countries):
        body = {
            "kind": "email",
            "address": f"desk{i}@{country.lower()}.example",
            "country": country,
        }
        made.append(
            ((await call(http, "POST", f"{base}/api/v1/subscriptions", body))["id"], country)
        )
    await asyncio.sleep(2)  # claimed within a second: the figure is batching and sending
    since = await log.head()
    emergency = await call(
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
    seq = await log.seq_of("emergency.created", emergency["id"])
    wanted = {k: at for k, at in (await log.expected(made, since, seq)).items() if k[1] == seq}
    assert len(wanted) == len(made), "every nation may see the new emergency"
    try:
        async with asyncio.timeout(args.mail_timeout):
            while not set(wanted) <= inbox.receipts().keys():
                await asyncio.sleep(0.05)
    except TimeoutError:
        pass
    got = inbox.receipts()
    missing = sorted(s for s, _seq in wanted.keys() - got.keys())
    result: dict[str, Any] = {
        "addresses": len(made),
        "batch_window_s": args.mail_batch,
        "messages_seen": len(inbox.messages),
        "missing": missing,
        "carried_twice": sorted(s for (s, q), t in got.items() if (s, q) in wanted and len(t) > 1),
    }
    for sub_id in missing[:3]:  # why: its delivery log and state
        result.setdefault("missing_logs", {})[sub_id] = await call(
            http, "GET", f"{base}/api/v1/subscriptions/{sub_id}/deliveries", None
        )
    each = [min(got[k]) - at for k, at in wanted.items() if k in got]
    if each:
        result["commit_to_each_message_s"] = figures(each)
        result["after_window_s"] = figures([x - args.mail_batch for x in each])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--burst", type=int, default=40)
    parser.add_argument("--mail-batch", type=float, default=1.0)
    parser.add_argument("--mail-timeout", type=float, default=120.0)
    parser.add_argument(
        "--no-webhooks", dest="webhooks", action="store_false", help="the e-mail part only"
    )
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2, default=str))
    print(summary(result))
    print("saved", save("deliveries", result))


def summary(r: dict[str, Any]) -> str:
    """The figures the issue asks for, in a few lines, with the load they ran under."""
    load = "load average (1/5/15 min) before {} after {}".format(
        "/".join(f"{x:.1f}" for x in r["load_before"]),
        "/".join(f"{x:.1f}" for x in r["load_after"]),
    )
    lines = [load]
    if "webhook_commit_to_last_nation_s" in r:
        c, e = r["webhook_commit_to_last_nation_s"], r["webhook_commit_to_each_receipt_s"]
        b = r["burst"]
        lines += [
            f"webhooks ({r['webhooks']}): commit -> last nation's receipt p50 {c['p50']:.3f} s,"
            f" p99 {c['p99']:.3f} s over {c['count']} commits (goal p99 < 2 s);"
            f" commit -> each receipt p50 {e['p50']:.3f} s, p99 {e['p99']:.3f} s"
            f" ({e['count']} receipts)",
            f"throughput: {b['deliveries_per_s']:.0f} deliveries/s by one instance;"
            f" bare aiohttp POSTs to the same receivers, same run: "
            f"{b['baseline_bare_posts_per_s']:.0f}/s",
        ]
    m = r["mail"]
    if "commit_to_each_message_s" in m:
        f = m["commit_to_each_message_s"]
        lines.append(
            f"e-mail ({m['addresses']} addresses, batch window {m['batch_window_s']} s):"
            f" commit -> message accepted p50 {f['p50']:.3f} s, p99 {f['p99']:.3f} s;"
            f" missing {len(m['missing'])}, carried twice {len(m['carried_twice'])}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
