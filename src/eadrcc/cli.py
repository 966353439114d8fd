"""The `eadrcc` command: serve, migrate, seed, token, tail, partners."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

from eadrcc import auth, db, demo, logs
from eadrcc.config import ConfigError, Settings, load_settings
from eadrcc.errors import EadrccError
from eadrcc.migrate import MigrationError, migrate
from eadrcc.partners import service as partner_service
from eadrcc.partners import store as partner_store
from eadrcc.partners import transfer
from eadrcc.seed import seed_reference


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        # Commands other than serve speak only when something is wrong.
        level = settings.log_level if args.loud else _at_least_warning(settings.log_level)
        logs.configure(level, settings.log_format)
        code = args.run(settings, args)
    except (ConfigError, MigrationError, EadrccError, ValueError) as exc:
        print(f"eadrcc: {exc}", file=sys.stderr)
        for field, problem in (getattr(exc, "errors", None) or {}).items():
            print(f"  {field}: {problem}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


def _at_least_warning(level: str) -> str:
    return level if level in {"warning", "error"} else "warning"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eadrcc", description=__doc__)
    parser.set_defaults(loud=False)
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the hub (embedded PostgreSQL without DATABASE_URL)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="instances to run, each a process with its own event hub, sharing the port",
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="load reference and demo data and print a duty-officer token",
    )
    serve.add_argument(
        "--no-migrate",
        action="store_true",
        help="refuse to start with pending migrations instead of applying them",
    )
    serve.set_defaults(run=_serve, loud=True)

    sub.add_parser("migrate", help="apply pending database migrations").set_defaults(
        run=_sync(_migrate, migrate_first=False)
    )

    seed = sub.add_parser("seed", help="load the partner registry and the taxonomy")
    seed.add_argument("--demo", action="store_true", help="also add a demo emergency")
    seed.set_defaults(run=_sync(_seed))

    token = sub.add_parser("token", help="manage API tokens").add_subparsers(
        required=True, metavar="ACTION"
    )
    create = token.add_parser("create", help="issue a token (printed once)")
    create.add_argument("--role", required=True, choices=[r.value for r in auth.Role])
    create.add_argument("--country", help="ISO 3166-1 alpha-3 (poc only)")
    create.add_argument("--name", required=True)
    create.add_argument("--json", action="store_true", help='print {"token":..., "secret":...}')
    create.set_defaults(run=_sync(_token_create))
    token.add_parser("list", help="list tokens (never their values)").set_defaults(
        run=_sync(_token_list)
    )
    revoke = token.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("token_id")
    revoke.set_defaults(run=_sync(_token_revoke))
    rotate = token.add_parser("rotate-secret", help="new HMAC secret for an integration")
    rotate.add_argument("token_id")
    rotate.set_defaults(run=_sync(_token_rotate))

    tail = sub.add_parser("tail", help="follow the event stream (resumes by itself)")
    tail.add_argument("--url", default=None, help="the hub (default $EADRCC_URL or local)")
    tail.add_argument("--since", type=int, help="start after this seq (default: live only)")
    tail.add_argument("--emergency", help="only this emergency's events")
    tail.add_argument(
        "--kind",
        action="append",
        default=[],
        help="only kinds starting with this (repeatable), e.g. match.",
    )
    tail.add_argument("--json", action="store_true", help="JSON lines instead of one-liners")
    tail.add_argument("--count", type=int, help="exit after printing this many events")
    tail.add_argument(
        "--token-file", type=Path, help="read the token from this file (default $EADRCC_TOKEN)"
    )
    tail.set_defaults(run=_tail)

    partners = sub.add_parser("partners", help="export or import the partner registry")
    pa = partners.add_subparsers(required=True, metavar="ACTION")
    export = pa.add_parser("export", help="write the registry as JSON or CSV")
    export.add_argument("--format", choices=["json", "csv"], default="json")
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")
    export.set_defaults(run=_sync(_partners_export))
    import_ = pa.add_parser("import", help="check every row, then replace records in one go")
    import_.add_argument("file", type=Path, help=".json or .csv, as written by export")
    import_.set_defaults(run=_sync(_partners_import))
    return parser


Command = Callable[[asyncpg.Pool, argparse.Namespace], Awaitable[int]]


def _sync(
    command: Command, *, migrate_first: bool = True
) -> Callable[[Settings, argparse.Namespace], int]:
    def run(settings: Settings, args: argparse.Namespace) -> int:
        async def go() -> int:
            async with _pool(settings, migrate_first=migrate_first) as pool:
                return await command(pool, args)

        return asyncio.run(go())

    return run


@asynccontextmanager
async def _pool(settings: Settings, *, migrate_first: bool) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the hub's database, migrated first: any command works on a new data folder."""
    url = await db.resolve_url(settings)
    if migrate_first:
        conn = await db.connect(url)
        try:
            await migrate(conn)  # advisory-locked: safe beside a running hub
        finally:
            await conn.close()
    pool = await db.create_pool(url, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from eadrcc.serve import serve

    overrides: dict[str, Any] = {"host": args.host, "port": args.port}
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    if args.workers < 1:
        raise ConfigError("--workers must be at least 1")
    if args.workers > 1:
        from eadrcc import workers

        return workers.run(
            settings, workers=args.workers, demo=args.demo, auto_migrate=not args.no_migrate
        )
    serve(settings, demo=args.demo, auto_migrate=not args.no_migrate)
    return 0


def _tail(settings: Settings, args: argparse.Namespace) -> int:
    from eadrcc.tail import Tail

    # The token never goes on the command line, where `ps` and shell history would show it.
    token = (
        args.token_file.read_text().strip()
        if args.token_file
        else os.environ.get("EADRCC_TOKEN", "")
    )
    if not token:
        print("eadrcc tail: set EADRCC_TOKEN or pass --token-file", file=sys.stderr)
        return 2
    url = args.url or os.environ.get("EADRCC_URL") or f"http://{settings.host}:{settings.port}"
    tail = Tail(
        url=url,
        token=token,
        since=args.since,
        emergency=args.emergency,
        kinds=tuple(args.kind),
        as_json=args.json,
        count=args.count,
    )
    return asyncio.run(tail.run())


async def _migrate(pool: asyncpg.Pool, _args: argparse.Namespace) -> int:
    async with pool.acquire() as conn:
        applied = await migrate(conn)
    print(f"applied {len(applied)} migration(s): {applied}" if applied else "up to date")
    return 0


async def _seed(pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    counts: dict[str, object] = dict(await seed_reference(pool))
    if args.demo:
        counts["demo_emergency"] = await demo.load(pool) or "already loaded"
    print(json.dumps(counts))
    return 0


async def _token_create(pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    country = args.country.upper() if args.country else None
    async with db.transaction(pool) as conn:
        issued = await auth.create(
            conn=conn, role=auth.Role(args.role), name=args.name, country=country
        )
    if args.json:
        print(json.dumps({"token": issued.token, "secret": issued.secret, "id": issued.id}))
    else:
        print(issued.token)
        if issued.secret:
            print(f"HMAC secret: {issued.secret}")
        print(
            f"(token id {issued.id}; the token is shown once and stored only as a hash)",
            file=sys.stderr,
        )
    return 0


async def _token_list(pool: asyncpg.Pool, _args: argparse.Namespace) -> int:
    async with pool.acquire() as conn:
        for row in await auth.list_tokens(conn=conn):
            state = f"revoked {row['revoked_at']:%Y-%m-%d}" if row["revoked_at"] else "active"
            print(
                f"{row['id']}  {row['role']:<12} {row['country'] or '-':<4} {state:<18} "
                f"{row['name']}"
            )
    return 0


async def _token_revoke(pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    async with db.transaction(pool) as conn:
        await auth.revoke(conn=conn, token_id=args.token_id)
    print(f"revoked {args.token_id}")
    return 0


async def _token_rotate(pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    async with db.transaction(pool) as conn:
        secret = await auth.rotate_secret(conn=conn, token_id=args.token_id)
    print(secret)
    print("(the previous secret stays valid until the next rotation)", file=sys.stderr)
    return 0


async def _partners_export(pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    async with pool.acquire() as conn:
        partners = await partner_store.list_partners(conn)
    text = transfer.to_csv(partners) if args.format == "csv" else transfer.to_json(partners)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {len(partners)} records to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


async def _partners_import(pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    records, problems = transfer.parse_file(args.file)
    if problems:
        print(
            f"eadrcc: {args.file}: {len(problems)} problem(s); nothing was changed:",
            file=sys.stderr,
        )
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    changed = await partner_service.upsert_many(pool=pool, records=records, actor="system:import")
    print(f"imported {len(records)} records, {changed} changed")
    return 0
