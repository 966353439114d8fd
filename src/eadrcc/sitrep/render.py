"""A situation report as Markdown, CSV or print-ready HTML."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from eadrcc import csvsafe
from eadrcc.sitrep.models import DuplicatePairLine, NationLine, NeedLine, Sitrep, SupplyLine

NEED_COLUMNS = [
    "requesting_country",
    "resource_type",
    "priority",
    "requested",
    "proposed",
    "accepted",
    "in_transit",
    "delivered",
    "uncovered_quantity",
    "needed_by",
    "eta",
    "flags",
]
SUPPLY_COLUMNS = ["resource_type", "requested", "offered", "accepted", "surplus"]
DUPLICATE_COLUMNS = [
    "need_id",
    "offering_country",
    "channel",
    "item_id",
    "duplicate_channel",
    "duplicate_item_id",
]
NATION_COLUMNS = [
    "country",
    "channel",
    "resource_type",
    "offered",
    "accepted",
    "in_transit",
    "delivered",
    "withdrawn",
]


# What can turn text into a heading, link, image, emphasis, code, table cell or HTML
# (intraword `_`, `.` and `-` cannot, and codes like eu_ucpm stay readable).
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>#|!&~])")


def md_text(value: str) -> str:
    """User text as literal Markdown: one line, and every character that could make
    a heading, link, image, emphasis, table cell or HTML escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(value.split()))


def _title(s: Sitrep) -> str:
    prefix = "EXERCISE — " if s.exercise else ""
    return f"{prefix}Situation report: {s.emergency.title}"


def _lead(s: Sitrep) -> list[str]:
    e, m = s.emergency, s.summary
    return [
        f"As of {s.as_of.isoformat(timespec='seconds')} (event {s.last_seq}). "
        f"Hazard: {e.hazard}; severity: {e.severity}; status: {e.status}; "
        f"affected: {', '.join(e.countries)}.",
        f"{m.requests} request(s) with {m.needs} need(s): {m.needs_fully_accepted} fully "
        f"accepted, {m.needs_uncovered} not yet covered, {m.needs_late} late, "
        f"{m.needs_at_risk} at risk. {m.offers} offer(s) still on offer from "
        f"{m.offering_nations} nation(s); {m.accepted_lines} accepted line(s), "
        f"{m.delivered_lines} delivered.",
    ]


def markdown(s: Sitrep) -> str:
    # Only the title is free text; codes, enums and numbers are escaped all the same.
    out = [f"# {md_text(_title(s))}", "", *map(md_text, _lead(s)), "", "## Outstanding needs", ""]
    out += _md_table(NEED_COLUMNS, [_row(n, NEED_COLUMNS) for n in s.outstanding])
    out += ["", "## Supply against demand by resource type", ""]
    out += _md_table(SUPPLY_COLUMNS, [_row(n, SUPPLY_COLUMNS) for n in s.supply_by_type])
    out += ["", "## Same help offered through two channels", ""]
    out += _md_table(DUPLICATE_COLUMNS, [_row(n, DUPLICATE_COLUMNS) for n in s.duplicates])
    out += ["", "## Offers and acceptances by nation and channel", ""]
    out += _md_table(NATION_COLUMNS, [_row(n, NATION_COLUMNS) for n in s.offers_by_nation])
    out += ["", "## All needs", ""]
    out += _md_table(NEED_COLUMNS, [_row(n, NEED_COLUMNS) for n in s.needs])
    return "\n".join(out) + "\n"


def _md_table(columns: list[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return ["(none)"]
    clean = [[md_text(c) for c in r] for r in rows]
    return [
        " | ".join(columns),
        " | ".join("---" for _ in columns),
        *(" | ".join(r) for r in clean),
    ]


Line = NeedLine | NationLine | SupplyLine | DuplicatePairLine


def _row(line: Line, columns: list[str]) -> list[str]:
    return [_cell(line, c) for c in columns]


def _cell(line: Line, column: str) -> str:
    if column == "flags" and isinstance(line, NeedLine):
        return flags(line)
    value = getattr(line, column)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="minutes").replace("+00:00", "Z")
    return str(value)


def flags(n: NeedLine) -> str:
    """The need's warnings, worst first, as words a reader of a printout understands."""
    named = [
        ("LATE", n.late),
        ("AT RISK", n.at_risk),
        ("UNCOVERED", n.uncovered),
        ("DUPLICATED", n.duplicated),
    ]
    return " ".join(name for name, on in named if on)


def csv_text(s: Sitrep) -> str:
    """One table for spreadsheets: a `section` column says which part a row is."""
    out = io.StringIO()
    writer = csvsafe.Writer(out)  # formula-looking cells become text
    columns = [
        "section",
        "country",
        "channel",
        "resource_type",
        "priority",
        "requested",
        "offered",
        "proposed",
        "accepted",
        "in_transit",
        "delivered",
        "uncovered",
        "withdrawn",
        "needed_by",
        "eta",
        "late",
        "at_risk",
        "duplicated",
    ]
    writer.writerow(columns)
    for n in s.needs:
        writer.writerow(
            [
                "need",
                n.requesting_country,
                "",
                n.resource_type,
                n.priority,
                n.requested,
                "",
                n.proposed,
                n.accepted,
                n.in_transit,
                n.delivered,
                n.uncovered_quantity,
                "",
                _cell(n, "needed_by"),
                _cell(n, "eta"),
                str(n.late).lower(),
                str(n.at_risk).lower(),
                str(n.duplicated).lower(),
            ]
        )
    for o in s.offers_by_nation:
        writer.writerow(
            [
                "offer",
                o.country,
                o.channel,
                o.resource_type,
                "",
                "",
                o.offered,
                "",
                o.accepted,
                o.in_transit,
                o.delivered,
                "",
                o.withdrawn,
                "",
                "",
                "",
                "",
                "",
            ]
        )
    for t in s.supply_by_type:
        row = ["supply", "", "", t.resource_type, "", t.requested, t.offered, "", t.accepted]
        writer.writerow([*row, "", "", "", "", "", "", "", "", ""])
    return out.getvalue()


def html(s: Sitrep) -> str:
    banner = '<p class="exercise">EXERCISE — not a real emergency</p>' if s.exercise else ""
    lead = "".join(f"<p>{escape(p)}</p>" for p in _lead(s))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(_title(s))}</title>
<style>
body {{ font: 11pt/1.4 system-ui, sans-serif; margin: 2em; color: #111; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 1.5em; }}
th, td {{ border: 1px solid #999; padding: 3px 6px; text-align: left; }}
td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
td.flags {{ font-weight: bold; color: #a00; }}
.exercise {{ background: #ffe08a; padding: 4px 8px; font-weight: bold; }}
@media print {{
  body {{ margin: 0; }} h2 {{ page-break-after: avoid; }} tr {{ page-break-inside: avoid; }}
}}
</style></head><body>
{banner}<h1>{escape(_title(s))}</h1>{lead}
<h2>Outstanding needs</h2>{_html_table(NEED_COLUMNS, s.outstanding)}
<h2>Supply against demand by resource type</h2>
{_html_table(SUPPLY_COLUMNS, s.supply_by_type)}
<h2>Same help offered through two channels</h2>
{_html_table(DUPLICATE_COLUMNS, s.duplicates)}
<h2>Offers and acceptances by nation and channel</h2>
{_html_table(NATION_COLUMNS, s.offers_by_nation)}
<h2>All needs</h2>{_html_table(NEED_COLUMNS, s.needs)}
</body></html>
"""


def _html_table(columns: list[str], lines: Sequence[Line]) -> str:
    if not lines:
        return "<p>(none)</p>"
    head = "".join(f"<th>{escape(c.replace('_', ' '))}</th>" for c in columns)
    rows = []
    for line in lines:
        cells = []
        for c in columns:
            value = getattr(line, c, None)
            cls = ' class="n"' if isinstance(value, int) and not isinstance(value, bool) else ""
            if c == "flags" and _cell(line, c):
                cls = ' class="flags"'
            cells.append(f"<td{cls}>{escape(_cell(line, c))}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
