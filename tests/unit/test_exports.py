"""Exports never carry live markup: CSV cells that a spreadsheet would run are text
(every CSV writer of the hub), and user text in Markdown stays text."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from eadrcc import csvsafe
from eadrcc.emergencies.models import Emergency
from eadrcc.partners.models import Partner
from eadrcc.partners.transfer import to_csv
from eadrcc.sitrep.models import Sitrep, Summary
from eadrcc.sitrep.render import markdown, md_text

FORMULAS = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.mark.parametrize("value", FORMULAS)
def test_formula_cells_become_text_and_read_back(value: str) -> None:
    assert csvsafe.cell(value) == "'" + value
    assert csvsafe.restore(csvsafe.cell(value)) == value
    assert csvsafe.cell("Norway") == "Norway" and csvsafe.cell(5) == 5


def test_the_partner_export_neutralises_a_formula_name() -> None:
    partner = Partner(
        code="NOR",
        name="=cmd|' /C calc'!A0",
        status="ally",
        version=1,
        updated_at=datetime.now(UTC),
        updated_by="t",
    )
    rows = list(csv.reader(io.StringIO(to_csv([partner]))))
    assert rows[1][1] == "'=cmd|' /C calc'!A0"


def test_markdown_user_text_makes_no_heading_link_or_html() -> None:
    text = md_text("x\n# Heading [a](javascript:alert(1)) <img src=x onerror=y> ![i](u)")
    assert "\n" not in text
    for escaped in ("\\# Heading", "\\[a\\]", "\\<img", "\\!\\[i\\]"):
        assert escaped in text, (escaped, text)
    assert md_text("shelter.tent.family eu_ucpm") == "shelter.tent.family eu_ucpm"


def _hostile_sitrep() -> Sitrep:
    now = datetime.now(UTC)
    emergency = Emergency(
        id="emg_0000000000",
        title="Quake\n# Pwned [click](javascript:alert(1)) <script>x</script>",
        hazard="earthquake",
        countries=["TUR"],
        location={"lat": 1, "lon": 1},  # type: ignore[arg-type]
        severity="extreme",
        status="active",
        exercise=False,
        created_at=now,
        updated_at=now,
    )
    summary = Summary(**dict.fromkeys(Summary.model_fields, 0))
    return Sitrep(
        emergency=emergency,
        as_of=now,
        last_seq=1,
        exercise=False,
        summary=summary,
        needs=[],
        offers_by_nation=[],
        outstanding=[],
        supply_by_type=[],
        duplicates=[],
    )


def test_the_sitrep_markdown_escapes_the_title() -> None:
    out = markdown(_hostile_sitrep())
    assert [line for line in out.splitlines() if line.startswith("#")] == [
        line for line in out.splitlines() if line.startswith(("# ", "## "))
    ]
    assert "# Pwned" not in out.replace("\\# Pwned", "")
    assert "[click](javascript" not in out and "<script>" not in out
