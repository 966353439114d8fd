from __future__ import annotations

import asyncio
import re
from pathlib import Path

import asyncpg
import pytest

from eadrcc import db
from eadrcc.migrate import Migration, MigrationError, load_migrations, migrate


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


async def test_offer_items_get_their_offers_nation_when_the_column_is_added(
    empty_db: str,
) -> None:
    """0020 and 0021 copy each offer's nation and channel onto its items (the
    duplicate lookup goes by them), then allow no item without them."""
    conn = await db.connect(empty_db)
    try:
        await migrate(conn, [m for m in load_migrations() if m.version < 20])
        await conn.execute(
            """INSERT INTO resource_types (code, name, unit, position)
                   VALUES ('shelter.tent.family', 'Family tent', 'tent', 1);
               INSERT INTO emergencies (id, title, hazard, countries, lat, lon, severity,
                                        status, created_by)
                   VALUES ('emg_1', 'Quake', 'earthquake', '{TUR}', 37, 37, 'extreme',
                           'active', 'test');
               INSERT INTO offers (id, emergency_id, offering_country, channel, created_by)
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
