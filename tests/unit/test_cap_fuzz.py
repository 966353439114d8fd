"""Mutated CAP thrown at the parser: it may refuse, never crash or hang."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eadrcc.alerts import cap

SAMPLES = [
    p.read_bytes() for p in sorted((Path(__file__).parents[1] / "data" / "cap").glob("*.xml"))
]
SNIPPETS = [
    b"<",
    b">",
    b"&",
    b"&amp;",
    b"<!DOCTYPE x>",
    b"<info>",
    b"</info>",
    b"]]>",
    b"<polygon>1,1 2,2</polygon>",
    b"\x00",
    b"\xff",
    b"-00:00",
    b"Update",
    b'"',
    b" ",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        if action == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif action == "insert":
            data[at:at] = draw(st.sampled_from(SNIPPETS) | st.binary(max_size=8))
        else:
            data[at : at + 1] = draw(st.binary(min_size=1, max_size=1))
    return bytes(data)


# No per-example deadline: a loaded CI machine can pause any example for seconds,
# which Hypothesis would report as flaky; a parse that hangs still fails the run.
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_cap_is_parsed_or_refused(raw: bytes) -> None:
    try:
        alert = cap.parse(raw)
    except (cap.Unsafe, cap.Problems):
        return
    assert alert.identifier and alert.sender and alert.sent.tzinfo is not None
