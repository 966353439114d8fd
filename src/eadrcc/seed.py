"""Reference data shipped with the hub: the partner registry, the programme
catalogue, the resource taxonomy and the capacities known from public lists."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg

from eadrcc.capacities import public as public_capacities
from eadrcc.db import transaction
from eadrcc.matching import store as matching
from eadrcc.matching import taxonomy
from eadrcc.partners import service as partners
from eadrcc.partners.models import Programme
from eadrcc.partners.transfer import parse_file

PARTNER_DATA = Path(__file__).parent / "partners" / "data"
SEED_ACTOR = "system:seed"


async def seed_reference(pool: asyncpg.Pool) -> dict[str, int]:
    """Load the shipped reference data; unchanged records are left alone."""
    catalogue = json.loads((PARTNER_DATA / "programmes.json").read_text(encoding="utf-8"))
    programmes = [Programme.model_validate(p) for p in catalogue["programmes"]]
    await partners.load_programmes(pool=pool, programmes=programmes)
    records, problems = parse_file(PARTNER_DATA / "partners.json")
    if problems:
        raise ValueError("shipped partner data is invalid: " + "; ".join(problems))
    changed = await partners.upsert_many(pool=pool, records=records, actor=SEED_ACTOR)
    types = taxonomy.load()
    async with transaction(pool) as conn:
        await matching.load_taxonomy(conn, types)
    known = await public_capacities.load(pool, SEED_ACTOR)
    return {
        "programmes": len(programmes),
        "partners": len(records),
        "partners_changed": changed,
        "resource_types": len(types.types),
        "public_capacities_changed": known,
    }
