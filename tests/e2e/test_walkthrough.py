"""docs/walkthrough.sh, the README's curl story, run against a real hub so it never rots."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, Hub

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("curl", "jq", "openssl")),
    reason="the walkthrough needs curl, jq and openssl (EADRCC_TEST_INSTALL=1 installs jq)",
)


def test_the_walkthrough_runs_end_to_end(hub: Hub, hub_db: str) -> None:
    env = {
        **os.environ,
        "EADRCC_URL": hub.url,
        "DATABASE_URL": hub_db,
        "EADRCC": str(Path(sys.executable).parent / "eadrcc"),
    }
    done = subprocess.run(
        ["bash", str(ROOT / "docs" / "walkthrough.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    out = done.stdout
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "walkthrough.out").write_text(out + done.stderr)
    assert done.returncode == 0, out + done.stderr
    assert "retried: same offer" in out
    assert '"status":"delivered","delivered":300' in out
    assert (
        '{"resource_type":"shelter.tent.family","requested":500,"accepted":0,"in_transit":0,'
        '"delivered":300,"uncovered_quantity":200}'
    ) in out
    assert "# EXERCISE — Situation report: Walkthrough earthquake" in out
    assert out.count("section,") == 1  # the CSV header
    assert "x200/300 delivered" in out
    assert "HTTP 201" in out
    assert out.rstrip().endswith("== walkthrough complete")
