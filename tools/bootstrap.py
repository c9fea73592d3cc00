"""Create or refresh sargeo's virtual environment in ``.venv/`` (standard library only).

``make test`` and ``make demo`` call this first. It

1. checks the machine: Python 3.12, a working C++ compiler (only when mmcv must be built)
   and enough free disk;
2. installs torch/torchvision from the pins in ``requirements/lock.txt``;
3. builds mmcv 2.1.0 with its compiled ops once per machine and caches the wheel in
   ``$SARGEO_CACHE`` (default ``~/.cache/sargeo``), keyed by mmcv, torch and Python versions;
4. installs everything else from the lock file and ``sargeo`` itself (editable);
5. writes a stamp holding the digest of the lock file, ``pyproject.toml`` and this script.

A run whose stamp matches does nothing. The stamp is removed before any change and written
only after an import check succeeds, so an interrupted or failed run is never trusted by the
next one, and a wheel reaches the cache only once it is complete.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK_FILE = ROOT / "requirements" / "lock.txt"
CXX_WRAPPER = ROOT / "tools" / "cxx20.sh"
REQUIRED_PYTHON = (3, 12)
MMCV_VERSION = "2.1.0"
STAMP_NAME = ".sargeo-stamp"
#: free space (GiB) needed beside the venv: torch's CUDA build and its libraries take ~5.5 GiB.
NEED_GIB_VENV = 9.0
#: extra space (GiB) needed while compiling mmcv.
NEED_GIB_BUILD = 2.0
#: modules that must import for the environment to count as installed.
SMOKE_IMPORTS = (
    "torch, torchvision, timm, torchgeo.datasets, rasterio, geopandas, shapely, lightning, "
    "mmcv.ops, mmdet.models, mmseg.models, mmrotate.models, sargeo, onnxruntime, openvino, nncf"
)


class SetupError(RuntimeError):
    """A precondition of the install is not met; the message says what to do."""


def log(msg: str) -> None:
    print(f"[sargeo setup] {msg}", flush=True)


def check_python(version_info: tuple[int, ...] = tuple(sys.version_info)) -> None:
    """Refuse any interpreter other than CPython 3.12 (torchgeo 0.10 and the pins need it)."""
    if tuple(version_info[:2]) != REQUIRED_PYTHON:
        have = ".".join(str(v) for v in version_info[:3])
        raise SetupError(
            f"Python {REQUIRED_PYTHON[0]}.{REQUIRED_PYTHON[1]} is required, but this is Python "
            f"{have} ({sys.executable}). Run with PYTHON=/path/to/python3.12 make test."
        )


def find_compiler(env: dict[str, str] | None = None) -> str:
    """Return a working C++ compiler (``$CXX``, else ``g++``/``c++`` on PATH) or raise."""
    env = dict(os.environ if env is None else env)
    candidates = [env["CXX"]] if env.get("CXX") else ["g++", "c++"]
    for name in candidates:
        path = shutil.which(name, path=env.get("PATH"))
        if path is None:
            continue
        try:
            subprocess.run([path, "--version"], check=True, capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        return path
    raise SetupError(
        f"no working C++ compiler found (tried {', '.join(candidates)}); mmcv's compiled ops "
        "must be built once. Install one (Debian: apt-get install g++) or set CXX."
    )


def free_gib(path: Path) -> float:
    """Free space in GiB on the file system holding ``path`` (or its nearest existing parent)."""
    path = Path(path)
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free / 2**30


def check_disk(path: Path, need_gib: float) -> None:
    """Raise when less than ``need_gib`` GiB are free where ``path`` lives."""
    have = free_gib(path)
    if have < need_gib:
        raise SetupError(
            f"only {have:.1f} GiB free at {path}, the install needs {need_gib:.1f} GiB. "
            "Free some space or point SARGEO_CACHE / the venv elsewhere."
        )


def cache_dir() -> Path:
    return Path(os.environ.get("SARGEO_CACHE", Path.home() / ".cache" / "sargeo"))


def locked_version(package: str, lock_file: Path = LOCK_FILE) -> str:
    """Version pinned for ``package`` in the lock file."""
    pattern = re.compile(rf"^{re.escape(package)}==([^\s;#]+)", re.IGNORECASE | re.MULTILINE)
    match = pattern.search(lock_file.read_text())
    if match is None:
        raise SetupError(f"{lock_file} pins no version of {package}")
    return match.group(1)


def mmcv_wheel_dir(cache: Path, torch_version: str, python_tag: str) -> Path:
    """Cache folder of the mmcv wheel built for this torch and Python."""
    return cache / "wheels" / f"mmcv-{MMCV_VERSION}_torch-{torch_version}_{python_tag}"


def cached_mmcv_wheel(folder: Path) -> Path | None:
    """The complete wheel in ``folder``, if any (partial builds never land there)."""
    wheels = sorted(folder.glob(f"mmcv-{MMCV_VERSION}-*.whl")) if folder.is_dir() else []
    return wheels[0] if wheels else None


def check_mmcv_wheel(wheel: Path) -> None:
    """Raise unless ``wheel`` is a readable zip that carries the compiled ``mmcv/_ext``."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = zf.namelist()
            bad = zf.testzip()
    except (OSError, zipfile.BadZipFile) as err:
        raise SetupError(f"mmcv wheel {wheel} is unreadable: {err}") from err
    if bad is not None:
        raise SetupError(f"mmcv wheel {wheel} is corrupt (member {bad})")
    if not any(re.match(r"mmcv/_ext.*\.so$", n) for n in names):
        raise SetupError(f"mmcv wheel {wheel} has no compiled ops (mmcv/_ext*.so)")


def run(cmd: list[str], **kw) -> None:
    log("$ " + " ".join(str(c) for c in cmd))
    subprocess.run(cmd, check=True, **kw)


def build_mmcv_wheel(python: Path, folder: Path, cxx: str, log_file: Path) -> Path:
    """Compile mmcv with ops into a temporary folder, check it, then move it into ``folder``.

    Progress lines of the form ``[12/77]`` are echoed every 10 compiled sources.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        MMCV_WITH_OPS="1",
        FORCE_CUDA="0",
        MAX_JOBS=env.get("MAX_JOBS", str(os.cpu_count() or 2)),
        CXX=str(CXX_WRAPPER),
        SARGEO_REAL_CXX=cxx,
        PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}",
    )
    cmd = [str(python), "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-v",
           "--no-binary", "mmcv", f"mmcv=={MMCV_VERSION}"]
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".build-") as tmp:
        log(f"building mmcv {MMCV_VERSION} with compiled ops (about 15 min on 2 cores); "
            f"log: {log_file}")
        start = time.monotonic()
        last = -10
        with open(log_file, "w") as out:
            proc = subprocess.Popen(cmd + ["-w", tmp], env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                step = re.search(r"\[(\d+)/(\d+)\]", line)
                if step and int(step.group(1)) >= last + 10:
                    last = int(step.group(1))
                    log(f"  mmcv ops compiled {step.group(1)}/{step.group(2)} "
                        f"({time.monotonic() - start:.0f} s)")
            code = proc.wait()
        if code != 0:
            raise SetupError(f"building mmcv failed (exit {code}); see {log_file}")
        built = cached_mmcv_wheel(Path(tmp))
        if built is None:
            raise SetupError(f"building mmcv produced no wheel; see {log_file}")
        check_mmcv_wheel(built)
        staged = Path(tmp) / "staged"
        staged.mkdir()
        shutil.move(str(built), staged / built.name)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staged, folder)  # atomic: the cache holds a whole wheel or none
    log(f"mmcv wheel cached in {folder} ({time.monotonic() - start:.0f} s)")
    wheel = cached_mmcv_wheel(folder)
    assert wheel is not None
    return wheel


def stamp_digest() -> str:
    """Digest of everything that decides what the venv holds."""
    h = hashlib.sha256()
    for path in (LOCK_FILE, ROOT / "pyproject.toml", Path(__file__)):
        h.update(path.read_bytes())
    return h.hexdigest()


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def is_up_to_date(venv: Path) -> bool:
    stamp = venv / STAMP_NAME
    return venv_python(venv).exists() and stamp.exists() and stamp.read_text() == stamp_digest()


def install(venv: Path) -> None:
    """Bring ``venv`` to the locked set; see the module docstring for the steps."""
    cache = cache_dir()
    torch_version = locked_version("torch")
    py_tag = f"cp{REQUIRED_PYTHON[0]}{REQUIRED_PYTHON[1]}"
    wheel_folder = mmcv_wheel_dir(cache, torch_version, py_tag)
    wheel = cached_mmcv_wheel(wheel_folder)
    cxx = None if wheel else find_compiler()
    check_disk(venv.parent, NEED_GIB_VENV + (0 if wheel else NEED_GIB_BUILD))

    (venv / STAMP_NAME).unlink(missing_ok=True)
    if not venv_python(venv).exists():
        run([sys.executable, "-m", "venv", str(venv)])
    py = venv_python(venv)
    pip = [str(py), "-m", "pip", "--disable-pip-version-check", "install",
           "--progress-bar", "off", "-q"]
    lock = ["-c", str(LOCK_FILE)]
    run(pip + lock + ["torch", "torchvision", "setuptools", "wheel", "ninja"])
    if wheel is None:
        assert cxx is not None
        cache.mkdir(parents=True, exist_ok=True)
        wheel = build_mmcv_wheel(py, wheel_folder, cxx, cache / "mmcv-build.log")
    check_mmcv_wheel(wheel)
    run(pip + lock + [str(wheel), "-e", f"{ROOT}[mm,dev,runtimes]"])
    run([str(py), "-c", f"import {SMOKE_IMPORTS}"])
    (venv / STAMP_NAME).write_text(stamp_digest())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv")
    parser.add_argument("--check-only", action="store_true",
                        help="only check Python, compiler and disk, install nothing")
    parser.add_argument("--force", action="store_true", help="reinstall even if up to date")
    args = parser.parse_args(argv)
    start = time.monotonic()
    try:
        check_python()
        if args.check_only:
            find_compiler()
            check_disk(args.venv.parent, NEED_GIB_VENV + NEED_GIB_BUILD)
            log("machine checks passed")
            return 0
        if not args.force and is_up_to_date(args.venv):
            log(f"{args.venv} is up to date")
            return 0
        install(args.venv)
    except SetupError as err:
        print(f"[sargeo setup] error: {err}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as err:
        print(f"[sargeo setup] error: command failed (exit {err.returncode}): "
              f"{' '.join(map(str, err.cmd))}\n  {args.venv} is not marked as installed; "
              "fix the cause and run again.", file=sys.stderr)
        return 2
    log(f"environment ready in {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
