"""Appending to and reading from the event log (named parameters: sql/queries/events.sql
writes `:name`, and each call passes them by name)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import asyncpg

from eadrcc import db, jsontext
from eadrcc.db import queries
from eadrcc.events.models import EventPage

q = queries("events")
EVERYONE = ("*",)
# This process's event hubs (one per running app): woken after every commit that
# wrote events. A process with none (the CLI) sends the NOTIFY itself.
_WAKERS: list[Callable[[], None]] = []


def on_commit(waker: Callable[[], None]) -> Callable[[], None]:
    """Call `waker` after every transaction here that wrote events commits;
    returns the function that stops it."""
    _WAKERS.append(waker)
    return lambda: _WAKERS.remove(waker)


async def _committed(conn: asyncpg.Connection) -> None:
    if _WAKERS:
        for waker in list(_WAKERS):
            waker()  # the hub sends one NOTIFY per burst, for every instance
    else:
        await conn.execute(q.notify)


class Appended(NamedTuple):
    seq: int
    at: datetime


async def append(
    conn: asyncpg.Connection,
    *,
    kind: str,
    actor: str,
    data: dict[str, Any],
    emergency_id: str | None = None,
    visibility: Sequence[str] = EVERYONE,
) -> Appended:
    """Append one event inside the caller's transaction; return its seq and time.

    Call it as late as the transaction allows: from here to commit, other event
    writers wait (that wait is what keeps the log gap-free).
    """
    if not conn.is_in_transaction():
        raise RuntimeError("events.append must run inside the state change's transaction")
    row = await conn.fetchrow(
        *q.bind(
            "append",
            kind=kind,
            emergency_id=emergency_id,
            visibility=list(visibility),
            actor=actor,
            data=data,
        )
    )
    if db.hooked(conn):  # a bare conn.transaction() (tests, bulk loads) wakes hubs itself
        db.after_commit(conn, _committed)
    return Appended(row["seq"], row["at"])


def record(
    conn: asyncpg.Connection,
    *,
    kind: str,
    actor: str,
    data: dict[str, Any],
    emergency_id: str | None = None,
    visibility: Sequence[str] = EVERYONE,
) -> None:
    """Queue an event; all queued events are appended in one go just before commit.

    Prefer this to `append`: the append travels with the COMMIT (db.with_commit), so
    the event-order lock is held for no round trip at all, only for that append and
    the commit, and never while the rest of the transaction works.
    """
    queued: list[tuple[str | None, ...]]
    queued = db.with_commit(conn, _append_sql, last=True).setdefault("events", [])
    db.after_commit(conn, _committed)
    text = jsontext.dumps(data)
    queued.append((kind, emergency_id, ",".join(visibility), actor, text))


def _append_sql(state: dict[str, Any]) -> str | None:
    """append_events (migration 0005) with the queued events written in."""
    queued = state.get("events")
    if not queued:
        return None
    columns = (
        "ARRAY[" + ",".join(db.literal(v) for v in column) + "]::text[]"
        for column in zip(*queued, strict=True)
    )
    return f"SELECT append_events({', '.join(columns)})"


async def read_since(
    conn: asyncpg.Connection, *, since: int, limit: int, audience: list[str] | None
) -> EventPage:
    """Events after `since` that `audience` may see, in seq order."""
    row = await conn.fetchrow(*q.bind("read_since", since=since, audience=audience, limit=limit))
    events = row["events"]
    # With nothing left to see, jump to the head: everything up to it is
    # committed and was invisible to this caller.
    next_since = events[-1]["seq"] if events else max(since, row["head"])
    return EventPage.model_validate(
        {"events": events, "next_since": next_since, "head": row["head"]}
    )


async def head(conn: asyncpg.Connection) -> int:
    value: int = await conn.fetchval(q.head)
    return value


async def read_between(
    conn: asyncpg.Connection, *, since: int, until: int, audience: list[str] | None, limit: int
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            *q.bind("read_between", since=since, until=until, audience=audience, limit=limit)
        )
    )


async def resumable(
    conn: asyncpg.Connection, *, since: int, head: int, retention: timedelta
) -> bool:
    """Can a client at `since` be brought up to date, or must it resync?

    It can while every event after `since` is within the retention window (and
    `since` is a position this log has had: not beyond the head).
    """
    if since > head:
        return False
    first: datetime | None = await conn.fetchval(*q.bind("first_after", since=since))
    return first is None or first >= datetime.now(UTC) - retention
