from __future__ import annotations

import asyncpg

from eadrcc.db import queries

q = queries("edxl")


async def request_by_reference(
    conn: asyncpg.Connection, reference: str, emergency_id: str | None
) -> tuple[str, str] | None:
    """(request id, emergency id) of the RFA filed under `reference`."""
    row = await conn.fetchrow(
        *q.bind("request_by_reference", reference=reference, emergency_id=emergency_id)
    )
    return (row["id"], row["emergency_id"]) if row else None
