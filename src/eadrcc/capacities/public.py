"""Loading the capacities known from public lists (data/public_capacities.json):
each record keeps its citation and the day its source was read, and is keyed by
the file's own key, so seeding again refreshes and never duplicates."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg

from eadrcc.capacities import store
from eadrcc.db import transaction
from eadrcc.ids import new_id
from eadrcc.partners import store as partners

DATA = Path(__file__).parent / "data" / "public_capacities.json"


def records(path: Path = DATA) -> list[dict[str, Any]]:
    """The file's records, each with its full citation and read date filled in."""
    data = json.loads(path.read_text(encoding="utf-8"))
    read_on = date.fromisoformat(data["read_on"])
    return [
        {
            **r,
            "citation": data["sources"][r["source"]],
            "read_on": read_on,
            "public_key": r["key"],
            "quantity": r.get("quantity", 1),
            "self_sufficient": True,  # classified teams must be (INSARAG, WHO EMT)
        }
        for r in data["capacities"]
    ]


async def load(pool: asyncpg.Pool, actor: str, path: Path = DATA) -> int:
    """Upsert every record whose nation is in the partner registry; the count changed."""
    changed = 0
    async with transaction(pool) as conn:
        rows = records(path)
        outside = set(await partners.unknown_codes(conn, [r["country"] for r in rows]))
        for r in rows:
            if r["country"] in outside:
                continue
            valid = r["valid_until"] and datetime.fromisoformat(r["valid_until"])
            fields = {**r, "id": new_id("cap"), "valid_until": valid}
            changed += await store.upsert_public(conn, fields, actor)
    return changed
