"""SceneChips on Sentinel-1 SAFE products: chips of calibrated sigma0 read window by window,
and a few steps of the tiny CPU pretraining recipe on a product zip."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sargeo.cli import main
from sargeo.datasets.sentinel1 import Sentinel1GRD
from sargeo.pretrain.scenes import SceneChips
from tests.datasets.safe_factory import build_product, source_products

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "pretrain"


@pytest.fixture(scope="module")
def product_zip(tmp_path_factory) -> Path:
    """A product from the first shared product's metadata, every 16th pixel, 300 x 400 px."""
    sources = source_products()
    if not sources:
        pytest.skip("real Sentinel-1 product metadata not found in ../shared/data")
    return build_product(sources[0], tmp_path_factory.mktemp("product"), crop=(300, 400))


def test_scene_chips_from_a_product_are_its_calibrated_sigma0(product_zip):
    chips = SceneChips([product_zip], size=32, length=8, seed=0, in_chans=2)
    assert chips.num_sar_bands == 2 and chips.scenes.bands == ("VV", "VH")
    reference = Sentinel1GRD(product_zip, bands=("VV", "VH"))
    for i in range(len(chips)):
        sample = chips[i]
        power = reference[chips.queries[i]]["image"]
        assert sample["image"].shape == (2, 32, 32)
        assert torch.equal(sample["power"], torch.nan_to_num(power, nan=0.0))
        assert 0.0 <= float(sample["image"].min()) and float(sample["image"].max()) <= 1.0
    again = SceneChips(product_zip.parent, size=32, length=8, seed=0, in_chans=2)
    assert again.queries == chips.queries  # a folder holding the zip finds it too


@pytest.mark.slow
def test_the_tiny_cpu_recipe_pretrains_on_a_product_zip(product_zip, tmp_path):
    out = tmp_path / "run"
    argv = ["pretrain", "--config", str(CONFIGS / "sarmae_tiny_cpu.yaml"),
            "--data.scenes", f"[{product_zip}]", "--data.scene_chips", "48",
            "--trainer.max_steps", "3", "--out", str(out),
            "--trainer.enable_progress_bar", "false", "--trainer.log_every_n_steps", "1"]
    assert main(argv) == 0
    assert (out / "checkpoints" / "last.ckpt").is_file()
    losses = [line.split(",") for line in next(out.rglob("metrics.csv")).read_text()
              .splitlines()]
    column = losses[0].index("train/loss_mae")
    values = [float(row[column]) for row in losses[1:] if row[column]]
    assert len(values) == 3 and all(v == v and v > 0 for v in values)  # finite, per step
