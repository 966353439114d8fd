"""What EDXL-RM names mean to us: resource types, countries, message ids (pure logic).

The tables live in data/ with their sources; see resource_type_map.json for why the
type table is short.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
URN = "urn:eadrcc"
TYPE_URN = f"{URN}:resource-type"
UNIT_URN = f"{URN}:unit"
PRIORITY_URN = f"{URN}:priority"
CREDENTIAL_URN = f"{URN}:credential"
SELF_SUFFICIENT_URN = f"{URN}:self-sufficient"
# "Type I", "type 2", "TYPE IV" at the end of a NIMS/NWCG resource name.
_TYPE_DESIGNATION = re.compile(r"\s+type\s+(?:[ivx]+|\d+)$")
_NOT_NAME = re.compile(r"[^a-z0-9&]+")


def _load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def normalise(text: str) -> str:
    """Lower case, punctuation as blanks: "Track  Dozer (Type I)" → "track dozer type i"."""
    return " ".join(_NOT_NAME.sub(" ", text.lower()).split())


@dataclass(frozen=True)
class TypeResolver:
    """Finds our taxonomy code for what a message says of a resource's type."""

    codes: frozenset[str]
    names: dict[str, str]  # normalised text → code

    @classmethod
    def build(cls, taxonomy: Iterable[tuple[str, str]]) -> TypeResolver:
        """From (code, name) pairs of our taxonomy, plus the sourced table."""
        pairs = list(taxonomy)
        names = {normalise(row["text"]): row["code"] for row in type_rows()}
        names.update({normalise(name): code for code, name in pairs})
        return cls(frozenset(code for code, _ in pairs), names)

    def resolve(self, texts: Iterable[str | None]) -> str | None:
        """The code for the first text that names one, trying each whole text first
        and then without a trailing type designation."""
        candidates = [t.strip() for t in texts if t and t.strip()]
        for text in candidates:
            if text in self.codes:
                return text
        for text in candidates:
            key = normalise(text)
            found = self.names.get(key) or self.names.get(_TYPE_DESIGNATION.sub("", key))
            if found in self.codes:
                return found
        return None


@cache
def type_rows() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = _load("resource_type_map.json")["rows"]
    return rows


@cache
def _countries() -> dict[str, str]:
    data = _load("countries.json")
    return {**data["alpha2"], **data["exceptional"]}


def iso3(code: str | None) -> str | None:
    """ISO 3166-1 alpha-3 for an alpha-3 or (partner) alpha-2 code; None otherwise."""
    value = (code or "").strip().upper()
    if len(value) == 3 and value.isascii() and value.isalpha():
        return value
    return _countries().get(value)


# ---- message ids -----------------------------------------------------------------
# Exports name the object they carry, so an answer that quotes the id links back.
# The id is stable: re-exporting a changed RFA reuses it, and an idempotent importer
# (this hub included) then refuses the changed copy (409) instead of duplicating it.


def message_id(kind: str, object_id: str) -> str:
    return f"{URN}:{kind}:{object_id}"


def named_object(kind: str, message_id: str | None) -> str | None:
    """`rfa_…` from "urn:eadrcc:request:rfa_…"; None when the id is not one of ours."""
    prefix = f"{URN}:{kind}:"
    if message_id and message_id.startswith(prefix):
        return message_id[len(prefix) :] or None
    return None
