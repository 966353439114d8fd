"""The resource taxonomy and which offered types can fill which needs (pure logic)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

DATA = Path(__file__).parent / "data" / "resource_types.json"
How = Literal["exact", "descendant", "substitute"]


@dataclass(frozen=True)
class ResourceType:
    code: str
    name: str
    unit: str
    parent: str | None
    substitutes: tuple[str, ...] = ()
    description: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Credential:
    code: str
    name: str
    applies_to: tuple[str, ...]
    programme: str | None = None


@dataclass(frozen=True)
class Taxonomy:
    types: dict[str, ResourceType]
    credentials: dict[str, Credential] = field(default_factory=dict)

    def ancestors(self, code: str) -> list[str]:
        out, parent = [], self.types[code].parent
        while parent is not None:
            out.append(parent)
            parent = self.types[parent].parent
        return out

    def fills(self) -> dict[tuple[str, str], How]:
        """(offer_type, need_type) → how the offered type can fill the need.

        An offered type fills its own type and every ancestor (a heavy USAR team is
        a USAR team); it fills a need whose `substitutes` name it or one of its
        ancestors. Units must agree: litres of water never fill a need for tanks.
        """
        result: dict[tuple[str, str], How] = {}
        for offered in self.types.values():
            lineage = [offered.code, *self.ancestors(offered.code)]
            for need in self.types.values():
                if need.unit != offered.unit:
                    continue
                if need.code == offered.code:
                    result[(offered.code, need.code)] = "exact"
                elif need.code in lineage:
                    result[(offered.code, need.code)] = "descendant"
                elif any(s in lineage for s in need.substitutes):
                    result[(offered.code, need.code)] = "substitute"
        return result


# A credential that the partner registry must confirm before an offer may carry it.
CREDENTIAL_PROGRAMMES = {"nato.occ.evaluated": "OCC"}


def load(path: Path = DATA) -> Taxonomy:
    data = json.loads(path.read_text(encoding="utf-8"))
    types = {
        t["code"]: ResourceType(
            t["code"],
            t["name"],
            t["unit"],
            t.get("parent"),
            tuple(t.get("substitutes", [])),
            t.get("description"),
            t.get("source"),
        )
        for t in data["types"]
    }
    credentials = {
        c["code"]: Credential(
            c["code"], c["name"], tuple(c["applies_to"]), CREDENTIAL_PROGRAMMES.get(c["code"])
        )
        for c in data.get("credentials", [])
    }
    return Taxonomy(types, credentials)
