"""The console's message catalogues: English and French hold the same keys, the
same placeholders and plural forms, and every key the code asks for exists.

A visible string written straight into a view (not through t()) fails too, as far
as a source scan can tell: `text: 'Words'` and `text: \\`Words\\`` in the modules.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from eadrcc.console.views import STATIC

ROOT = Path(__file__).resolve().parents[2]

LANGS = ("en", "fr")
# The hub's taxonomy translated by code: its English is the taxonomy's own names
# and units (the API's), so only the other languages hold these keys.
TAXONOMY = ("type.", "unit.")
TYPES = json.loads((ROOT / "src/eadrcc/matching/data/resource_types.json").read_text("utf-8"))
PLACEHOLDER = re.compile(r"\{(\w+)\}")
SCRIPTS = sorted((STATIC / "js").rglob("*.js"))


def code_of(path: Path) -> str:
    """A module's text with comment lines blanked (examples there are not calls)."""
    lines = path.read_text("utf-8").splitlines()
    return "\n".join("" if x.lstrip().startswith(("//", "*", "/*")) else x for x in lines)


def catalogue(lang: str) -> dict[str, str | dict[str, str]]:
    data = json.loads((STATIC / "i18n" / f"{lang}.json").read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def forms(value: str | dict[str, str]) -> list[str]:
    return list(value.values()) if isinstance(value, dict) else [value]


def test_both_languages_hold_the_same_keys() -> None:
    en, fr = catalogue("en"), catalogue("fr")
    fr = {k: v for k, v in fr.items() if not k.startswith(TAXONOMY)}
    assert sorted(set(en) - set(fr)) == [], "missing in fr.json"
    assert sorted(set(fr) - set(en)) == [], "missing in en.json"
    assert [k for k in en if k.startswith(TAXONOMY)] == []  # English: the taxonomy's own


def test_french_names_every_type_and_unit_of_the_taxonomy() -> None:
    fr = catalogue("fr")
    types = TYPES["types"]
    wanted = {f"type.{t['code']}" for t in types} | {f"unit.{t['unit']}" for t in types}
    held = {k for k in fr if k.startswith(TAXONOMY)}
    assert sorted(wanted - held) == [], "no French name"
    assert sorted(held - wanted) == [], "not in the taxonomy"
    english = {t["name"] for t in types}
    same = sorted(k for k in held if fr[k] in english and k.startswith("type."))
    assert same == ["type.comms", "type.expertise", "type.medical.ambulance"]  # French too


@pytest.mark.parametrize("lang", LANGS)
def test_every_message_is_written(lang: str) -> None:
    for key, value in catalogue(lang).items():
        assert re.fullmatch(r"[a-z0-9_]+(\.[a-z0-9_]+)+", key), key
        if isinstance(value, dict):
            assert "other" in value and set(value) <= {"zero", "one", "other"}, key
        for text in forms(value):
            assert isinstance(text, str) and text.strip(), (lang, key)


def test_placeholders_match_across_languages() -> None:
    en, fr = catalogue("en"), catalogue("fr")
    for key, value in en.items():
        names = {n for text in forms(value) for n in PLACEHOLDER.findall(text)}
        theirs = {n for text in forms(fr[key]) for n in PLACEHOLDER.findall(text)}
        assert names == theirs, key
        assert isinstance(value, dict) == isinstance(fr[key], dict), key


def used_keys() -> tuple[set[str], set[str]]:
    """Literal keys (t('a.b'), data-i18n) and prefixes of computed ones (t(`a.${x}`))."""
    keys: set[str] = set()
    prefixes: set[str] = set()
    for path in SCRIPTS:
        text = code_of(path)
        keys |= set(re.findall(r"\bt\(\s*'([a-z0-9_.]+)'", text))
        prefixes |= set(re.findall(r"\bt\(\s*`([a-z0-9_.]+\.)\$\{", text))
        prefixes |= {f"{p}." for p in re.findall(r"\bterm\(\s*'([a-z0-9_]+)'", text)}
        prefixes |= {f"{p}." for p in re.findall(r"\blabel\([^()]*?,\s*'([a-z0-9_]+)'\)", text)}
    page = (STATIC / "index.html").read_text("utf-8")
    keys |= set(re.findall(r'data-i18n="([a-z0-9_.]+)"', page))
    keys |= set(
        re.findall(
            r":([a-z0-9_]+\.[a-z0-9_.]+)", " ".join(re.findall(r'data-i18n-attr="([^"]+)"', page))
        )
    )
    return keys, prefixes


@pytest.mark.parametrize("lang", LANGS)
def test_every_key_the_console_asks_for_exists(lang: str) -> None:
    messages = catalogue(lang)
    keys, prefixes = used_keys()
    assert len(keys) > 20  # the scan found the calls
    assert sorted(keys - set(messages)) == []
    for prefix in prefixes:
        if lang == "en" and prefix in TAXONOMY:
            continue  # the taxonomy's own English
        assert any(k.startswith(prefix) for k in messages), prefix


def test_no_view_writes_words_outside_the_catalogue() -> None:
    literal = re.compile(r"""\b(?:text|placeholder|title|'aria-label'):\s*(['"`])([^'"`]*)\1""")
    found = []
    for path in SCRIPTS:
        for n, line in enumerate(code_of(path).splitlines(), 1):
            for _quote, words in literal.findall(line):
                bare = re.sub(r"\$\{[^}]*\}", "", words)
                if re.search(r"[A-Za-zÀ-ÿ]{2,}", bare):
                    found.append(f"{path.relative_to(STATIC)}:{n}: {words}")
    assert found == []


def test_catalogue_files_are_served_as_json() -> None:
    for lang in LANGS:
        assert Path(STATIC / "i18n" / f"{lang}.json").is_file()
