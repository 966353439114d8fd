"""The database: connection pool, named SQL queries, and the embedded PostgreSQL."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import re
import secrets
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import structlog

from eadrcc import jsontext
from eadrcc.config import Settings

log = structlog.get_logger(__name__)

Connection = asyncpg.Connection
Pool = asyncpg.Pool

EMBEDDED_DB_NAME = "eadrcc"


def sql_dir() -> Path:
    """The sql/ folder: inside the installed package, or at the source checkout's root."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "sql", here.parents[1] / "sql"):
        if (candidate / "migrations").is_dir():
            return candidate
    raise FileNotFoundError("sql/ folder not found beside the package")


_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
# What a `:name` parameter must not be looked for in: string literals (E'...' with
# its backslash escapes, $tag$...$tag$ bodies), quoted identifiers, comments (block
# comments unnested), `::type` casts, and `$n` parameters (to refuse mixing). A `:`
# right after a name, a number, `]` or `)` is an array slice's (`a[1:n]`), not a
# parameter: write `a[1: :n]` for a bound that is one.
_TOKENS = re.compile(
    r"""(?P<skip>(?<![\w$])[eE]'(?:[^'\\]|\\.|'')*'|'(?:[^']|'')*'|"(?:[^"]|"")*\""""
    r"""|(?<![\w$])\$(?P<tag>[A-Za-z_]\w*|)\$.*?\$(?P=tag)\$|--[^\n]*|/\*.*?\*/|::"""
    r"""|(?<=[\w\])]):)"""
    r"""|:(?P<name>[a-z_][a-z0-9_]*)|(?P<numbered>\$\d+)""",
    re.DOTALL,
)


@dataclass(frozen=True)
class Query:
    """One named SQL block as PostgreSQL gets it (`$1`, `$2`, ...), and the names its
    `:name` parameters had, in that order."""

    sql: str
    names: tuple[str, ...]

    @classmethod
    def parse(cls, text: str, source: str = "") -> Query:
        names: list[str] = []
        numbered = False

        def place(match: re.Match[str]) -> str:
            nonlocal numbered
            if name := match.group("name"):
                if name not in names:
                    names.append(name)
                return f"${names.index(name) + 1}"
            numbered = numbered or match.group("numbered") is not None
            return match.group(0)

        converted = _TOKENS.sub(place, text)
        if names and numbered:
            raise ValueError(f"{source}: use either :name or $n parameters, not both")
        return cls(converted, tuple(names))

    def args(self, values: dict[str, Any]) -> list[Any]:
        given, wanted = set(values), set(self.names)
        if given != wanted:
            raise TypeError(
                f"query parameters: missing {sorted(wanted - given)}, "
                f"unexpected {sorted(given - wanted)}"
            )
        return [values[name] for name in self.names]


class Queries:
    """Named SQL blocks from one file: `-- name: get_partner` starts a block.

    Parameters are `:name`-style, converted to `$n` at load time:
    `conn.fetchrow(*q.bind("insert_alert", id=..., kind=...))` puts keyword values in
    place, so a reorder in the SQL can never shift them (asyncpg wants the SQL as a
    plain str: hence text plus arguments). `q.head` is the text of a query that
    takes no parameters; one that does refuses to be read that way, so nothing can
    pass it positional values in an order the SQL no longer has (`q.sql(name)`
    reads any query's text, for EXPLAIN and tests)."""

    def __init__(self, text: str, source: str) -> None:
        self._sql: dict[str, Query] = {}
        parts = _NAME.split(text)
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            if name in self._sql:
                raise ValueError(f"{source}: query {name!r} defined twice")
            self._sql[name] = Query.parse(body.strip(), f"{source}:{name}")

    def __getattr__(self, name: str) -> str:
        query = self._query(name)
        if query.names:
            raise AttributeError(f"query {name!r} takes parameters: use bind({name!r}, ...)")
        return query.sql

    def sql(self, name: str) -> str:
        """Any query's text, parameters as `$n` (their order: `params`)."""
        return self._query(name).sql

    def bind(self, query_name: str, /, **values: Any) -> list[Any]:
        """[SQL, *arguments] of a query with `:name` parameters, from keywords (a
        parameter may be called `name` or `query_name`: the query is positional)."""
        query = self._query(query_name)
        return [query.sql, *query.args(values)]

    def bind_each(
        self, query_name: str, values: list[dict[str, Any]]
    ) -> tuple[str, list[list[Any]]]:
        """(SQL, [arguments, ...]) to run a query once for each set of keywords in
        one round trip (`conn.fetchmany(*q.bind_each(...))`: each run sees the ones
        before it, in the caller's transaction)."""
        query = self._query(query_name)
        return query.sql, [query.args(v) for v in values]

    def params(self, name: str) -> tuple[str, ...]:
        return self._query(name).names

    def _query(self, name: str) -> Query:
        try:
            return self._sql[name]
        except KeyError:
            raise AttributeError(f"no query named {name!r}") from None

    def names(self) -> list[str]:
        return list(self._sql)


@cache
def queries(domain: str) -> Queries:
    """The named queries of sql/queries/<domain>.sql, read once."""
    path = sql_dir() / "queries" / f"{domain}.sql"
    return Queries(path.read_text(encoding="utf-8"), str(path))


async def _init_connection(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=_dumps, decoder=jsontext.loads, schema="pg_catalog")


class JsonText(str):
    """JSON encoded already (a large alert area, by the worker that read it): sent to
    PostgreSQL as it is, not encoded again on the event loop."""


def _dumps(value: Any) -> str:
    if isinstance(value, JsonText):
        return str(value)
    return jsontext.dumps(value)


async def _reset(conn: asyncpg.Connection) -> None:
    """Before a connection goes back to the pool. asyncpg's default spends a round
    trip on every release undoing session state (advisory locks, LISTEN, SET, open
    cursors); pool connections here never take any — LISTEN and session locks live
    on dedicated connections (db.connect) — so only an open transaction is undone."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def create_pool(
    url: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    connection_class: type[asyncpg.Connection] = asyncpg.Connection,
) -> asyncpg.Pool:
    """The hub's pool. `connection_class`: for tests that watch what is sent."""
    pool: asyncpg.Pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        connection_class=connection_class,
        init=_init_connection,
        reset=_reset,
        command_timeout=30,
        server_settings={"application_name": "eadrcc"},
    )
    return pool


async def connect(url: str, *, name: str = "eadrcc") -> asyncpg.Connection:
    conn: asyncpg.Connection = await asyncpg.connect(
        url, server_settings={"application_name": name}
    )
    await _init_connection(conn)
    return conn


Hook = Callable[[asyncpg.Connection], Awaitable[None]]
# A transaction's last statement, written out with its values, from the state its
# owner kept for the transaction (see with_commit).
Closing = Callable[[dict[str, Any]], str | None]


@dataclass
class _Open:
    """An open transaction's hooks, and state the hooks' owners keep for it."""

    before: list[Hook] = field(default_factory=list)
    closing: list[Closing] = field(default_factory=list)
    closing_last: list[Closing] = field(default_factory=list)
    after: list[Hook] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)


_OPEN: dict[asyncpg.Connection, _Open] = {}


@asynccontextmanager
async def transaction(
    pool: asyncpg.Pool, *, generic_plans: bool = False
) -> AsyncIterator[asyncpg.Connection]:
    """One connection, one transaction: committed when the block ends cleanly,
    after the hooks registered with `before_commit` have run; then the hooks
    registered with `after_commit` run (on the same connection, outside it).

    With `generic_plans`, PostgreSQL runs each statement on the plan it keeps for
    it instead of planning it anew for the values given (`plan_cache_mode`), until
    `plan_each_statement`. Only for statements whose every lookup goes by a key or
    down one index in its order: a kept plan was made for no value in particular,
    and perhaps while the tables were small. Planning is most of what such a
    statement costs PostgreSQL (an offer's, bench/offer_profile.py)."""
    async with pool.acquire() as conn, transaction_on(conn, generic_plans=generic_plans):
        yield conn


async def plan_each_statement(conn: asyncpg.Connection) -> None:
    """Back to planning each statement for its values, for the rest of a
    `generic_plans` transaction (before statements whose best plan depends on them)."""
    await conn.execute("SET LOCAL plan_cache_mode = auto")


@asynccontextmanager
async def transaction_on(
    conn: asyncpg.Connection, *, generic_plans: bool = False
) -> AsyncIterator[asyncpg.Connection]:
    """A transaction on a connection the caller holds (the same rules as above).

    BEGIN and COMMIT are sent by hand, not through asyncpg's Transaction, so that the
    statements registered with `with_commit` travel with the COMMIT in one round trip
    (and a `generic_plans` setting with the BEGIN).
    """
    if conn in _OPEN or conn.is_in_transaction():
        # A nested BEGIN only warns, and the inner COMMIT would commit the outer work.
        raise RuntimeError("a transaction is already open on this connection")
    tx = _Open()
    _OPEN[conn] = tx
    try:
        await conn.execute(
            "BEGIN;\nSET LOCAL plan_cache_mode = force_generic_plan" if generic_plans else "BEGIN"
        )
        yield conn
        for hook in tx.before:
            await hook(conn)
        closings = [*tx.closing, *tx.closing_last]
        last = [sql for make in closings if (sql := make(tx.state))]
        # Simple protocol: one trip. Each statement on lines of its own, so a trailing
        # `--` comment cannot swallow the separator.
        status = await conn.execute("\n;\n".join([*last, "COMMIT"]))
        if status != "COMMIT":  # an aborted transaction answers COMMIT with ROLLBACK
            raise RuntimeError(f"the transaction did not commit ({status})")
    except BaseException:
        if not conn.is_closed() and conn.is_in_transaction():
            with contextlib.suppress(Exception):  # the error that got us here is the news
                await conn.execute("ROLLBACK")
        raise
    finally:
        del _OPEN[conn]
    await _run_after(conn, tx.after)


async def _run_after(conn: asyncpg.Connection, hooks: list[Hook]) -> None:
    """The after-commit hooks. Committed: what follows must not turn the transaction
    into an error, nor stop the hooks after it (they tell others of the change)."""
    cancelled = False
    for hook in hooks:
        try:
            await hook(conn)
        except asyncio.CancelledError:
            log.warning("after_commit_cancelled", hook=_name(hook))
            cancelled = True
        except Exception as exc:
            log.warning("after_commit_failed", hook=_name(hook), error=type(exc).__name__)
    task = asyncio.current_task()
    if cancelled and task is not None and task.cancelling():
        raise asyncio.CancelledError  # our caller is being cancelled: it must stop


def before_commit(conn: asyncpg.Connection, hook: Hook) -> dict[str, Any]:
    """Run `hook` once, just before this transaction commits; returns state the
    hook's owner may keep for this transaction."""
    tx = _open(conn, "before_commit")
    if hook not in tx.before:
        tx.before.append(hook)
    return tx.state


def with_commit(
    conn: asyncpg.Connection, closing: Closing, *, last: bool = False
) -> dict[str, Any]:
    """Send the statement `closing(state)` returns (None: nothing) with this
    transaction's COMMIT, in one round trip: for work that should hold its locks for
    as short a time as possible (the event log's append). Its values must be written
    into the text (`literal`): the simple protocol that carries several statements
    takes no parameters. With `last`, after the others (the event log's append, so
    its lock is taken as late as possible). Returns the transaction's state, as
    before_commit does."""
    tx = _open(conn, "with_commit")
    if closing not in tx.closing and closing not in tx.closing_last:  # sent once
        (tx.closing_last if last else tx.closing).append(closing)
    return tx.state


def literal(value: str | None) -> str:
    """`value` as an SQL literal, dollar-quoted with a tag the value does not contain
    (so no character in it, quote or backslash, means anything to the parser)."""
    if value is None:
        return "NULL"
    value = str.__str__(value)  # a plain str: a subclass could answer `find` otherwise
    if "\x00" in value:
        raise ValueError("a NUL character cannot be sent to PostgreSQL")
    # The tag may not occur in the value, nor be completed by the value's end
    # ("...$v" then "$v$" would close early). Without "$v" neither can happen
    # (checked first: this runs for every event of every commit).
    tag = "$v$"
    while "$v" in value and (value + tag).find(tag) != len(value):
        tag = f"$v{secrets.token_hex(4)}$"
    return f"{tag}{value}{tag}"


def after_commit(conn: asyncpg.Connection, hook: Hook) -> dict[str, Any]:
    """Run `hook` once, after this transaction has committed (never if it rolls
    back): waking the event hub, starting deliveries — whoever wrote, HTTP, CLI,
    poller or scheduler. It runs on the same connection, outside any transaction;
    its failure is logged, not raised. Returns the transaction's state, as above."""
    tx = _open(conn, "after_commit")
    if hook not in tx.after:
        tx.after.append(hook)
    return tx.state


def state(conn: asyncpg.Connection) -> dict[str, Any]:
    """The open transaction's state, as the hooks' owners keep it; registers nothing."""
    return _open(conn, "state").state


def hooked(conn: asyncpg.Connection) -> bool:
    """Is a transaction opened by db.transaction (one that runs hooks) open here?"""
    return conn in _OPEN


def _open(conn: asyncpg.Connection, what: str) -> _Open:
    tx = _OPEN.get(conn)
    if tx is None:
        raise RuntimeError(f"{what} needs a transaction opened by db.transaction")
    return tx


def _name(hook: Hook) -> str:
    return getattr(hook, "__qualname__", type(hook).__name__)


T = TypeVar("T")


class Stale(Exception):
    """What a transaction read to know which rows to lock changed before it locked
    them: rolled back and run again by `retrying`, like a deadlock."""


# Lock conflicts PostgreSQL resolves by aborting one transaction, and Stale: safe to
# run again.
RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError, Stale)


# Transactions run again, by the error that stopped them, since the process started
# (a last attempt that fails too is given up, not counted)
# (/metrics: eadrcc_transaction_retries). Under a stream of offers to a few needs,
# mostly SerializationError: plans that no longer held at their COMMIT.
RETRIES: collections.Counter[str] = collections.Counter()


async def retrying(operation: Callable[[], Awaitable[T]], *, attempts: int = 4) -> T:
    """Run a whole transaction again when PostgreSQL aborted it to break a deadlock,
    or it found at its end that what it read no longer holds (serialization_failure,
    `Stale`)."""
    for attempt in range(1, attempts + 1):
        try:
            return await operation()
        except RETRYABLE as exc:
            if attempt == attempts:
                raise
            RETRIES[type(exc).__name__] += 1  # only what is run again
            log.warning("transaction_retry", attempt=attempt, error=type(exc).__name__)
            await asyncio.sleep(random.uniform(0, 0.02 * attempt))  # spread the retries
    raise AssertionError("unreachable")


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL in data_dir; return the hub database's URL.

    The server keeps running while any process uses it and stops with the last one;
    the data folder stays, so nothing is lost between runs.
    """
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime folder at import; without
        # XDG_RUNTIME_DIR (containers, CI) it warns and falls back to /tmp — fine here.
        warnings.simplefilter("ignore")
        import pgserver  # imported here: only the embedded path needs it

    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DB_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {EMBEDDED_DB_NAME};")
    url: str = server.get_uri(EMBEDDED_DB_NAME)
    return url


async def resolve_url(settings: Settings) -> str:
    """DATABASE_URL when set, else the embedded server (started if need be)."""
    if settings.database_url:
        return settings.database_url
    url = await asyncio.to_thread(start_embedded, settings.data_dir)
    log.info("embedded_postgres", data_dir=str(settings.data_dir.resolve()))
    return url
