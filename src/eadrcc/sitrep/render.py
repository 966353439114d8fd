"""A situation report as Markdown, CSV or print-ready HTML."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from eadrcc import csvsafe
from eadrcc.sitrep.models import DuplicatePairLine, NationLine, NeedLine, Sitrep, SupplyLine
from eadrcc.sitrep.words import WORDS, Language, column

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


def _title(s: Sitrep, language: Language = "en") -> str:
    words = WORDS[language]
    prefix = words["exercise_prefix"] if s.exercise else ""
    return prefix + words["title"].format(title=s.emergency.title)


def _lead(s: Sitrep, language: Language = "en") -> list[str]:
    e, m, words = s.emergency, s.summary, WORDS[language]
    return [
        words["lead_state"].format(
            as_of=s.as_of.isoformat(timespec="seconds"),
            seq=s.last_seq,
            hazard=e.hazard,
            severity=e.severity,
            status=e.status,
            countries=", ".join(e.countries),
        ),
        words["lead_counts"].format(
            requests=m.requests,
            needs=m.needs,
            accepted=m.needs_fully_accepted,
            uncovered=m.needs_uncovered,
            late=m.needs_late,
            at_risk=m.needs_at_risk,
            offers=m.offers,
            nations=m.offering_nations,
            lines=m.accepted_lines,
            delivered=m.delivered_lines,
        ),
    ]


def markdown(s: Sitrep, language: Language = "en") -> str:
    # Only the title is free text; codes, enums and numbers are escaped all the same.
    w = WORDS[language]

    def section(key: str, columns: list[str], lines: Sequence[Line]) -> list[str]:
        rows = [_row(n, columns, language) for n in lines]
        return ["", f"## {w[key]}", "", *_md_table(columns, rows, language)]

    out = [f"# {md_text(_title(s, language))}", "", *(md_text(p) for p in _lead(s, language))]
    out += section("outstanding", NEED_COLUMNS, s.outstanding)
    out += section("supply", SUPPLY_COLUMNS, s.supply_by_type)
    out += section("duplicates", DUPLICATE_COLUMNS, s.duplicates)
    out += section("by_nation", NATION_COLUMNS, s.offers_by_nation)
    out += section("all_needs", NEED_COLUMNS, s.needs)
    return "\n".join(out) + "\n"


def _md_table(columns: list[str], rows: list[list[str]], language: Language = "en") -> list[str]:
    if not rows:
        return [WORDS[language]["none"]]
    clean = [[md_text(c) for c in r] for r in rows]
    # English keeps the field names as headings (what the API's JSON calls them).
    heads = columns if language == "en" else [md_text(column(c, language)) for c in columns]
    return [
        " | ".join(heads),
        " | ".join("---" for _ in columns),
        *(" | ".join(r) for r in clean),
    ]


Line = NeedLine | NationLine | SupplyLine | DuplicatePairLine


def _row(line: Line, columns: list[str], language: Language = "en") -> list[str]:
    return [_cell(line, c, language) for c in columns]


def _cell(line: Line, name: str, language: Language = "en") -> str:
    if name == "flags" and isinstance(line, NeedLine):
        return flags(line, language)
    value = getattr(line, name)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="minutes").replace("+00:00", "Z")
    return str(value)


def flags(n: NeedLine, language: Language = "en") -> str:
    """The need's warnings, worst first, as words a reader of a printout understands."""
    named = [
        ("LATE", n.late),
        ("AT RISK", n.at_risk),
        ("UNCOVERED", n.uncovered),
        ("DUPLICATED", n.duplicated),
    ]
    return " ".join(WORDS[language][name] for name, on in named if on)


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


def html(s: Sitrep, language: Language = "en") -> str:
    w = WORDS[language]
    banner = f'<p class="exercise">{escape(w["exercise_banner"])}</p>' if s.exercise else ""
    lead = "".join(f"<p>{escape(p)}</p>" for p in _lead(s, language))
    title = escape(_title(s, language))

    def section(key: str, columns: list[str], lines: Sequence[Line]) -> str:
        return f"<h2>{escape(w[key])}</h2>{_html_table(columns, lines, language)}"

    return f"""<!doctype html>
<html lang="{language}"><head><meta charset="utf-8">
<title>{title}</title>
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
{banner}<h1>{title}</h1>{lead}
{section("outstanding", NEED_COLUMNS, s.outstanding)}
{section("supply", SUPPLY_COLUMNS, s.supply_by_type)}
{section("duplicates", DUPLICATE_COLUMNS, s.duplicates)}
{section("by_nation", NATION_COLUMNS, s.offers_by_nation)}
{section("all_needs", NEED_COLUMNS, s.needs)}
</body></html>
"""


def _html_table(columns: list[str], lines: Sequence[Line], language: Language = "en") -> str:
    if not lines:
        return f"<p>{escape(WORDS[language]['none'])}</p>"
    head = "".join(f"<th>{escape(column(c, language))}</th>" for c in columns)
    rows = []
    for line in lines:
        cells = []
        for c in columns:
            value = getattr(line, c, None)
            cls = ' class="n"' if isinstance(value, int) and not isinstance(value, bool) else ""
            text = _cell(line, c, language)
            if c == "flags" and text:
                cls = ' class="flags"'
            cells.append(f"<td{cls}>{escape(text)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
