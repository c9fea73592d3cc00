"""`pip install .` resolves inside an existing torchgeo 0.10 environment (no OpenMMLab needed)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_pip_install_resolves_against_the_installed_torchgeo_010(tmp_path):
    assert version("torchgeo").startswith("0.10.")
    # --no-index: every requirement must be met by what is installed (torchgeo 0.10 among them);
    # --dry-run: nothing changes. The [mm] extra is not asked for.
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index",
         "--no-build-isolation", "--report", str(tmp_path / "report.json"), str(ROOT)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Would install sargeo" in proc.stdout
    import json

    report = json.loads((tmp_path / "report.json").read_text())
    names = {item["metadata"]["name"] for item in report["install"]}
    assert names == {"sargeo"}  # nothing else to fetch: the environment already satisfies it
