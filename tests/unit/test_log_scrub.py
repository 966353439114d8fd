"""Secrets quoted inside log text (an exception's message, a library's record) are
redacted, and ordinary text is left alone."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from eadrcc.logs import _SECRET_TEXT, scrub_secret_text

TOKEN = "eadrcc_" + "A1b2C3d4" * 6


def scrubbed(text: str) -> str:
    return str(scrub_secret_text(None, "info", {"exception": text})["exception"])


def test_secrets_inside_text_are_redacted() -> None:
    cases = {
        # aiohttp quoting a header line it could not parse
        f"Invalid header value char:\n\n  b'Authorization: Bearer {TOKEN}\\x01'": TOKEN,
        f"token {TOKEN} seen": TOKEN,
        "smtp://relay:mailpw-77b2@mail.example.org:587": "mailpw-77b2",
        "POST https://user:pa55@hooks.example.org/x failed": "pa55",
        "https://hooks.example.org/x?a=1&api_key=k3y-99&b=2": "k3y-99",
        "https://hooks.example.org/x?access_token=tok-55#f": "tok-55",
        "X-EADRCC-Signature: sha256=" + "ab" * 32: "ab" * 32,
    }
    for text, secret in cases.items():
        assert secret not in scrubbed(text), text


def test_ordinary_text_is_left_alone() -> None:
    for text in (
        "eadrcc_event_hub listening",
        "https://hooks.example.org/x?page=2&kind=request.",
        "cannot connect: Connect call failed ('127.0.0.1', 9)",
        "the bearer of bad news",
    ):
        assert scrubbed(text) == text


def test_nested_values_are_scrubbed() -> None:
    event = scrub_secret_text(None, "info", {"urls": ["https://u:p4ss@h/?key=v4l"]})
    assert "p4ss" not in str(event) and "v4l" not in str(event)


# Text made of pieces of every kind of secret, and of near misses.
_PIECES = [
    "Bearer ", "bearer\t", TOKEN, "eadrcc_", "A1b2C3d4" * 2, "sha256=", "ab" * 32, "://",
    "smtp://", "user:pw", "@", "?", "&", ";", "api_key=", "TOKEN=", "x", " ", "'", "é",
]  # fmt: skip


@given(st.lists(st.sampled_from(_PIECES), max_size=12).map("".join))
def test_one_search_first_scrubs_as_every_substitution_would(text: str) -> None:
    """The scrubber looks for any secret at once before substituting: never does that
    leave one in that the substitutions alone would have taken out."""
    every = text
    for pattern, replacement in _SECRET_TEXT:
        every = pattern.sub(replacement, every)
    assert scrubbed(text) == every
