from __future__ import annotations

import asyncio
import re
from pathlib import Path

import asyncpg
import pytest

from eadrcc import db
from eadrcc.migrate import REWORDED, Migration, MigrationError, load_migrations, migrate


@pytest.fixture
async def empty_db(server_url: str) -> str:
    import uuid

    from tests.conftest import _drop, with_database

    name = f"eadrcc_e_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    yield with_database(server_url, name)  # type: ignore[misc]
    await _drop(server_url, name)


async def test_migrate_applies_everything_once(empty_db: str) -> None:
    conn = await db.connect(empty_db)
    try:
        first = await migrate(conn)
        assert first == [m.version for m in load_migrations()]
        assert await migrate(conn) == []
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(first)
    finally:
        await conn.close()


async def test_concurrent_migrators_apply_each_migration_once(empty_db: str) -> None:
    conns = [await db.connect(empty_db) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        applied = sorted(v for r in results for v in r)
        assert applied == [m.version for m in load_migrations()]
    finally:
        for c in conns:
            await c.close()


async def test_refuses_database_with_unknown_newer_migration(empty_db: str) -> None:
    conn = await db.connect(empty_db)
    try:
        await migrate(conn)
        await conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')"
        )
        with pytest.raises(MigrationError, match="9999"):
            await migrate(conn)
    finally:
        await conn.close()


async def test_detects_an_applied_file_that_changed(empty_db: str) -> None:
    conn = await db.connect(empty_db)
    try:
        await migrate(conn)
        edited = [
            Migration(m.version, m.name, m.sql + "\n-- edited") if m.version == 1 else m
            for m in load_migrations()
        ]
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn, edited)
    finally:
        await conn.close()


async def test_a_database_that_ran_a_reworded_migration_is_not_refused(empty_db: str) -> None:
    """0001's comment once named a paper outside the repository. Its text before
    that edit differs in the comment alone, and a database that ran it migrates on."""
    first = next(m for m in load_migrations() if m.version == 1)
    before = first.sql.replace("docs/architecture.md, promise 2", "DESIGN.md invariant 2")
    old = Migration(1, first.name, before).checksum
    assert old != first.checksum
    assert old in REWORDED[1]
    conn = await db.connect(empty_db)
    try:
        await migrate(conn)
        await conn.execute("UPDATE schema_migrations SET checksum = $1 WHERE version = 1", old)
        assert await migrate(conn) == []
        await conn.execute("UPDATE schema_migrations SET checksum = 'other' WHERE version = 1")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn)
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_behind(empty_db: str, tmp_path: Path) -> None:
    conn = await db.connect(empty_db)
    try:
        broken = [
            *load_migrations(),
            Migration(9000, "broken", "CREATE TABLE t (x int); SELECT 1/0;"),
        ]
        with pytest.raises(asyncpg.DivisionByZeroError):
            await migrate(conn, broken)
        assert await conn.fetchval("SELECT to_regclass('t')") is None
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") < 9000
    finally:
        await conn.close()


async def test_a_proposal_moves_its_needs_counter_in_place(db_url: str) -> None:
    """Every proposal moves its need's `proposed` counter. An index whose key or
    condition reads that column stops PostgreSQL updating the row in place (HOT): a
    popular need then leaves a dead entry in every index of needs per offer, and the
    planner's searches walk them (0014). No index of needs may read it."""
    conn = await db.connect(db_url)
    try:
        rows = await conn.fetch(
            """SELECT c.relname AS index,
                      coalesce(pg_get_expr(i.indexprs, i.indrelid), '') AS expressions,
                      coalesce(pg_get_expr(i.indpred, i.indrelid), '') AS condition,
                      ARRAY(SELECT a.attname FROM pg_attribute a
                            WHERE a.attrelid = i.indrelid
                              AND a.attnum = ANY(i.indkey)) AS columns
               FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               WHERE i.indrelid = 'needs'::regclass"""
        )
    finally:
        await conn.close()
    assert rows, "needs has no index at all: the query is wrong"
    # The column itself, not `fully_proposed` (0018), which changes only when a
    # need becomes fully proposed or stops being so.
    proposed = re.compile(r"\bproposed\b")
    reading = [
        r["index"]
        for r in rows
        if "proposed" in r["columns"] or proposed.search(r["expressions"] + r["condition"])
    ]
    assert reading == []
    # ... and the planner's two searches each have their own index again (0018).
    assert {"needs_lacking_by_rank", "needs_full_by_rank"} <= {r["index"] for r in rows}


# A tent type and an earthquake in Türkiye, in the tables as every migration has them.
QUAKE = """INSERT INTO resource_types (code, name, unit, position)
               VALUES ('shelter.tent.family', 'Family tent', 'tent', 1);
           INSERT INTO emergencies (id, title, hazard, countries, lat, lon, severity,
                                    status, created_by)
               VALUES ('emg_1', 'Quake', 'earthquake', '{TUR}', 37, 37, 'extreme', 'active',
                       'test');
"""


async def test_offer_items_get_their_offers_nation_when_the_column_is_added(
    empty_db: str,
) -> None:
    """0020 and 0021 copy each offer's nation and channel onto its items (the
    duplicate lookup goes by them), then allow no item without them."""
    conn = await db.connect(empty_db)
    try:
        await migrate(conn, [m for m in load_migrations() if m.version < 20])
        await conn.execute(
            QUAKE
            + """INSERT INTO offers (id, emergency_id, offering_country, channel, created_by)
                   VALUES ('off_nor', 'emg_1', 'NOR', 'direct', 'test'),
                          ('off_deu', 'emg_1', 'DEU', 'un', 'test');
               INSERT INTO offer_items (id, offer_id, position, emergency_id, resource_type,
                                        quantity, available_from)
                   SELECT 'itm_' || o || '_' || p, 'off_' || o, p, 'emg_1',
                          'shelter.tent.family', 100, now()
                   FROM unnest(ARRAY['nor', 'deu']) o, generate_series(1, 2) p"""
        )
        assert await migrate(conn) == [m.version for m in load_migrations() if m.version >= 20]
        rows = await conn.fetch("SELECT id, offering_country, channel FROM offer_items ORDER BY id")
        assert [tuple(r) for r in rows] == [  # and its channel (0021)
            ("itm_deu_1", "DEU", "un"),
            ("itm_deu_2", "DEU", "un"),
            ("itm_nor_1", "NOR", "direct"),
            ("itm_nor_2", "NOR", "direct"),
        ]
        with pytest.raises(asyncpg.NotNullViolationError):
            await conn.execute(
                """INSERT INTO offer_items (id, offer_id, position, emergency_id,
                                            resource_type, quantity, available_from)
                   VALUES ('itm_x', 'off_nor', 3, 'emg_1', 'shelter.tent.family', 1, now())"""
            )
    finally:
        await conn.close()


async def test_proposal_counters_move_once_per_statement_and_per_change(empty_db: str) -> None:
    """0022: proposals inserted together move each need's and item's `proposed` by
    their sum, in one statement; raising a standing one (ON CONFLICT), declining and
    deleting still move them row by row. The counters always equal the standing
    proposals."""
    conn = await db.connect(empty_db)
    try:
        await migrate(conn)
        await conn.execute(
            QUAKE
            + """INSERT INTO requests (id, emergency_id, requesting_country, created_by)
                   VALUES ('rfa_1', 'emg_1', 'TUR', 'test');
               INSERT INTO needs (id, request_id, position, emergency_id, resource_type,
                                  quantity, priority)
                   SELECT 'ned_' || n, 'rfa_1', n, 'emg_1', 'shelter.tent.family', 100,
                          'high'
                   FROM generate_series(1, 2) n;
               INSERT INTO offers (id, emergency_id, offering_country, channel, created_by)
                   VALUES ('off_1', 'emg_1', 'NOR', 'direct', 'test');
               INSERT INTO offer_items (id, offer_id, position, emergency_id,
                                        offering_country, channel, resource_type,
                                        quantity, available_from)
                   SELECT 'itm_' || p, 'off_1', p, 'emg_1', 'NOR', 'direct',
                          'shelter.tent.family', 50, now()
                   FROM generate_series(1, 3) p"""
        )

        async def propose(rows: list[tuple[str, str, str, int]]) -> None:
            """One INSERT of (match, need, item, quantity) rows, as write_proposals
            writes them: a pair already standing has its quantity raised."""
            await conn.execute(
                """INSERT INTO matches (id, emergency_id, need_id, offer_item_id, offer_id,
                                        request_id, requesting_country, offering_country,
                                        resource_type, quantity, score, status)
                   SELECT u.id, 'emg_1', u.need, u.item, 'off_1', 'rfa_1', 'TUR', 'NOR',
                          'shelter.tent.family', u.qty, 0.5, 'proposed'
                   FROM unnest($1::text[], $2::text[], $3::text[], $4::int[])
                        AS u(id, need, item, qty)
                   ON CONFLICT (need_id, offer_item_id) WHERE status = 'proposed'
                   DO UPDATE SET quantity = matches.quantity + EXCLUDED.quantity""",
                *map(list, zip(*rows, strict=True)),
            )

        async def counters() -> dict[str, int]:
            rows = await conn.fetch(
                """SELECT id, proposed FROM needs
                   UNION ALL SELECT id, proposed FROM offer_items ORDER BY 1"""
            )
            return {r["id"]: r["proposed"] for r in rows}

        async def standing() -> dict[str, int]:
            """What the counters must say: the sums of the standing proposals."""
            rows = await conn.fetch(
                """SELECT n.id, coalesce(sum(m.quantity), 0)::int AS proposed
                   FROM (SELECT id FROM needs UNION ALL SELECT id FROM offer_items) n
                   LEFT JOIN matches m ON m.status = 'proposed'
                        AND n.id IN (m.need_id, m.offer_item_id)
                   GROUP BY n.id ORDER BY 1"""
            )
            return {r["id"]: r["proposed"] for r in rows}

        await propose(
            [("mat_1", "ned_1", "itm_1", 20), ("mat_2", "ned_1", "itm_2", 30),
             ("mat_3", "ned_2", "itm_3", 10)]
        )  # fmt: skip
        assert await counters() == {
            "itm_1": 20, "itm_2": 30, "itm_3": 10, "ned_1": 50, "ned_2": 10
        }  # fmt: skip
        # one new, one raised (10 more on ned_2/itm_3)
        await propose([("mat_4", "ned_2", "itm_1", 5), ("mat_5", "ned_2", "itm_3", 10)])
        assert await counters() == {
            "itm_1": 25, "itm_2": 30, "itm_3": 20, "ned_1": 50, "ned_2": 25
        }  # fmt: skip
        await conn.execute("UPDATE matches SET status = 'declined' WHERE id = 'mat_2'")
        await conn.execute("DELETE FROM matches WHERE id = 'mat_4'")
        assert await counters() == await standing() == {
            "itm_1": 20, "itm_2": 0, "itm_3": 20, "ned_1": 20, "ned_2": 20
        }  # fmt: skip
        # the counters' CHECKs stay the last word: 51 of an item of 50 is refused whole
        with pytest.raises(asyncpg.CheckViolationError):
            await propose([("mat_6", "ned_1", "itm_2", 30), ("mat_7", "ned_2", "itm_2", 21)])
        assert await counters() == await standing()
    finally:
        await conn.close()


# An item's and a proposal's copies, each made wrong in turn (0023).
WRONG_ITEM = {
    "emergency": {"emergency_id": "emg_2"},
    "nation": {"offering_country": "DEU"},
    "channel": {"channel": "un"},
}
WRONG_PROPOSAL = {
    "emergency": {"emergency_id": "emg_2"},
    "request": {"request_id": "rfa_2"},
    "offer": {"offer_id": "off_2"},
    "nation": {"offering_country": "DEU"},
    "type": {"resource_type": "shelter.blanket"},
}


async def test_copied_columns_must_equal_the_rows_they_copy(empty_db: str) -> None:
    """0023: an item's emergency, nation and channel are its offer's; a proposal's
    emergency and request are its need's, its offer, nation and type its item's.
    Each copy made wrong alone is refused, and the row right is stored."""
    conn = await db.connect(empty_db)
    try:
        await migrate(conn)
        await conn.execute(
            QUAKE
            + """INSERT INTO resource_types (code, name, unit, position)
                   VALUES ('shelter.blanket', 'Blanket', 'blanket', 2);
               INSERT INTO emergencies (id, title, hazard, countries, lat, lon, severity,
                                        status, created_by)
                   VALUES ('emg_2', 'Flood', 'flood', '{TUR}', 37, 37, 'severe',
                           'active', 'test');
               INSERT INTO requests (id, emergency_id, requesting_country, created_by)
                   VALUES ('rfa_1', 'emg_1', 'TUR', 'test'),
                          ('rfa_2', 'emg_2', 'TUR', 'test');
               INSERT INTO needs (id, request_id, position, emergency_id, resource_type,
                                  quantity, priority)
                   VALUES ('ned_1', 'rfa_1', 1, 'emg_1', 'shelter.tent.family', 100,
                           'high');
               INSERT INTO offers (id, emergency_id, offering_country, channel, created_by)
                   VALUES ('off_1', 'emg_1', 'NOR', 'direct', 'test'),
                          ('off_2', 'emg_1', 'DEU', 'direct', 'test');"""
        )
        item = {
            "id": "itm_1", "offer_id": "off_1", "emergency_id": "emg_1",
            "offering_country": "NOR", "channel": "direct",
            "resource_type": "shelter.tent.family",
        }  # fmt: skip

        async def insert_item(row: dict[str, str]) -> None:
            await conn.execute(
                """INSERT INTO offer_items (id, offer_id, position, emergency_id,
                                            offering_country, channel, resource_type,
                                            quantity, available_from)
                   VALUES ($1, $2, 1, $3, $4, $5, $6, 10, now())""",
                *row.values(),
            )

        for name, wrong in WRONG_ITEM.items():
            with pytest.raises(asyncpg.ForeignKeyViolationError, match="offer_items_of_offer"):
                await insert_item({**item, **wrong})
                pytest.fail(f"an item with a wrong {name} was stored")
        await insert_item(item)

        proposal = {
            "id": "mat_1", "emergency_id": "emg_1", "need_id": "ned_1",
            "offer_item_id": "itm_1", "offer_id": "off_1", "request_id": "rfa_1",
            "offering_country": "NOR", "resource_type": "shelter.tent.family",
        }  # fmt: skip

        async def propose(row: dict[str, str]) -> None:
            await conn.execute(
                """INSERT INTO matches (id, emergency_id, need_id, offer_item_id, offer_id,
                                        request_id, offering_country, resource_type,
                                        requesting_country, quantity, score, status)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'TUR', 5, 0.5, 'proposed')""",
                *row.values(),
            )

        for name, wrong in WRONG_PROPOSAL.items():
            with pytest.raises(asyncpg.ForeignKeyViolationError, match="matches_of_"):
                await propose({**proposal, **wrong})
                pytest.fail(f"a proposal with a wrong {name} was stored")
        await propose(proposal)
        assert await conn.fetchval("SELECT proposed FROM offer_items WHERE id = 'itm_1'") == 5
    finally:
        await conn.close()
