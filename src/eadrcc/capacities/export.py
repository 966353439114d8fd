"""The register as CSV, for planners' spreadsheets."""

from __future__ import annotations

import io

from eadrcc import csvsafe
from eadrcc.capacities.models import Capacity

COLUMNS = [
    "id",
    "country",
    "resource_type",
    "quantity",
    "readiness_hours",
    "home_place",
    "home_lat",
    "home_lon",
    "credentials",
    "self_sufficient",
    "valid_until",
    "expired",
    "status",
    "source",
    "citation",
    "read_on",
    "name",
    "notes",
]


def csv_text(capacities: list[Capacity]) -> str:
    out = io.StringIO()
    writer = csvsafe.Writer(out)
    writer.writerow(COLUMNS)
    for c in capacities:
        home = c.home_base
        row = [
            c.id,
            c.country,
            c.resource_type,
            c.quantity,
            c.readiness_hours,
            home.place if home else None,
            home.lat if home else None,
            home.lon if home else None,
            " ".join(c.credentials),
            c.self_sufficient,
            c.valid_until.isoformat() if c.valid_until else None,
            c.expired,
            c.status,
            c.source,
            c.citation,
            c.read_on.isoformat() if c.read_on else None,
            c.name,
            c.notes,
        ]
        # Free text a nation typed must never run as a formula in a spreadsheet.
        writer.writerow(row)
    return out.getvalue()
