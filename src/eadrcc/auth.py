"""Bearer tokens: issued once, stored as SHA-256 hashes, resolved to a Principal."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import asyncpg

from eadrcc.db import queries
from eadrcc.errors import Invalid, NotFound, Unauthorized
from eadrcc.events import log as events
from eadrcc.ids import new_id

TOKEN_PREFIX = "eadrcc_"
q = queries("auth")


class Role(StrEnum):
    ADMIN = "admin"
    DUTY_OFFICER = "duty_officer"
    POC = "poc"
    INTEGRATION = "integration"
    OBSERVER = "observer"


@dataclass(frozen=True)
class Principal:
    token_id: str
    name: str
    role: Role
    country: str | None = None
    secrets: tuple[str, ...] = ()

    @classmethod
    def for_country(cls, country: str) -> Principal:
        """What any POC of `country` may see, without a token (outbound delivery)."""
        return cls(f"view:{country}", f"{country} view", Role.POC, country)

    @classmethod
    def staff_view(cls) -> Principal:
        """What staff may see (read-only), without a token."""
        return cls("view:staff", "staff view", Role.OBSERVER)

    @property
    def actor(self) -> str:
        """How the event log names who did something."""
        suffix = f":{self.country}" if self.country else ""
        return f"{self.role}{suffix}:{self.token_id}"

    def public(self) -> dict[str, Any]:
        return {
            "token_id": self.token_id,
            "name": self.name,
            "role": self.role.value,
            "country": self.country,
        }


@dataclass(frozen=True)
class IssuedToken:
    id: str
    token: str
    secret: str | None


def hash_token(token: str) -> bytes:
    # Tokens carry 256 random bits, so a plain fast hash is enough: nothing to brute-force.
    return hashlib.sha256(token.encode("utf-8")).digest()


async def create(
    *, conn: asyncpg.Connection, role: Role, name: str, country: str | None = None
) -> IssuedToken:
    if (role is Role.POC) != (country is not None):
        raise Invalid(
            "a poc token needs --country, and only a poc token may have one",
            errors={"country": "required for poc, forbidden otherwise"},
        )
    if country is not None and not await conn.fetchval(*q.bind("partner_exists", code=country)):
        raise Invalid(
            f"unknown country {country!r}: not in the partner registry (run `eadrcc seed`)",
            errors={"country": "not a known partner or ally"},
        )
    if not name.strip():
        raise Invalid("a token needs a name", errors={"name": "must not be empty"})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    secret = secrets.token_urlsafe(32) if role is Role.INTEGRATION else None
    token_id = new_id("tok")
    await conn.execute(
        *q.bind(
            "insert_token",
            id=token_id,
            name=name.strip(),
            role=role.value,
            country=country,
            token_hash=hash_token(token),
            secrets=[secret] if secret else [],
        )
    )
    return IssuedToken(token_id, token, secret)


async def resolve(*, conn: asyncpg.Connection, header: str | None) -> Principal:
    """The principal behind an `Authorization: Bearer ...` header, or 401."""
    return await principal_for(conn=conn, token=bearer_token(header))


def bearer_token(header: str | None) -> str:
    """The token of an `Authorization: Bearer ...` header, or 401."""
    if not header:
        raise Unauthorized("missing Authorization header")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("expected Authorization: Bearer <token>")
    return token.strip()


async def principal_for(*, conn: asyncpg.Connection, token: str) -> Principal:
    return await principal_by_hash(conn=conn, digest=hash_token(token))


async def principal_by_hash(*, conn: asyncpg.Connection, digest: bytes) -> Principal:
    row = await conn.fetchrow(*q.bind("find_token", token_hash=digest))
    if row is None:
        raise Unauthorized("unknown or revoked token")
    return Principal(
        row["id"], row["name"], Role(row["role"]), row["country"], tuple(row["secrets"])
    )


# Token events: every instance's hub acts on them (closes a revoked token's sockets,
# forgets cached tokens). Staff-only, and they carry the token's id, never a secret.
TOKEN_REVOKED, SECRET_ROTATED = "token.revoked", "token.secret_rotated"


async def revoke(*, conn: asyncpg.Connection, token_id: str, actor: str = "cli") -> None:
    """Revoke a token inside the caller's transaction (db.transaction); on commit every
    instance closes its open sockets with 4001 (events/tokens.py)."""
    if await conn.fetchval(*q.bind("revoke_token", id=token_id)) is None:
        raise NotFound(f"no active token {token_id!r}")
    _token_event(conn, TOKEN_REVOKED, token_id, actor)


async def active(*, conn: asyncpg.Connection, token_id: str) -> bool:
    return bool(await conn.fetchval(*q.bind("token_active", id=token_id)))


def _token_event(conn: asyncpg.Connection, kind: str, token_id: str, actor: str) -> None:
    events.record(conn, kind=kind, actor=actor, data={"token_id": token_id}, visibility=[])


async def list_tokens(*, conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(q.list_tokens)]


async def rotate_secret(*, conn: asyncpg.Connection, token_id: str, actor: str = "cli") -> str:
    """A new HMAC secret; the newest two stay valid so a sender can switch over. On
    commit every instance forgets what it cached of the token (at once, everywhere)."""
    secret = secrets.token_urlsafe(32)
    if await conn.fetchval(*q.bind("rotate_secret", id=token_id, secret=secret)) is None:
        raise NotFound(f"no active integration token {token_id!r}")
    _token_event(conn, SECRET_ROTATED, token_id, actor)
    return secret
