"""Partner registry rules. Each public function owns one transaction."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg
import structlog

from eadrcc.db import transaction
from eadrcc.errors import Invalid, NotFound, PreconditionFailed, PreconditionRequired
from eadrcc.events import log as events
from eadrcc.partners import store
from eadrcc.partners.models import Partner, PartnerChanges, PartnerFields, Programme

log = structlog.get_logger(__name__)


def etag(version: int) -> str:
    return f'"v{version}"'


def etag_matches(header: str, version: int) -> bool:
    """RFC 9110 list of entity tags; weak comparison is fine for If-None-Match and If-Match."""
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag(version) in tags


async def get(*, conn: asyncpg.Connection, code: str) -> Partner:
    partner = await store.get(conn, code)
    if partner is None:
        raise NotFound(f"no partner with code {code!r}")
    return partner


async def replace(
    *, pool: asyncpg.Pool, code: str, fields: PartnerFields, if_match: str | None, actor: str
) -> tuple[Partner, bool]:
    """Replace one record if If-Match names its current version.

    Returns the record and whether anything changed (an identical body writes no new
    version and no event).
    """
    if not if_match:
        raise PreconditionRequired("PUT needs If-Match with the record's current ETag")
    async with transaction(pool) as conn:
        current = await store.get(conn, code, lock=True)
        if current is None:
            raise NotFound(f"no partner with code {code!r}")
        if not etag_matches(if_match, current.version):
            raise PreconditionFailed(
                f"the record has changed; its current ETag is {etag(current.version)}",
                extra={"current_etag": etag(current.version)},
            )
        await _check_programmes(conn, [fields])
        partner, changed = await _write(conn, code, fields, current, actor)
    if changed:
        log.info("partner_updated", code=code, version=partner.version)
    return partner, changed


async def _write(
    conn: asyncpg.Connection,
    code: str,
    fields: PartnerFields,
    current: Partner | None,
    actor: str,
) -> tuple[Partner, bool]:
    if current is not None and _same(current, fields):
        return current, False
    version, at = await events.append(
        conn,
        kind="partner.updated",
        actor=actor,
        data={
            "code": code,
            "name": fields.name,
            "status": fields.status,
            "created": current is None,
        },
    )
    partner = await store.write(conn, code, fields, version=version, at=at, actor=actor)
    return partner, True


def _same(current: Partner, fields: PartnerFields) -> bool:
    keys = set(PartnerFields.model_fields)
    return current.model_dump(include=keys) == fields.model_dump(include=keys)


async def _check_programmes(conn: asyncpg.Connection, records: Iterable[PartnerFields]) -> None:
    known = await store.programme_codes(conn)
    unknown = sorted({p.code for r in records for p in r.programmes} - known)
    if unknown:
        raise Invalid(
            "unknown programme code(s)",
            errors={"programmes": f"not in the catalogue: {', '.join(unknown)}"},
        )


async def changes(*, conn: asyncpg.Connection, since: int, limit: int) -> PartnerChanges:
    partners, head = await store.changes_since(conn, since, limit)
    high_water = partners[-1].version if partners else max(since, head)
    return PartnerChanges(changes=partners, high_water=high_water)


async def upsert_many(*, pool: asyncpg.Pool, records: dict[str, PartnerFields], actor: str) -> int:
    """Write many records in one transaction (seed, import); return how many changed."""
    async with transaction(pool) as conn:
        await _check_programmes(conn, records.values())
        changed = 0
        for code, fields in sorted(records.items()):
            current = await store.get(conn, code, lock=True)
            _, did = await _write(conn, code, fields, current, actor)
            changed += did
    # One line for the batch: a first seed changes every record.
    log.info("partners_upserted", records=len(records), changed=changed, actor=actor)
    return changed


async def load_programmes(*, pool: asyncpg.Pool, programmes: list[Programme]) -> None:
    async with transaction(pool) as conn:
        for position, programme in enumerate(programmes):
            await store.upsert_programme(conn, programme, position)
