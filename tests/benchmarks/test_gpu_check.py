"""The GPU check runs end to end on the CPU at toy sizes (``--device cpu --smoke``) and records
every check in its JSON; asked for a GPU where none is visible it stops with a clear message."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import gpu_check

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], env: dict[str, str] | None = None,
         timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})


def test_cuda_without_a_visible_gpu_stops_with_a_message(tmp_path):
    out = tmp_path / "gpu_check.json"
    proc = _run(["--device", "cuda", "--out", str(out)], env={"CUDA_VISIBLE_DEVICES": ""},
                timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("gpu_check: --device cuda: no CUDA GPU is visible to torch ")
    assert "check the CPU path with --device cpu --smoke" in proc.stderr
    assert not out.exists()


def test_require_device_accepts_the_cpu():
    assert gpu_check.require_device("cpu") is None


@pytest.mark.slow
def test_cpu_smoke_run_records_every_check(tmp_path):
    out = tmp_path / "gpu_check.json"
    proc = _run(["--device", "cpu", "--smoke", "--work", str(tmp_path / "work"), "--out",
                 str(out)])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["ok"] is True and result["smoke"] is True and result["device"] == "cpu"
    checks = {c["name"]: c for c in result["checks"]}
    assert list(checks) == list(gpu_check.CHECKS)
    for c in checks.values():
        assert c["ok"] is True and c["error"] is None and c["seconds"] > 0
    pre = checks["pretrain_ddp_bf16"]["numbers"]
    assert pre["strategy"] == "DDPStrategy" and pre["world_size"] == 1
    assert (pre["precision"], pre["gradient_clip_val"]) == ("bf16-mixed", 1.0)
    assert pre["sare"] and pre["sarc"] and pre["teacher_mode"] == "released"
    assert len(pre["losses"]) == pre["steps"] == 2 and all(map(math.isfinite, pre["losses"]))
    rows = checks["perf_pretrain"]["numbers"]["details"]["rows"]
    assert [r["config"] for r in rows] == ["sargeo-bf16"]
    assert all(r["ok"] and r["sare_ms"] > 0 for r in rows)
    inf = checks["perf_inference"]["numbers"]
    assert inf["engine_vs_forward"] > 0 and inf["engine_vs_naive"] > 0
    assert inf["details"]["device"] == "cpu"
    for name in gpu_check.MM_TASKS:
        step = checks[name]["numbers"]
        assert step["config"] == gpu_check.MM_TASKS[name][0]
        assert math.isfinite(step["loss"]) and step["weights_updated"] > 0
        assert step["model_device"] == "cpu"
    assert "| pretrain_ddp_bf16 | yes |" in proc.stdout
