"""The installer refuses bad machines early and never trusts a half-finished install."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("bootstrap", ROOT / "tools" / "bootstrap.py")
bootstrap = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bootstrap)


def test_wrong_python_is_refused_with_the_version_named():
    with pytest.raises(bootstrap.SetupError, match=r"Python 3\.12 is required.*3\.11\.7"):
        bootstrap.check_python((3, 11, 7))
    bootstrap.check_python((3, 12, 1))


def test_missing_compiler_is_refused(tmp_path):
    with pytest.raises(bootstrap.SetupError, match="no working C\\+\\+ compiler.*nosuch-g\\+\\+"):
        bootstrap.find_compiler({"CXX": "nosuch-g++", "PATH": str(tmp_path)})


def test_broken_compiler_is_refused(tmp_path):
    fake = tmp_path / "g++"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(bootstrap.SetupError, match="no working C\\+\\+ compiler"):
        bootstrap.find_compiler({"PATH": str(tmp_path)})


def test_low_disk_is_refused_with_path_and_sizes(tmp_path):
    with pytest.raises(bootstrap.SetupError, match=rf"GiB free at {tmp_path}.*needs 1000000"):
        bootstrap.check_disk(tmp_path / "not" / "yet", 1e6)
    bootstrap.check_disk(tmp_path, 0.001)


def test_installer_exits_early_on_python_other_than_312(tmp_path):
    """The real entry point, run by an interpreter that reports another version."""
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\nexec {sys.executable} -c '"
                    "import sys, runpy; sys.version_info = (3, 11, 7, \"final\", 0); "
                    f"sys.argv = [\"bootstrap\", \"--check-only\"]; "
                    f"runpy.run_path(\"{ROOT}/tools/bootstrap.py\", run_name=\"__main__\")'\n")
    fake.chmod(0o755)
    proc = subprocess.run([str(fake)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Python 3.12 is required" in proc.stderr and "3.11.7" in proc.stderr


def test_corrupt_or_opless_wheels_are_rejected(tmp_path):
    corrupt = tmp_path / "mmcv-2.1.0-cp311-cp311-linux_x86_64.whl"
    corrupt.write_bytes(b"not a zip")
    with pytest.raises(bootstrap.SetupError, match="unreadable"):
        bootstrap.check_mmcv_wheel(corrupt)
    lite = tmp_path / "lite.whl"
    with zipfile.ZipFile(lite, "w") as zf:
        zf.writestr("mmcv/__init__.py", "")
    with pytest.raises(bootstrap.SetupError, match="no compiled ops"):
        bootstrap.check_mmcv_wheel(lite)
    good = tmp_path / "good.whl"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("mmcv/_ext.cpython-311-x86_64-linux-gnu.so", b"\x7fELF")
    bootstrap.check_mmcv_wheel(good)


def test_failed_mmcv_build_leaves_nothing_in_the_cache(tmp_path):
    fake_python = tmp_path / "bin" / "python"
    fake_python.parent.mkdir()
    fake_python.write_text("#!/bin/sh\necho '[1/77] compiling'\necho 'error: boom'\nexit 1\n")
    fake_python.chmod(0o755)
    folder = tmp_path / "cache" / "wheels" / "mmcv-2.1.0_torch-x_cp311"
    with pytest.raises(bootstrap.SetupError, match="building mmcv failed.*build.log"):
        bootstrap.build_mmcv_wheel(fake_python, folder, "g++", tmp_path / "build.log")
    assert not folder.exists()
    assert list(folder.parent.iterdir()) == []  # no half-built temporary folder either
    assert "error: boom" in (tmp_path / "build.log").read_text()
    assert bootstrap.cached_mmcv_wheel(folder) is None


def test_failed_install_leaves_the_venv_untrusted(tmp_path, monkeypatch):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    (venv / bootstrap.STAMP_NAME).write_text("an old stamp")
    wheel_dir = tmp_path / "cache"
    monkeypatch.setenv("SARGEO_CACHE", str(wheel_dir))
    monkeypatch.setattr(bootstrap, "check_disk", lambda *a: None)
    monkeypatch.setattr(bootstrap, "find_compiler", lambda *a: "g++")

    def failing_run(cmd, **kw):
        raise subprocess.CalledProcessError(1, cmd)

    monkeypatch.setattr(bootstrap, "run", failing_run)
    assert bootstrap.main(["--venv", str(venv), "--force"]) == 2
    assert not (venv / bootstrap.STAMP_NAME).exists()
    assert not bootstrap.is_up_to_date(venv)


def test_stamp_tracks_the_lock_file(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    assert not bootstrap.is_up_to_date(venv)
    (venv / bootstrap.STAMP_NAME).write_text(bootstrap.stamp_digest())
    assert bootstrap.is_up_to_date(venv)
    (venv / bootstrap.STAMP_NAME).write_text("digest of another lock file")
    assert not bootstrap.is_up_to_date(venv)
