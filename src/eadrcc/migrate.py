"""Forward-only numbered migrations from sql/migrations/NNNN_name.sql."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

from eadrcc.db import sql_dir

log = structlog.get_logger(__name__)

# Any constant works; it only has to be the same for every process migrating this database.
MIGRATION_LOCK = 0x6561_6472_6D69_67  # "eadrmig"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Checksums an applied migration's file had before an edit to its comments alone:
# a database that ran the old text has the same schema, so it is not refused.
# 0001 named a working paper the repository does not hold (2026-11-30).
REWORDED: dict[int, frozenset[str]] = {
    1: frozenset({"1b3dd32da82b9c33f3c375f097d7ee59001b3824df1662651d3e762b3f76d850"}),
}


class MigrationError(Exception):
    """The database and the migration files disagree; nothing was applied."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def load_migrations(folder: Path | None = None) -> list[Migration]:
    folder = folder or sql_dir() / "migrations"
    found: list[Migration] = []
    for path in sorted(folder.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: expected NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a number")
    return found


async def migrate(conn: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[int]:
    """Apply pending migrations under an advisory lock; return the versions applied.

    Refuses a database that has a migration this code does not know (it is newer)
    or whose applied file has since changed (checksum).
    """
    migrations = load_migrations() if migrations is None else migrations
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        applied = {r["version"]: r for r in await conn.fetch("SELECT * FROM schema_migrations")}
        _check_history(applied, migrations)
        done: list[int] = []
        for migration in migrations:
            if migration.version in applied:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            log.info("migration_applied", version=migration.version, name=migration.name)
            done.append(migration.version)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


def _check_history(applied: dict[int, asyncpg.Record], migrations: list[Migration]) -> None:
    known = {m.version: m for m in migrations}
    unknown = sorted(v for v in applied if v not in known)
    if unknown:
        raise MigrationError(
            f"database has migration(s) {unknown} that this version of eadrcc does not know; "
            "run a newer eadrcc"
        )
    for version, row in applied.items():
        if row["checksum"] not in {known[version].checksum, *REWORDED.get(version, ())}:
            raise MigrationError(
                f"migration {version:04d}_{row['name']} was changed after it was applied; "
                "add a new migration instead of editing an applied one"
            )


async def pending(conn: asyncpg.Connection) -> list[int]:
    """Versions not yet applied (all of them on an empty database)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    applied = set()
    if exists:
        applied = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
    return [m.version for m in load_migrations() if m.version not in applied]
