"""The pretraining benchmark keeps every configuration in its JSON (failed ones with their
error), times SARE inside sargeo's step with the released loss settings, and reports each
pair's ratios both ways."""

from __future__ import annotations

import json

import pytest

from benchmarks import perf_pretrain as perf

TOY = ["--size", "tiny", "--img-size", "32", "--decoder", "32", "1", "2", "--batch", "2",
       "--iters", "1", "--warmup", "0", "--threads", "1"]


def test_rows_cover_the_sdpa_reference_and_every_pair_names_real_rows():
    assert perf.CONFIGS["reference-sdpa"] == perf.Config("reference", fused=True)
    assert perf.CONFIGS["reference"].fused is False and perf.CONFIGS["sargeo"].fused is True
    for _, ours, ref in perf.PAIRS:
        a, b = perf.CONFIGS[ours], perf.CONFIGS[ref]
        assert (a.impl, b.impl) == ("sargeo", "reference")
    # like for like: the first three pairs share the kernel and the precision
    for _, ours, ref in perf.PAIRS[:3]:
        a, b = perf.CONFIGS[ours], perf.CONFIGS[ref]
        assert (a.fused, a.autocast) == (b.fused, b.autocast)


@pytest.mark.slow
def test_json_keeps_every_row_failed_ones_with_their_error(tmp_path):
    out = tmp_path / "perf.json"
    no_checkout = tmp_path / "no_mae"
    rc = perf.main([*TOY, "--reference", str(no_checkout), "--out", str(out), "--configs",
                    "sargeo", "reference", "reference-sdpa"])
    assert rc == 1  # a row failed
    result = json.loads(out.read_text())
    rows = {r["config"]: r for r in result["rows"]}
    assert list(rows) == ["sargeo", "reference", "reference-sdpa"]
    ours = rows["sargeo"]
    assert ours["ok"] is True and "error" not in ours
    assert ours["samples_per_s"] > 0 and ours["loss"] > 0
    assert 0 < ours["sare_ms"] < ours["step_ms"]  # SARE runs inside the timed step
    assert ours["autocast_active"] is False and len(ours["rounds"]) == 1
    expected = "FileNotFoundError: " + perf.NO_REFERENCE.format(folder=no_checkout)
    for name in ("reference", "reference-sdpa"):
        assert rows[name]["ok"] is False and rows[name]["error"] == expected
        assert "samples_per_s" not in rows[name]
    assert rows["reference-sdpa"]["fused"] is True and rows["reference"]["fused"] is False
    pairs = {p["reference"]: p for p in result["pairs"]}
    assert pairs["reference-sdpa"]["not_compared"] == "reference-sdpa failed"
    assert "norm_pix_loss off on both sides" in result["loss"]
    assert result["command"].startswith("python -m benchmarks.perf_pretrain --size tiny")


@pytest.mark.slow
def test_an_impossible_device_is_recorded_with_its_error(tmp_path):
    out = tmp_path / "perf.json"
    assert perf.main([*TOY, "--device", "tpu", "--out", str(out), "--configs", "sargeo"]) == 1
    (row,) = json.loads(out.read_text())["rows"]
    assert row["config"] == "sargeo" and row["ok"] is False
    assert row["error"].startswith("RuntimeError: Expected one of cpu, cuda")
    assert row["error"].endswith("device type at start of device string: tpu")


def test_sargeo_step_uses_the_released_loss_and_times_sare():
    module = perf._sargeo_module(perf.CONFIGS["sargeo-unfused"], "tiny", 32, (32, 1, 2))
    assert module.model.norm_pix_loss is False
    assert module.noise is not None and module.noise.mode == "released"
    fused = [m.fused_attn for m in module.model.modules() if hasattr(m, "fused_attn")]
    assert fused and not any(fused)


def _row(name: str, samples: float, mem: float, ok: bool = True) -> dict:
    row = {"config": name, "ok": ok}
    if ok:
        row.update(samples_per_s=samples, peak_mem_mb=mem)
    else:
        row["error"] = "RuntimeError: out of memory"
    return row


def test_pair_ratios_are_given_both_ways():
    rows = [_row("reference", 2.0, 400.0), _row("sargeo-unfused", 3.0, 300.0),
            _row("reference-sdpa", 4.0, 200.0), _row("sargeo", 1.0, 100.0, ok=False)]
    got = {p["reference"]: p for p in perf.pair_ratios(rows)}
    assert set(got) == {"reference", "reference-sdpa"}  # the pairs both of whose rows ran
    explicit = got["reference"]
    assert explicit["throughput_sargeo_over_reference"] == pytest.approx(1.5)
    assert explicit["throughput_reference_over_sargeo"] == pytest.approx(2 / 3)
    assert explicit["memory_sargeo_over_reference"] == pytest.approx(0.75)
    assert explicit["memory_reference_over_sargeo"] == pytest.approx(4 / 3)
    assert got["reference-sdpa"]["not_compared"] == "sargeo failed"
    assert "throughput_sargeo_over_reference" not in got["reference-sdpa"]


def test_a_row_keeps_its_fastest_round_or_its_first_failure():
    runs = [{"config": "sargeo", "ok": True, "step_ms": 30.0, "wall_seconds": 2.0},
            {"config": "sargeo", "ok": True, "step_ms": 20.0, "wall_seconds": 3.0}]
    row = perf.best_of_rounds("sargeo", runs)
    assert row["step_ms"] == 20.0 and row["wall_seconds"] == 5.0
    assert row["rounds"] == [{"step_ms": 30.0}, {"step_ms": 20.0}]
    runs.append({"config": "sargeo", "ok": False, "error": "RuntimeError: boom",
                 "wall_seconds": 1.0})
    row = perf.best_of_rounds("sargeo", runs)
    assert row["ok"] is False and row["error"] == "RuntimeError: boom"
    assert row["rounds"][-1] == {"error": "RuntimeError: boom"}
