"""What a need's figures mean, as pure functions of its counts and the clock.

The API (from SQL sums), the situation report (folded from events) and the
console (in JavaScript) each compute these; tests hold all three to one
expected-results file (tests/data/expected/).

- accepted, in_transit and delivered are disjoint: accepted is allocated help that
  has not moved yet, in_transit what is moving, delivered what arrived.
- uncovered_quantity = requested - accepted - in_transit - delivered: a proposal is
  not cover. A cancelled need lacks nothing.
- late: needed_by has passed and not all of the request was delivered.
- at_risk: accepted or moving help is expected (ETA) after needed_by, or nothing is
  accepted, moving or delivered and needed_by is less than 6 hours away (or past).
"""

from __future__ import annotations

from datetime import datetime, timedelta

AT_RISK_WITHIN = timedelta(hours=6)


def uncovered_quantity(
    *, status: str, requested: int, accepted: int, in_transit: int, delivered: int
) -> int:
    if status != "open":
        return 0
    return max(requested - accepted - in_transit - delivered, 0)


def late(
    *, status: str, requested: int, delivered: int, needed_by: datetime | None, now: datetime
) -> bool:
    return status == "open" and needed_by is not None and needed_by <= now and delivered < requested


def at_risk(
    *,
    status: str,
    needed_by: datetime | None,
    allocated: int,
    latest_eta: datetime | None,
    now: datetime,
) -> bool:
    """`allocated`: accepted + in transit + delivered; `latest_eta`: the latest ETA of
    help accepted or moving that has not all arrived."""
    if status != "open" or needed_by is None:
        return False
    if latest_eta is not None and latest_eta > needed_by:
        return True
    return allocated == 0 and needed_by - now < AT_RISK_WITHIN
