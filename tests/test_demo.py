"""`sargeo demo`: the embedded default job (simulate, pretrain, train a detector from a scene and
its GeoPackage, tiled inference, scoring) runs end to end and caches its work."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("mmcv.ops")

from sargeo.cli import main  # noqa: E402

#: half the default budget on smaller scenes (about 2 minutes on 2 cores)
SMALL = ["--size", "1024", "--test-size", "1024", "--steps", "50", "--det-iters", "600",
         "--quiet"]


@pytest.mark.slow
def test_demo_runs_end_to_end_learns_and_caches(tmp_path, capsys):
    import geopandas as gpd
    import rasterio

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), *SMALL]) == 0
    text = capsys.readouterr().out
    assert "[4/5] tiled inference" in text and "precision" in text
    for name in ("train_scene.tif", "test_truth.gpkg", "sarmae_vit_tiny_demo.pth",
                 "ship_detector.py", "ship_detector.pth", "results/test_scene.gpkg",
                 "detections.png", "reconstructions.png", "evaluation.json", "evaluation.md",
                 "evaluation.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "detections.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with rasterio.open(out / "test_scene.tif") as src:
        assert gpd.read_file(out / "results/test_scene.gpkg").crs == src.crs
    scores = json.loads((out / "evaluation.json").read_text())
    assert scores["n_truth"] == len(gpd.read_file(out / "test_truth.gpkg", layer="ships"))
    assert "F1" in text and "matched within 200 m" in text
    # the detector it trains finds the ships (measured: precision 0.83, recall 0.83 of 29)
    assert scores["precision"] >= 0.6 and scores["recall"] >= 0.6, scores
    detector = (out / "ship_detector.pth").stat().st_mtime_ns
    assert main(["demo", "--out", str(out), *SMALL]) == 0
    text = capsys.readouterr().out
    assert "pretrained weights cached" in text and "detector cached" in text
    assert "inference cached" in text
    assert (out / "ship_detector.pth").stat().st_mtime_ns == detector
    # bfloat16 inference reruns only the inference, and finds the ships as well
    assert main(["demo", "--out", str(out), *SMALL, "--precision", "bf16"]) == 0
    text = capsys.readouterr().out
    assert "detector cached" in text and "[4/5] tiled inference" in text and "bf16" in text
    bf16 = json.loads((out / "evaluation.json").read_text())
    assert bf16["precision"] >= 0.6 and bf16["recall"] >= 0.6, bf16
    # --product: the test scene as a Sentinel-1 product zip (measured: 25 of 29, 14 m median)
    assert main(["demo", "--out", str(out), *SMALL, "--product"]) == 0
    assert "detector cached" in capsys.readouterr().out
    product = json.loads((out / "product_demo" / "evaluation_product.json").read_text())
    assert product["precision"] >= 0.6 and product["recall"] >= 0.6, product
    assert product["median_distance_m"] <= 20.0, product
    # a user's own detector replaces pretraining and training
    own = tmp_path / "own"
    assert main(["demo", "--out", str(own), *SMALL, "--config", str(out / "ship_detector.py"),
                 "--checkpoint", str(out / "ship_detector.pth")]) == 0
    assert "using your detector" in capsys.readouterr().out
    assert not (own / "sarmae_vit_tiny_demo.pth").exists()
