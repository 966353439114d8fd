"""eadrcc.jsontext writes what the standard library wrote on the same paths."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from eadrcc import jsontext


def stdlib(value: Any) -> str:
    """What the hot paths wrote before jsontext."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.text()
    | st.datetimes(timezones=st.just(UTC) | st.just(timezone(timedelta(hours=3))))
)
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.text() | st.integers(-5, 5), inner, max_size=5)
    ),
    max_leaves=30,
)


@given(values)
def test_the_text_is_the_standard_librarys(value: Any) -> None:
    assert jsontext.dumps(value) == stdlib(value)
    assert jsontext.loads(jsontext.dumps(value)) == json.loads(stdlib(value))


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_float_reads_back_as_the_same_number(number: float) -> None:
    # the exponent may be written differently (1e-07 / 1e-7): the value is the same
    assert jsontext.loads(jsontext.dumps([number])) == [number] == json.loads(stdlib([number]))


def test_what_json_has_no_type_for_is_written_as_its_str() -> None:
    at = datetime(2026, 11, 30, 9, 30, 15, 123456, tzinfo=UTC)
    value = {"at": at, "amount": Decimal("1.50"), 7: "seven", "date": at.date()}
    assert jsontext.dumps(value) == stdlib(value)
    assert jsontext.loads(jsontext.dumps(value))["at"] == "2026-11-30 09:30:15.123456+00:00"


def test_text_is_utf8_not_escaped_and_controls_are() -> None:
    text = "Évacuation — Gölcük 避难所 \u2028 \x00 \t"
    assert jsontext.dumps(text) == stdlib(text)
    assert "\\u0000" in jsontext.dumps(text)


def test_nan_is_never_written_as_nan() -> None:
    # json writes the invalid token NaN; no reader of ours accepts it
    assert jsontext.dumps([math.nan]) == "[null]"
