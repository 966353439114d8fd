"""Country codes and names: ISO 3166-1 alpha-2/alpha-3, ISO 3166-2 subdivisions, and
the names feeds write (GDACS lists "Bulgaria, Iraq, Iran, Turkey"). Pure lookups."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data" / "iso3166-1.json"
# Names feeds use that ISO's tables do not (ISO now writes Türkiye, "Korea, Republic of").
ALIASES = {
    "turkey": "TUR",
    "czech republic": "CZE",
    "macedonia": "MKD",
    "south korea": "KOR",
    "republic of korea": "KOR",
    "north korea": "PRK",
    "usa": "USA",
    "united states": "USA",
    "uk": "GBR",
    "great britain": "GBR",
    "bosnia": "BIH",
    "moldova": "MDA",
    "uae": "ARE",
    "russia": "RUS",
    "iran": "IRN",
    "syria": "SYR",
    "vietnam": "VNM",
    "laos": "LAO",
    "bolivia": "BOL",
    "venezuela": "VEN",
    "tanzania": "TZA",
}
_SUBDIVISION = re.compile(r"^([A-Z]{2})-[A-Z0-9]{1,3}$")


@cache
def _table() -> tuple[dict[str, str], dict[str, str]]:
    """(alpha-2 → alpha-3, lower-case name → alpha-3), read once."""
    alpha2: dict[str, str] = {}
    names: dict[str, str] = {}
    for two, three, known_as in json.loads(DATA.read_text(encoding="utf-8")):
        alpha2[two] = three
        for name in known_as:
            names[name.lower()] = three
    return alpha2, {**names, **ALIASES}


def iso3_of_code(code: str) -> str | None:
    """`TUR`, `TR` or an ISO 3166-2 subdivision (`AU-NSW`) → its ISO 3166-1 alpha-3."""
    code = code.strip().upper()
    alpha2, _ = _table()
    if re.fullmatch(r"[A-Z]{3}", code):
        return code if code in alpha2.values() else None
    if match := _SUBDIVISION.match(code):
        code = match[1]
    return alpha2.get(code) if re.fullmatch(r"[A-Z]{2}", code) else None


def iso3_of_name(name: str) -> str | None:
    """A country's name as ISO or a feed writes it ("Iran", "Turkey") → alpha-3."""
    return _table()[1].get(" ".join(name.split()).lower())


def iso3_of_names(text: str) -> list[str]:
    """A comma-separated list of names → the codes of those recognised, in order."""
    found = (iso3_of_name(part) for part in text.split(","))
    return list(dict.fromkeys(code for code in found if code))


def known_names() -> dict[str, str]:
    """Every lower-case name and alias this module knows → alpha-3."""
    return dict(_table()[1])
