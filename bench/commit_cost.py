"""What a batch's COMMIT message costs PostgreSQL, statement by statement, and what
each foreign key and each index of the rows it writes adds to an offer.

A batch of offers ends in one message (store_new_offers, keep_offered per nation,
append_events, then COMMIT), and that message is most of an offer's PostgreSQL time
(bench/batch_stages.py). This captures one such message from the hub under
throughput.py's load (the hub in this process, the load from another), then replays
it many times in a quiet session, new ids each time, each replay a transaction rolled
back, and takes the median of its backend's CPU per offer, which no throughput run
can isolate. Then each foreign key and each index that no constraint owns, of the
tables it writes, is dropped (in the bench's scratch database) and made again, in
turns, a few replays with it and a few without: the median difference over the turns
is what that check or index costs an offer (indexes that back a constraint, primary
keys among them, are not measured: they cannot go alone). Turns, because a single replay's cost
moves by half within a minute on this machine (other guests, the tables' state), and
alternating puts that drift on both sides alike. What a real COMMIT adds (the flush
of the write-ahead log) is not in these figures. PostgreSQL must run on this machine
(its backend's CPU is read from /proc), as it does embedded.

    python bench/commit_cost.py [--database-url URL] [--replays 120] [--no-parts]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import re
import statistics
import sys
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness
import offer_profile
import throughput

# The tables a batch's message writes rows into.
WRITTEN = ("offers", "offer_items", "matches", "events")
# Those, and the tables whose rows it updates.
VACUUMED = (*WRITTEN, "needs", "responses")
# Ids the message makes: replaced in each replay, so that every replay inserts anew.
_IDS = re.compile(r"\b(off|itm|mat)_([0-9a-z]{22})\b")
_WARM = 5  # replays not counted: plans made, caches filled
ROUNDS = 8  # turns with and without each part


async def capture(db_url: str, officer: str) -> str:
    """The COMMIT message of the largest batch the hub sends in 3 s of load."""
    seen: list[str] = []
    original = asyncpg.Connection.execute

    async def execute(self: Any, query: str, *args: Any, **kw: Any) -> Any:
        if query.endswith("COMMIT") and "store_new_offers" in query:
            seen.append(query)
        return await original(self, query, *args, **kw)

    asyncpg.Connection.execute = execute  # type: ignore[method-assign]
    try:
        async with offer_profile.hub_in_this_process(db_url) as url:
            emergency_id = await throughput.prepare(url, officer)
            job = offer_profile.offer_load(url, officer, emergency_id, 3, 32)
            await asyncio.to_thread(throughput.run_generator, job)
    finally:
        asyncpg.Connection.execute = original  # type: ignore[method-assign]
    if not seen:
        raise SystemExit("no batch's COMMIT message was seen: did the offers fail?")
    return max(seen, key=lambda q: len(set(_IDS.findall(q))))


class Replayer:
    """Replays statements, each replay a transaction rolled back."""

    def __init__(self, conn: asyncpg.Connection, statements: list[str], offers: int) -> None:
        self._conn = conn
        self._body = "\n;\n".join(statements)
        self._offers = offers
        self._fresh = itertools.count()

    def _text(self) -> str:
        # The id's time (its first 10 characters) becomes a count past any real one,
        # so that each replay inserts at the indexes' end as new rows do; its 12
        # random characters stay, so that two ids never become one.
        n = next(self._fresh)
        body = _IDS.sub(lambda m: f"{m.group(1)}_zz{n:08x}{m.group(2)[10:]}", self._body)
        # As a batch runs them: on the plans PostgreSQL keeps (db.transaction).
        return f"BEGIN;\nSET LOCAL plan_cache_mode = force_generic_plan\n;\n{body}\n;\nROLLBACK"

    async def per_offer(self, replays: int) -> float:
        """Median µs of backend CPU per offer over `replays` replays, from tables
        vacuumed first: rolled back, each replay leaves its rows behind, dead, which
        would make each part dearer than the last."""
        await self._conn.execute(f"VACUUM {', '.join(VACUUMED)}")
        pid = self._conn.get_server_pid()
        spent = []
        for n in range(_WARM + replays):
            text = self._text()
            before = _cpu(pid)
            await self._conn.execute(text)
            if n >= _WARM:
                spent.append(_cpu(pid) - before)
        return statistics.median(spent) / self._offers * 1e6


def _cpu(pid: int) -> float:
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


async def _droppable(conn: asyncpg.Connection) -> list[tuple[str, str, str]]:
    """(kind, table, name) of the foreign keys and of the indexes that no constraint
    owns, of the tables written."""
    rows = await conn.fetch(
        """
        SELECT 'foreign key' AS kind, conrelid::regclass::text AS tab, conname AS name
        FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text = ANY($1)
        UNION ALL
        SELECT 'index', indrelid::regclass::text, indexrelid::regclass::text
        FROM pg_index
        WHERE indrelid::regclass::text = ANY($1)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = indexrelid)
        ORDER BY 1, 2, 3
        """,
        list(WRITTEN),
    )
    return [(r["kind"], r["tab"], r["name"]) for r in rows]


async def _definition(conn: asyncpg.Connection, kind: str, table: str, name: str) -> str:
    """The statement that makes this key or index again."""
    if kind == "foreign key":
        made = await conn.fetchval(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conname = $1 AND conrelid = $2::regclass",
            name,
            table,
        )
        return f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {made}'
    made = await conn.fetchval("SELECT pg_get_indexdef($1::regclass)", name)
    return str(made)


def _drop(kind: str, table: str, name: str) -> str:
    if kind == "foreign key":
        return f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'
    return f"DROP INDEX {name}"


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    server = harness.server_url(args.database_url)
    async with harness.scratch_database(server, "commit") as db_url:
        officer = harness.token(db_url, "duty_officer")["token"]
        message = await capture(db_url, officer)
        statements = message.split("\n;\n")[:-1]  # without the COMMIT
        offers = len({m for m in _IDS.findall(message) if m[0] == "off"})
        conn = await asyncpg.connect(db_url)
        try:
            return await _replays(conn, statements, offers, args)
        finally:
            await conn.close()


async def _replays(
    conn: asyncpg.Connection, statements: list[str], offers: int, args: argparse.Namespace
) -> dict[str, Any]:
    # Each index built afresh now, as the one a part drops is built again after it,
    # and statistics read once and kept (an ANALYZE between parts could change the
    # plans): otherwise the baseline moves by half between two parts.
    for table in VACUUMED:
        await conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        await conn.execute(f"REINDEX TABLE {table}")
    await conn.execute(f"ANALYZE {', '.join(VACUUMED)}")
    whole = Replayer(conn, statements, offers)
    results: dict[str, Any] = {"offers": offers, "replays": args.replays}
    baseline = [await whole.per_offer(args.replays)]
    results["message"] = baseline[0]
    by_function: dict[str, list[str]] = {}
    for statement in statements:
        name = statement.split("(", 1)[0].removeprefix("SELECT ").strip()
        by_function.setdefault(name, []).append(statement)
    results["statements"] = {
        name: await Replayer(conn, group, offers).per_offer(args.replays)
        for name, group in by_function.items()
    }
    parts: dict[str, dict[str, float]] = {}
    if args.parts:
        # With and without the part in turns, a few replays each, so that the
        # machine's drift (half within a minute here) falls on both alike.
        chunk = max(args.replays // ROUNDS, 5)
        results["chunk"] = chunk
        for kind, table, name in await _droppable(conn):
            again = await _definition(conn, kind, table, name)
            with_it, without = [], []
            for turn in range(ROUNDS):
                # With it first in one turn, without it first in the next: a steady
                # drift then weighs on both sides alike.
                for present in (True, False) if turn % 2 == 0 else (False, True):
                    if present:
                        with_it.append(await whole.per_offer(chunk))
                        continue
                    await conn.execute(_drop(kind, table, name))
                    try:
                        without.append(await whole.per_offer(chunk))
                    finally:
                        if conn.is_in_transaction():  # a replay failed: its error stands
                            await conn.execute("ROLLBACK")
                        await conn.execute(again)
            baseline += with_it
            costs = [a - b for a, b in zip(with_it, without, strict=True)]
            parts[f"{kind} {table}.{name}"] = {
                "costs": statistics.median(costs),
                "low": min(costs),
                "high": max(costs),
            }
    results["parts"] = parts
    results["baselines"] = baseline
    return results


def report(results: dict[str, Any]) -> None:
    print(
        f"a batch's COMMIT message of {results['offers']} offers, replayed"
        f" {results['replays']} times (and each statement alone as often);"
        " µs of PostgreSQL's CPU an offer (median)"
    )
    print(f"  the whole message, rolled back, not committed {results['message']:6.1f}")
    for name, cost in results["statements"].items():
        print(f"    {name:<42} {cost:7.1f}")
    if results["parts"]:
        spread = results["baselines"]
        print(
            f"what each costs an offer: the whole message less the message without it,"
            f" in {ROUNDS} turns of {results['chunk']} replays each way (the whole message"
            f" made {min(spread):.0f}-{max(spread):.0f} over the turns); median, and"
            " lowest-highest of the turns. A key or index the message never touches (a"
            " key on a column its rows leave empty) shows the noise."
        )
        ranked = sorted(results["parts"].items(), key=lambda kv: -kv[1]["costs"])
        for name, part in ranked:
            spread_of = f"({part['low']:.1f} to {part['high']:.1f})"
            print(f"  {name:<60} {part['costs']:6.1f}  {spread_of}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--replays", type=int, default=120)
    parser.add_argument("--no-parts", dest="parts", action="store_false")
    args = parser.parse_args()
    results = asyncio.run(measure(args))
    results["machine"] = harness.machine()
    report(results)
    print(f"written: {harness.save('commit_cost', results)}")


if __name__ == "__main__":
    main()
