"""`sargeo demo`: the embedded default job runs end to end and caches its work."""

from __future__ import annotations

import pytest
import torch

from sargeo.cli import main
from sargeo.models.vit import create_vit, load_encoder_weights


@pytest.mark.slow
def test_demo_runs_learns_exports_and_caches(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--steps", "60", "--size", "512", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "timm ViT reproduces the encoder: True" in text
    first, last = (float(v) for v in text.split("loss: ")[1].split(" (first")[0:1] +
                   [text.split("-> ")[1].split(" (last")[0]])
    assert last < first
    for name in ("scene.tif", "scene_truth.gpkg", "sarmae_vit_tiny_demo.pth",
                 "reconstructions.png", "loss.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "reconstructions.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    vit = create_vit("tiny", img_size=64)
    load_encoder_weights(vit, out / "sarmae_vit_tiny_demo.pth")
    weights_before = (out / "sarmae_vit_tiny_demo.pth").stat().st_mtime_ns
    assert main(["demo", "--out", str(out), "--steps", "60", "--size", "512", "--quiet"]) == 0
    assert "pretrained weights cached" in capsys.readouterr().out
    assert (out / "sarmae_vit_tiny_demo.pth").stat().st_mtime_ns == weights_before
    assert torch.isfinite(vit.pos_embed).all()
