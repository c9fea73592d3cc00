"""sargeo's thread policy: counts parsed strictly, the policy in the environment before torch
loads, ``--threads`` / ``SARGEO_THREADS`` / ``sargeo.set_threads`` reaching torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import sargeo
from sargeo import threads

#: a subprocess that records the thread variables at the moment torch is first imported, runs
#: ``sargeo`` with the given arguments and prints what it saw and torch's thread counts
PROBE = """
import importlib.abc, json, os, sys
seen = {}
class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" and not seen:
            seen.update({k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS",
                                                        "KMP_BLOCKTIME")})
        return None
sys.meta_path.insert(0, Watch())
from sargeo.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
loaded = "torch" in sys.modules
import torch
print(json.dumps({"at_import": seen if loaded else None, "intra": torch.get_num_threads(),
                  "inter": torch.get_num_interop_threads(), "code": code}))
"""


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (
        "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "KMP_BLOCKTIME", "MKL_NUM_THREADS", threads.ENV)}
    return env | extra


def probe(*args: str, **env: str) -> tuple[dict, str]:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                         env=clean_env(**env), check=True)
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stdout


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", ""])
def test_thread_counts_other_than_whole_numbers_from_one_are_refused(value):
    with pytest.raises(ValueError, match=r"--threads must be a whole number of threads >= 1"):
        threads.parse_threads(value)
    assert threads.parse_threads(" 3 ") == 3


def test_a_bad_sargeo_threads_is_named(monkeypatch):
    monkeypatch.setenv(threads.ENV, "abc")
    with pytest.raises(ValueError, match="SARGEO_THREADS must be a whole number.*'abc'"):
        threads.env_threads()
    monkeypatch.setenv(threads.ENV, "")
    assert threads.env_threads() is None


@pytest.fixture
def restore_threads(monkeypatch):
    """Put torch's thread count and the thread variables back after the test."""
    import torch

    before = torch.get_num_threads()
    for key in (*threads.POLICY_ENV, *threads.COUNT_ENV, threads.ENV):
        monkeypatch.delenv(key, raising=False)
    yield
    torch.set_num_threads(before)


def test_set_threads_from_python_reaches_torch_and_child_processes(restore_threads):
    import torch

    assert sargeo.set_threads(1) == 1
    assert torch.get_num_threads() == 1
    assert os.environ["OMP_NUM_THREADS"] == os.environ[threads.ENV] == "1"
    with pytest.raises(ValueError, match="threads must be a whole number.*got 0"):
        sargeo.set_threads(0)


def test_configure_keeps_a_wait_policy_the_user_chose(restore_threads, monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert threads.configure() is None
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE" and os.environ["KMP_BLOCKTIME"] == "0"


@pytest.mark.slow
def test_policy_and_count_are_in_the_environment_before_torch_loads():
    seen, text = probe("env", "--threads", "1")
    assert seen["code"] == 0
    assert seen["at_import"] == {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1",
                                 "KMP_BLOCKTIME": "0"}
    assert seen["intra"] == 1 and seen["inter"] == 1
    assert "torch threads   1 intra-op, 1 inter-op on OpenMP (GNU libgomp, bundled)" in text
    # without --threads: the wait policy only, and torch's default count; SARGEO_THREADS
    seen, _ = probe("env")
    assert seen["at_import"]["OMP_WAIT_POLICY"] == "PASSIVE"
    assert seen["at_import"]["OMP_NUM_THREADS"] is None
    assert seen["intra"] == len(os.sched_getaffinity(0))
    seen, _ = probe("env", SARGEO_THREADS="1")
    assert seen["at_import"]["OMP_NUM_THREADS"] == "1" and seen["intra"] == 1


@pytest.mark.slow
def test_pretrain_takes_threads_before_lightning_loads_torch():
    seen, text = probe("pretrain", "--threads", "1", "--help")
    assert seen["code"] == 0
    assert seen["at_import"]["OMP_WAIT_POLICY"] == "PASSIVE"
    assert seen["at_import"]["OMP_NUM_THREADS"] == "1" and seen["intra"] == 1
    assert "--threads" in text and "--out" in text
    seen, _ = probe("pretrain", "--threads=0", "--help")
    assert seen["code"] == 2 and seen["at_import"] is None  # refused before torch loads


def test_building_the_command_line_loads_no_torch():
    code = ("import sys; from sargeo.cli import build_parser; build_parser(); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
