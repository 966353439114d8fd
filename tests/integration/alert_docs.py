"""The alert documents of tests/data/alerts, with their times filled in relative to now."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from email.utils import format_datetime

from tests.conftest import TESTDATA

DOCS = TESTDATA / "alerts"
_MARK = re.compile(r"\{\{(rfc822 )?now([+-]\d+)([mhd])\}\}")
_UNIT = {"m": "minutes", "h": "hours", "d": "days"}


def at(now: datetime, offset: str) -> datetime:
    """`now` moved by an offset written as in the documents ("-2h", "+30m", "-1d")."""
    match = re.fullmatch(r"([+-]\d+)([mhd])", offset)
    assert match, offset
    return now + timedelta(**{_UNIT[match[2]]: int(match[1])})


def cap_time(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def render(name: str, now: datetime) -> bytes:
    """The document `name` with every {{now±N}} / {{rfc822 now±N}} replaced."""

    def fill(match: re.Match[str]) -> str:
        moment = at(now, match[2] + match[3])
        return format_datetime(moment, usegmt=True) if match[1] else cap_time(moment)

    return _MARK.sub(fill, (DOCS / name).read_text(encoding="utf-8")).encode()
