"""Sending e-mail through the operator's SMTP server (EADRCC_SMTP_URL).

`smtp://[user:password@]host[:port]` speaks plain SMTP and upgrades with
STARTTLS when the server offers it (`?starttls=require` insists, `?starttls=off`
never tries); `smtps://` is TLS from the first byte (port 465 by default).
A message carries a Message-ID made of the subscription and its last event, so
a batch sent again after a failure is recognisably the same message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
import asyncpg
import structlog

from eadrcc import policy
from eadrcc.config import Settings
from eadrcc.db import queries
from eadrcc.sitrep import build, render
from eadrcc.sitrep.words import Language
from eadrcc.subscriptions import mailtext, store
from eadrcc.subscriptions.mailtext import SITREP
from eadrcc.subscriptions.service import subscriber_principal

log = structlog.get_logger(__name__)
MAX_BATCH = 200
# Lost connections, not refused queries: those pass by, the rest is the message's.
DATABASE_AWAY = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
)
sitrep_q = queries("sitrep")


class MailError(Exception):
    """The message was not accepted; the text goes to the delivery log."""


@dataclass(frozen=True)
class SmtpServer:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool | None  # None: when the server offers it


def parse_smtp_url(url: str) -> SmtpServer:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("must be smtp://host[:port] or smtps://host[:port]")
    tls = parts.scheme == "smtps"
    mode = parse_qs(parts.query).get("starttls", ["auto"])[0]
    start_tls = {"auto": None, "require": True, "off": False}.get(mode)
    if mode not in ("auto", "require", "off"):
        raise ValueError("starttls must be auto, require or off")
    return SmtpServer(
        hostname=parts.hostname,
        port=parts.port or (465 if tls else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=tls,
        start_tls=False if tls else start_tls,
    )


def batch_of(pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events one message carries: a daily report goes alone, the rest together."""
    if pending[0]["kind"] == SITREP:
        return pending[:1]
    batch = []
    for event in pending[:MAX_BATCH]:
        if event["kind"] == SITREP:
            break
        batch.append(event)
    return batch


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.server = parse_smtp_url(settings.smtp_url) if settings.smtp_url else None
        self.sender = settings.mail_from
        self.timeout = settings.delivery_timeout_seconds
        self.domain = settings.mail_from.rpartition("@")[2] or "eadrcc.local"

    async def send(self, message: EmailMessage) -> None:
        if self.server is None:
            raise MailError("no SMTP server: EADRCC_SMTP_URL is not set")
        s = self.server
        try:
            await aiosmtplib.send(
                message,
                hostname=s.hostname,
                port=s.port,
                username=s.username,
                password=s.password,
                use_tls=s.use_tls,
                start_tls=s.start_tls,
                timeout=self.timeout,
                # Named here: by default the client asks socket.getfqdn() per message,
                # a DNS lookup in the shared thread pool (3 s here, where none answers).
                local_hostname=self.domain,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise MailError(f"{type(exc).__name__}: {str(exc)[:300]}") from None

    async def message(
        self, conn: asyncpg.Connection, sub: dict[str, Any], batch: list[dict[str, Any]]
    ) -> EmailMessage:
        """The message for a batch; MailError if it cannot be written (logged, retried)."""
        if self.server is None:
            raise MailError("no SMTP server: EADRCC_SMTP_URL is not set")
        try:
            return await self.compose(conn, sub, batch)
        except DATABASE_AWAY:
            raise  # the delivery loop waits and reads again
        except Exception as exc:
            # Whatever else (a bug, a query the database refuses), it goes to the
            # delivery log and is retried with backoff, suspended in the end: never a
            # silent loop that leaves the log empty and the address without mail.
            log.error("mail_compose_failed", subscription_id=sub["id"], exc_info=exc)
            raise MailError(f"cannot compose the message: {type(exc).__name__}: {exc}") from None

    async def compose(
        self, conn: asyncpg.Connection, sub: dict[str, Any], batch: list[dict[str, Any]]
    ) -> EmailMessage:
        language = sub["language"]
        ids = sorted({e["emergency_id"] for e in batch if e["emergency_id"]})
        titles = await store.emergency_titles(conn, ids)
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = sub["address"]
        msg["Subject"] = mailtext.subject(batch, titles, language)
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = f"<{sub['id']}.{batch[-1]['seq']}@{self.domain}>"
        msg["X-EADRCC-Delivery"] = f"{sub['id']}:{batch[-1]['seq']}"
        if batch[0]["kind"] == SITREP:
            # Folded from what this subscription's view may see, as the API's report is.
            seen = policy.audience(subscriber_principal(sub))
            text, page = await _sitrep(conn, batch[0], seen, language)
        else:
            reader = sub.get("country")
            text = mailtext.plain(batch, language, sub["id"], reader)
            page = mailtext.html(batch, language, sub["id"], reader)
        msg.set_content(text)
        msg.add_alternative(page, subtype="html")
        msg["Content-Language"] = language  # after the body: setting content drops Content-*
        return msg


async def _sitrep(
    conn: asyncpg.Connection, event: dict[str, Any], seen: list[str] | None, language: Language
) -> tuple[str, str]:
    """The report as it stood when the daily event was written, in the subscription's
    language."""
    as_of: datetime = event["at"]
    rows = await conn.fetch(
        *sitrep_q.bind(
            "emergency_events", emergency_id=event["emergency_id"], as_of=as_of, audience=seen
        )
    )
    report = build.report(build.fold((r["seq"], r["kind"], r["data"]) for r in rows), as_of)
    return render.markdown(report, language), render.html(report, language)
