"""The SAR-W-MixMAE table: hooked into benchmarks.reproduce, simulated labels from the
simulator's truth, the direction check, a tiny end-to-end run."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import table_mixmae
from benchmarks.table_mixmae import MIXMAE, RANDOM, SARW, SimulatedChips, direction, requested


def test_reproduce_hands_the_mixmae_table_to_its_module(tmp_path, monkeypatch):
    from benchmarks import reproduce

    assert requested(["--table", "mixmae", "--data-root", "x"])
    assert requested(["--data-root", "x", "--table=mixmae"])
    assert not requested(["--table", "1", "--data-root", "mixmae"])
    seen = []
    monkeypatch.setattr(table_mixmae, "main", lambda argv: seen.append(argv) or 0)
    assert reproduce.main(["--table", "mixmae", "--data-root", str(tmp_path)]) == 0
    assert seen == [["--table", "mixmae", "--data-root", str(tmp_path)]]


@pytest.mark.slow  # imports torchgeo (about 15 s alone on a loaded 2-core CPU)
def test_full_budget_without_checkpoints_says_why_not(tmp_path):
    assert table_mixmae.main(["--table", "mixmae", "--data-root", str(tmp_path), "--budget",
                              "full", "--out-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "table_mixmae.json").read_text())
    reason = result["cells"][0]["not_run"]
    assert f"no BigEarthNet-S1 under {tmp_path}" in reason and "--baseline-checkpoint" in reason
    assert "not run: " in (tmp_path / "table_mixmae.md").read_text()


def test_direction_reports_the_order_and_the_spread():
    def cell(r: float, m: float, s: float, std: float = 0.5) -> dict:
        return {k: {"map_macro": {"mean": v, "std": std}} for k, v in
                ((RANDOM, r), (MIXMAE, m), (SARW, s))}

    assert direction(cell(50, 52, 55)) == {"metric": "map_macro", "holds": True,
                                           "sar_w_minus_mixmae": 3.0,
                                           "mixmae_minus_random": 2.0, "largest_std": 0.5}
    assert not direction(cell(50, 55, 52))["holds"]


def test_simulated_chip_labels_come_from_the_simulators_truth(tmp_path):
    from sargeo.datasets.simulate import simulate_scene

    scene = simulate_scene(tmp_path / "s.tif", width=512, height=512, seed=5, n_ships=6,
                           progress=False)
    chips = SimulatedChips(scene, 5, 64, 0.02)
    assert len(chips) == 64
    labels = torch.stack(chips.labels)
    assert int(labels[:, 3].sum()) >= 1  # a chip with a ship centre
    assert bool((labels[:, :3].sum(1) >= 1).all())  # every chip is sea, land or lake
    # a chip labelled sea and not land is dark (sea VH about -27 dB), a land-only one bright
    sea = [i for i in range(64) if labels[i, 0] and not labels[i, 1]]
    land = [i for i in range(64) if labels[i, 1] and not labels[i, 0] and not labels[i, 2]]
    assert sea and land
    vh = torch.stack([chips[i]["image"][0].median() for i in range(64)])
    assert float(vh[sea].max()) < -20 < float(vh[land].min())


@pytest.mark.slow
def test_small_budget_runs_end_to_end(shared_data, tmp_path):
    assert table_mixmae.main(["--table", "mixmae", "--data-root", str(shared_data),
                              "--pretrain-steps", "3", "--epochs", "1", "--seeds", "1",
                              "--scene-px", "512", "--out-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "table_mixmae.json").read_text())
    simulated, real = result["cells"]
    assert set(simulated["measured"]) == {RANDOM, MIXMAE, SARW}
    assert simulated["data"]["chips"] == 64 and "holds" in simulated["direction"]
    assert real["comparable"] is False and "no accuracy claim" in real["note"]
    assert result["pretraining"][SARW]["steps"] == 3
    text = (tmp_path / "table_mixmae.md").read_text()
    assert "| simulated S1 multi-label (sea, land, lake, ship) | SAR-W-MixMAE |" in text
