"""E-mail delivery through a real SMTP server (aiosmtpd on loopback): batched per
window, plain text with an HTML alternative, in the subscription's language, a
stable Message-ID, nothing lost while the server is down; and the daily
situation report, once per emergency and day whatever the number of instances."""

from __future__ import annotations

import asyncio
import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient, TestServer
from aiosmtpd.controller import Controller

from eadrcc import db
from eadrcc.app import create_app
from eadrcc.config import Settings
from eadrcc.events import log as events
from eadrcc.subscriptions.daily import send_due
from tests.conftest import TokenFactory, free_port
from tests.integration.delivery_helpers import wait_until
from tests.integration.ops_helpers import api, emergency_body
from tests.integration.test_delivery import FAST, expected_for, story


class Inbox:
    """aiosmtpd handler: keeps every message it accepted."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"

    def seqs(self) -> list[int]:
        """Every event seq the messages named, in the order they came."""
        out: list[int] = []
        for msg in self.messages:
            out.extend(_seqs(msg))
        return out


def _seqs(msg: EmailMessage) -> list[int]:
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return [int(part.split(")")[0]) for part in text.split("(#")[1:]]


def smtp_server(port: int) -> tuple[Controller, Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox


def mail_settings(db_url: str, port: int, **over: Any) -> Settings:
    return Settings(
        database_url=db_url,
        smtp_url=f"smtp://127.0.0.1:{port}",
        mail_from="hub@eadrcc.example",
        **{**FAST, "mail_batch_seconds": 0.5, **over},
    )


async def test_batches_reach_the_address_in_its_language_and_nothing_is_lost_while_down(
    db_url: str, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    port = free_port()
    async with TestClient(TestServer(create_app(mail_settings(db_url, port)))) as client:
        nor = await api(client, make_token, "poc", "NOR")
        sub = await nor.post(
            "/api/v1/subscriptions",
            {"kind": "email", "address": "desk@mfa.example.no", "language": "fr"},
            expect=201,
        )
        await story(client, make_token, amendments=2)  # while no SMTP server listens
        expected = await expected_for(pool, "NOR", sub["cursor"])
        failing = await wait_until(lambda: _failing(nor, sub["id"]))
        pending_until = failing["seq"]
        controller, inbox = smtp_server(port)
        try:
            await wait_until(lambda: inbox.seqs() == expected, timeout=60)
        finally:
            controller.stop()
    first = inbox.messages[0]
    # The batch that failed is the one that went, under the Message-ID it had then.
    assert first["Message-ID"] == f"<{sub['id']}.{pending_until}@eadrcc.example>"
    assert _seqs(first)[-1] == pending_until
    assert first["Subject"].startswith("[EADRCC] Kahramanmaraş earthquakes: ")
    assert "mises à jour" in first["Subject"] or "diffusée" in first["Subject"]
    assert first["Content-Language"] == "fr" and first["From"] == "hub@eadrcc.example"
    assert first.get_body(("html",)) is not None and first.is_multipart()
    assert "Ce qui a changé" in first.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert all(r == ["desk@mfa.example.no"] for r in inbox.recipients)
    assert len({m["Message-ID"] for m in inbox.messages}) == len(inbox.messages)


async def _failing(who: Any, sub_id: str) -> Any:
    log = await who.get(f"/api/v1/subscriptions/{sub_id}/deliveries")
    return log[0] if log and log[0]["status"] == "failing" and log[0]["attempts"] >= 2 else None


async def test_one_message_per_batch_window(
    db_url: str, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    port = free_port()
    controller, inbox = smtp_server(port)
    try:
        settings = mail_settings(db_url, port, mail_batch_seconds=2.0)
        async with TestClient(TestServer(create_app(settings))) as client:
            officer = await api(client, make_token, "duty_officer")
            sub = await officer.post(
                "/api/v1/subscriptions",
                {"kind": "email", "address": "duty@eadrcc.example"},
                expect=201,
            )
            await story(client, make_token, amendments=1)
            expected = await expected_for(pool, None, sub["cursor"])
            await wait_until(lambda: inbox.seqs() == expected, timeout=60)
    finally:
        controller.stop()
    # Everything within a window travels together: far fewer messages than events.
    assert len(inbox.messages) < len(expected)
    assert all(m["Subject"].startswith("[EADRCC] ") for m in inbox.messages)


async def test_daily_report_once_per_emergency_and_day_across_instances(
    db_url: str, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    port = free_port()
    controller, inbox = smtp_server(port)
    try:
        async with TestClient(TestServer(create_app(mail_settings(db_url, port)))) as client:
            officer = await api(client, make_token, "duty_officer")
            emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
            await officer.call(
                "PATCH", f"/api/v1/emergencies/{emergency['id']}", {"status": "active"}, expect=200
            )
            nor = await api(client, make_token, "poc", "NOR")
            await nor.post(
                "/api/v1/subscriptions",
                {"kind": "email", "address": "nor@eadrcc.example", "events": ["sitrep."]},
                expect=201,
            )
            # The report goes to the distribution list, not to every partner.
            await officer.call(
                "PUT",
                f"/api/v1/emergencies/{emergency['id']}/distribution",
                {"countries": ["NOR", "DEU"]},
                expect=200,
            )
            before = datetime(2026, 11, 29, 16, 59, tzinfo=UTC)
            assert await send_due(pool, hour=17, now=before) == []
            at = datetime(2026, 11, 29, 17, 0, 30, tzinfo=UTC)
            # Several instances at the same moment, then a restart later that day.
            other = await asyncpg.create_pool(db_url, min_size=1, max_size=2)
            try:
                sent = await asyncio.gather(
                    send_due(pool, hour=17, now=at), send_due(other, hour=17, now=at)
                )
            finally:
                await other.close()
            assert sorted(e for one in sent for e in one) == [emergency["id"]]
            audience = await pool.fetchval(
                "SELECT visibility FROM events WHERE kind = 'sitrep.daily'"
            )
            assert sorted(audience) == ["DEU", "NOR"]
            assert await send_due(pool, hour=17, now=at.replace(hour=22)) == []
            await wait_until(lambda: len(inbox.messages) >= 1, timeout=60)
    finally:
        controller.stop()
    [msg] = inbox.messages
    assert msg["Subject"] == "[EADRCC] Kahramanmaraş earthquakes: daily situation report"
    assert "Situation report" in msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<title>Situation report: Kahramanmaraş earthquakes" in html


async def test_daily_report_in_french_for_a_french_subscription(
    db_url: str, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    port = free_port()
    controller, inbox = smtp_server(port)
    try:
        async with TestClient(TestServer(create_app(mail_settings(db_url, port)))) as client:
            officer = await api(client, make_token, "duty_officer")
            tur = await api(client, make_token, "poc", "TUR")
            emergency = await officer.post("/api/v1/emergencies", emergency_body(), expect=201)
            await tur.post(
                f"/api/v1/emergencies/{emergency['id']}/requests",
                {
                    "requesting_country": "TUR",
                    "needs": [{"resource_type": "shelter.blanket", "quantity": 500}],
                },
                expect=201,
            )
            fra = await api(client, make_token, "poc", "FRA")
            await fra.post(
                "/api/v1/subscriptions",
                {
                    "kind": "email",
                    "address": "cogic@fra.example",
                    "events": ["sitrep."],
                    "language": "fr",
                },
                expect=201,
            )
            # France is on the default list: every partner but the stricken nation.
            at = datetime(2026, 11, 29, 17, 0, 30, tzinfo=UTC)
            assert await send_due(pool, hour=17, now=at) == [emergency["id"]]
            await wait_until(lambda: len(inbox.messages) >= 1, timeout=60)
    finally:
        controller.stop()
    [msg] = inbox.messages
    assert msg["Subject"] == "[EADRCC] Kahramanmaraş earthquakes: rapport de situation quotidien"
    assert msg["Content-Language"] == "fr"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    page = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for body in (text, page):
        assert "Rapport de situation : Kahramanmaraş earthquakes" in body
        assert "Besoins non satisfaits" in body and "Tous les besoins" in body
        assert "NON COUVERT" in body  # the need's flag, in French
        assert "type de ressource" in body and "shelter.blanket" in body
        assert "Situation report" not in body and "Outstanding needs" not in body
        assert "UNCOVERED" not in body
    assert '<html lang="fr">' in page


async def test_events_arriving_during_batch_windows_each_go_in_exactly_one_message(
    db_url: str, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    """Writers keep committing while every subscription's batch window is open and
    its message is being sent: each event must be in exactly one message per address,
    in seq order, whichever window it fell into."""
    port = free_port()
    controller, inbox = smtp_server(port)
    countries = ["NOR", "DEU", "FRA", "POL", "ITA", "ESP", None, None]
    try:
        async with TestClient(TestServer(create_app(mail_settings(db_url, port)))) as client:
            officer = await api(client, make_token, "duty_officer")
            subs = [
                await officer.post(
                    "/api/v1/subscriptions",
                    {"kind": "email", "address": f"desk{i}@eadrcc.example", "country": c},
                    expect=201,
                )
                for i, c in enumerate(countries)
            ]

            async def writer(n: int) -> None:
                # Back to back until every address has had messages go out meanwhile:
                # events keep arriving while windows close and messages are sent.
                k = 0
                while k < 8 or (len(inbox.messages) < 3 * len(subs) and k < 60):
                    body = emergency_body(title=f"Flood {n}.{k}")
                    await officer.post("/api/v1/emergencies", body, expect=201)
                    k += 1

            await asyncio.gather(*(writer(n) for n in range(4)))
            expected = {s["id"]: await expected_for(pool, s["country"], s["cursor"]) for s in subs}
            assert all(len(seqs) >= 32 for seqs in expected.values())

            def carried() -> dict[str, list[int]]:
                out: dict[str, list[int]] = {s["id"]: [] for s in subs}
                for msg in list(inbox.messages):
                    out[str(msg["X-EADRCC-Delivery"]).rpartition(":")[0]] += _seqs(msg)
                return out

            await wait_until(
                lambda: all(set(expected[k]) <= set(v) for k, v in carried().items()),
                timeout=90,
            )
    finally:
        controller.stop()
    for sub_id, seqs in carried().items():
        wanted = expected[sub_id]
        mine = [q for q in seqs if q <= wanted[-1]]  # later ones: daily reports meanwhile
        assert mine == wanted, sub_id  # each once, none skipped, in seq order
    # Batched: an address got fewer messages than events.
    per_address = len(inbox.messages) / len(subs)
    assert per_address < len(expected[subs[0]["id"]])


async def test_a_message_that_cannot_be_written_is_a_logged_failure_not_a_silent_stall(
    db_url: str, make_token: TokenFactory, pool: asyncpg.Pool
) -> None:
    port = free_port()
    controller, inbox = smtp_server(port)
    try:
        async with TestClient(TestServer(create_app(mail_settings(db_url, port)))) as client:
            officer = await api(client, make_token, "duty_officer")
            sub = await officer.post(
                "/api/v1/subscriptions",
                {"kind": "email", "address": "duty@eadrcc.example"},
                expect=201,
            )
            # An event the mail text cannot read (its data is not an object): any
            # error while writing a message, not only the foreseen ones.
            async with db.transaction(pool) as conn:
                events.record(
                    conn,
                    kind="partner.updated",
                    actor="test",
                    visibility=(),
                    data=["not", "an", "object"],  # type: ignore[arg-type]
                )
            failing = await wait_until(lambda: _failing(officer, sub["id"]))
    finally:
        controller.stop()
    assert "cannot compose the message" in failing["last_error"]
    assert inbox.messages == []
