"""Idempotency-Key: a retried POST gets the first answer; the same key with another
body is a conflict. The key is claimed inside the creating transaction, so a
concurrent retry waits for the first to commit and then reads its answer."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import asyncpg

from eadrcc import db
from eadrcc.db import queries
from eadrcc.errors import Conflict, Invalid

q = queries("idempotency")
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


def check_key(key: str | None) -> str | None:
    if key is not None and not _KEY.match(key):
        raise Invalid(
            "bad Idempotency-Key", errors={"Idempotency-Key": "1 to 200 visible ASCII characters"}
        )
    return key


def fingerprint(scope: str, body: Any) -> bytes:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{scope}\n{canonical}".encode()).digest()


async def claim(
    conn: asyncpg.Connection, *, token_id: str, key: str, scope: str, request_hash: bytes
) -> tuple[int, Any] | None:
    """Claim the key for this request; if it was used before, the stored answer."""
    claimed = q.bind("claim", token_id=token_id, key=key, scope=scope, request_hash=request_hash)
    if await conn.fetchval(*claimed):
        return None
    row = await conn.fetchrow(*q.bind("get", token_id=token_id, key=key))
    if row["request_hash"] != request_hash:
        raise Conflict("this Idempotency-Key was already used with a different request")
    return row["status"], row["response"]


async def claim_each(
    conn: asyncpg.Connection, claims: list[tuple[str, str, str, bytes]]
) -> set[tuple[str, str]]:
    """Claim several (token id, key, scope, request hash) at once, in one round trip;
    answers the (token id, key) claimed. One not claimed was used before: `claim`
    it on its own to read its answer."""
    if not claims:
        return set()
    token_ids, keys, scopes, hashes = (list(c) for c in zip(*claims, strict=True))
    rows = await conn.fetch(
        *q.bind("claim_each", token_ids=token_ids, keys=keys, scopes=scopes, request_hashes=hashes)
    )
    return {(r["token_id"], r["key"]) for r in rows}


def remember(
    conn: asyncpg.Connection, *, token_id: str, key: str, status: int, response: Any
) -> None:
    """Store the answer for retries; written with the COMMIT (db.with_commit), so it
    costs no round trip of its own."""
    answers = db.with_commit(conn, _remember_sql).setdefault("idempotency", [])
    answers.append((token_id, key, status, response))


def _remember_sql(state: dict[str, Any]) -> str | None:
    updates = []
    for token_id, key, status, response in state.get("idempotency", ()):
        text = json.dumps(response, separators=(",", ":"), default=str)
        updates.append(
            f"UPDATE idempotency_keys SET status = {int(status)},"
            f" response = {db.literal(text)}::jsonb"
            f" WHERE token_id = {db.literal(token_id)} AND key = {db.literal(key)}"
        )
    return "\n;\n".join(updates) or None
