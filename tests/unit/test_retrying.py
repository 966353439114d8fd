"""db.retrying: what it runs again, and what /metrics counts of it."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from eadrcc import db


def test_a_transaction_refused_on_every_attempt_counts_only_the_runs_again() -> None:
    calls = 0

    async def refused() -> None:
        nonlocal calls
        calls += 1
        raise asyncpg.SerializationError("needs changed since the plan was made")

    before = db.RETRIES["SerializationError"]
    with pytest.raises(asyncpg.SerializationError):
        asyncio.run(db.retrying(refused, attempts=3))
    assert calls == 3
    assert db.RETRIES["SerializationError"] == before + 2  # the third was given up


def test_a_transaction_that_goes_through_on_its_second_run_counts_one() -> None:
    calls = 0

    async def once_refused() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise asyncpg.DeadlockDetectedError("deadlock detected")
        return "committed"

    before = db.RETRIES["DeadlockDetectedError"]
    assert asyncio.run(db.retrying(once_refused)) == "committed"
    assert db.RETRIES["DeadlockDetectedError"] == before + 1


def test_an_error_that_is_not_a_conflict_is_never_run_again() -> None:
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise asyncpg.UniqueViolationError("duplicate key")

    before = sum(db.RETRIES.values())
    with pytest.raises(asyncpg.UniqueViolationError):
        asyncio.run(db.retrying(broken))
    assert calls == 1
    assert sum(db.RETRIES.values()) == before
