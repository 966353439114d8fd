"""The pure parts of outbound delivery: backoff, the SSRF rule per address, SMTP
URLs, webhook signatures and e-mail subjects."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eadrcc.alerts.signature import verify
from eadrcc.subscriptions import mailtext, webhook
from eadrcc.subscriptions.deliver import backoff
from eadrcc.subscriptions.mail import batch_of, parse_smtp_url
from eadrcc.subscriptions.outbound import Guard, Refused, parse_webhook_url


@pytest.mark.parametrize("attempts", [1, 2, 3, 5, 12, 40, 1000])
def test_backoff_doubles_from_the_first_wait_to_the_cap_with_jitter(attempts: int) -> None:
    full = min(3600.0, 2.0 ** (attempts - 1))
    waits = [backoff(attempts, first=1.0, cap=3600.0) for _ in range(200)]
    assert all(full / 2 <= w <= full for w in waits)
    assert len(set(waits)) > 1  # jittered


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("93.184.215.14", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("::1", False),
        ("10.0.0.1", False),
        ("172.31.255.255", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("fe80::1", False),
        ("fd12::1", False),
        ("224.0.0.251", False),
        ("0.0.0.0", False),
        ("::ffff:10.0.0.1", False),
        ("240.0.0.1", False),
    ],
)
def test_only_public_addresses_pass(address: str, allowed: bool) -> None:
    guard = Guard()
    if allowed:
        guard.check_address("h", address)
    else:
        with pytest.raises(Refused):
            guard.check_address("h", address)


def test_an_allowlisted_host_may_be_internal_but_never_link_local() -> None:
    guard = Guard(["hooks.internal", "127.0.0.1"])
    guard.check_address("hooks.internal", "10.0.0.5")
    guard.check_address("127.0.0.1", "127.0.0.1")
    with pytest.raises(Refused, match="link-local"):
        guard.check_address("hooks.internal", "169.254.169.254")
    with pytest.raises(Refused):
        guard.check_address("other.internal", "10.0.0.5")


@pytest.mark.parametrize(
    "url",
    ["ftp://x.org/", "http:///nohost", "https://u:p@x.org/", "http://x.org:70000/", "http://a b/"],
)
def test_webhook_urls_must_be_plain_http(url: str) -> None:
    with pytest.raises(Refused):
        parse_webhook_url(url)


def test_smtp_urls() -> None:
    plain = parse_smtp_url("smtp://relay.example.org:587")
    assert (plain.hostname, plain.port, plain.use_tls, plain.start_tls) == (
        "relay.example.org",
        587,
        False,
        None,
    )
    tls = parse_smtp_url("smtps://hub%40x.org:p%3Ass@mail.x.org")
    assert (tls.port, tls.use_tls, tls.start_tls) == (465, True, False)
    assert (tls.username, tls.password) == ("hub@x.org", "p:ss")
    assert parse_smtp_url("smtp://m?starttls=require").start_tls is True
    with pytest.raises(ValueError):
        parse_smtp_url("smtp://m?starttls=maybe")


def test_webhook_signature_verifies_as_inbound_requests_do() -> None:
    body = b'{"type":"event","seq":7}'
    headers = webhook.headers(secret="s3cret", delivery="sub_1:7", body=body, now=1_800_000_000)
    assert headers["X-EADRCC-Delivery"] == "sub_1:7"
    verify(
        secrets=("s3cret",),
        timestamp=headers["X-EADRCC-Timestamp"],
        signature=headers["X-EADRCC-Signature"],
        body=body,
        window_seconds=300,
        now=1_800_000_010,
    )


def _event(seq: int, kind: str, emergency: str | None = "eme_1") -> dict[str, object]:
    return {
        "seq": seq,
        "kind": kind,
        "emergency_id": emergency,
        "at": datetime(2026, 11, 29, 9, 30, tzinfo=UTC),
        "data": {"id": f"x{seq}", "quantity": 3, "nested": {"skipped": True}},
    }


def test_subjects_say_which_emergency_and_what_happened() -> None:
    titles = {"eme_1": ("Flood in\r\nBcc: x@y.org", False), "eme_2": ("Quake", True)}
    one = mailtext.subject([_event(1, "request.circulated")], titles, "en")
    assert one == "[EADRCC] Flood in Bcc: x@y.org: request for assistance circulated"
    assert "\n" not in one and "\r" not in one
    fr = mailtext.subject([_event(1, "need.updated", "eme_2")], titles, "fr")
    assert fr == "[EADRCC] EXERCICE Quake: besoin modifié"
    many = [_event(1, "need.updated"), _event(2, "offer.created"), _event(3, "x.unknown", "eme_2")]
    assert mailtext.subject(many, titles, "en") == (
        "[EADRCC] several emergencies: 3 updates (need changed, new offer, x.unknown)"
    )


def test_bodies_list_each_event_with_its_plain_fields() -> None:
    events = [_event(4, "offer.created"), _event(5, "<script>")]
    text = mailtext.plain(events, "en", "sub_1")
    assert "(#4)" in text and "quantity: 3" in text and "skipped" not in text
    html = mailtext.html(events, "fr", "sub_1")
    assert "<script>" not in html and "&lt;script&gt;" in html and 'lang="fr"' in html


def test_a_daily_report_goes_in_a_message_of_its_own() -> None:
    pending = [_event(1, "need.updated"), _event(2, mailtext.SITREP), _event(3, "need.updated")]
    assert [e["seq"] for e in batch_of(pending)] == [1]
    assert [e["seq"] for e in batch_of(pending[1:])] == [2]


def test_a_circulated_rfa_names_what_the_nation_declared_for_it() -> None:
    event = _event(6, "request.circulated")
    event["data"] = {
        "country": "NOR",
        "your_declared_capacities": [
            {
                "need_id": "ned_1",
                "request_id": "rfa_1",
                "need_type": "usar.medium",
                "capacity_id": "cap_1",
                "resource_type": "usar.heavy",
                "quantity": 1,
            }
        ],
    }
    text = mailtext.plain([event], "en", "sub_1", "NOR")
    assert "You declared: usar.heavy x1 (cap_1), for need usar.medium (ned_1)" in text
    staff = mailtext.plain([event], "en", "sub_1")
    assert "NOR declared: usar.heavy x1 (cap_1), for need usar.medium (ned_1)" in staff
    html = mailtext.html([event], "fr", "sub_1", "NOR")
    assert "Vous avez déclaré : usar.heavy x1 (cap_1), pour le besoin usar.medium (ned_1)" in html
    assert "declared" not in mailtext.plain([_event(7, "request.circulated")], "en", "sub_1")
