"""The ``sargeo`` console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sargeo
from sargeo.cli import main


def test_version_and_help_from_the_installed_script():
    exe = str(Path(sys.executable).parent / "sargeo")  # the script installed in this venv
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"sargeo {sargeo.__version__}"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True)
    assert "usage: sargeo" in out.stdout and "env" in out.stdout


def test_env_reports_the_stack_and_compiled_ops(capsys):
    assert main(["env"]) == 0
    text = capsys.readouterr().out
    assert "torchgeo" in text and "mmcv" in text
    assert "compiled (mmcv._ext loads)" in text


def test_import_sargeo_stays_light():
    code = ("import sys, sargeo, sargeo.cli; "
            "heavy = [m for m in ('mmdet', 'mmseg', 'mmrotate', 'lightning', 'torchgeo') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
