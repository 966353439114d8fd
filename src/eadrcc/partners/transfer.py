"""The whole registry in and out, as JSON or CSV. Imports check every row first."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from eadrcc import csvsafe
from eadrcc.partners.models import Partner, PartnerFields, PartnerRecord

CSV_COLUMNS = ["code", "name", "status", "frameworks", "programmes", "contacts"]


def to_json(partners: list[Partner]) -> str:
    records = [
        p.model_dump(mode="json", include={"code", *PartnerFields.model_fields}) for p in partners
    ]
    return json.dumps({"partners": records}, indent=2, ensure_ascii=False) + "\n"


def to_csv(partners: list[Partner]) -> str:
    """One row a partner; frameworks `;`-joined, programmes `CODE:status:since:source;...`,
    contacts as a JSON array (they have too many optional fields for columns)."""
    out = io.StringIO()
    writer = csvsafe.Writer(out)  # formula-looking cells become text
    writer.writerow(CSV_COLUMNS)
    for p in partners:
        programmes = ";".join(
            f"{g.code}:{g.status}:{g.since or ''}:{g.source or ''}" for g in p.programmes
        )
        contacts = json.dumps(
            [c.model_dump(exclude_none=True) for c in p.contacts], ensure_ascii=False
        )
        writer.writerow([p.code, p.name, p.status, ";".join(p.frameworks), programmes, contacts])
    return out.getvalue()


def parse_file(path: Path) -> tuple[dict[str, PartnerFields], list[str]]:
    """Records by code, and every problem found (row and field). Nothing is written."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        rows, problems = _csv_rows(text)
    else:
        rows, problems = _json_rows(text)
    records: dict[str, PartnerFields] = {}
    for label, row in rows:
        try:
            record = PartnerRecord.model_validate(row)
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"]) or "row"
                problems.append(f"{label}: {field}: {err['msg']}")
            continue
        if record.code in records:
            problems.append(f"{label}: code {record.code} appears more than once")
        records[record.code] = record
    return records, problems


def _json_rows(text: str) -> tuple[list[tuple[str, Any]], list[str]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return [], [f"not valid JSON: {exc}"]
    items = data.get("partners") if isinstance(data, dict) else data
    if not isinstance(items, list):
        return [], ['expected {"partners": [...]} or a list of records']
    return [(f"record {i + 1}", _drop_meta(item)) for i, item in enumerate(items)], []


def _drop_meta(item: Any) -> Any:
    # Exports and seed files may carry read-only fields; they are not the record's content.
    if isinstance(item, dict):
        return {k: v for k, v in item.items() if k not in {"version", "updated_at", "updated_by"}}
    return item


def _csv_rows(text: str) -> tuple[list[tuple[str, Any]], list[str]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = set(CSV_COLUMNS) - set(reader.fieldnames or [])
    if missing:
        return [], [f"CSV header lacks column(s): {', '.join(sorted(missing))}"]
    rows: list[tuple[str, Any]] = []
    problems: list[str] = []
    for line, row in enumerate(reader, start=2):
        try:
            rows.append((f"line {line}", _csv_record(row)))
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
    return rows, problems


def _csv_record(row: dict[str, str]) -> dict[str, Any]:
    programmes = []
    for part in filter(None, (row["programmes"] or "").split(";")):
        code, status, since, source = [*part.split(":", 3), "", "", ""][:4]
        programmes.append(
            {
                "code": code.strip(),
                "status": status.strip() or "active",
                "since": since.strip() or None,
                "source": source.strip() or None,
            }
        )
    try:
        contacts = json.loads(row["contacts"] or "[]")
    except json.JSONDecodeError as exc:
        raise ValueError(f"contacts: not a JSON array ({exc})") from None
    return {
        "code": row["code"],
        "name": csvsafe.restore(row["name"] or ""),  # as written by to_csv
        "status": row["status"],
        "frameworks": [f.strip() for f in (row["frameworks"] or "").split(";") if f.strip()],
        "programmes": programmes,
        "contacts": contacts,
    }
