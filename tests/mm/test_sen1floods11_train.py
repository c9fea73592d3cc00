"""Done when: `sargeo mm train` of the Sentinel-1 water config on Sen1Floods11 as distributed
(the shared real chips, their raster labels) runs a few iterations and validates with mIoU.
The encoder is shrunk to ViT-Tiny on the command line (--cfg-options) to fit a CPU."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mmseg")

CONFIG = (Path(__file__).resolve().parents[2] / "configs" / "mmseg"
          / "sarmae_vit-b16_upernet_s1-water_sen1floods11.py")
TINY = ["model.backbone.arch=tiny", "model.backbone.pretrained=None",
        "model.backbone.drop_path_rate=0.0", "model.neck.in_channels=192",
        "model.decode_head.in_channels=[192,192,192,192]", "model.decode_head.channels=32",
        "model.auxiliary_head.in_channels=192", "model.auxiliary_head.channels=32"]


@pytest.mark.slow
def test_sargeo_mm_train_runs_and_validates_on_sen1floods11_chips(shared_data, tmp_path):
    root = shared_data / "sen1floods11"
    if not (root / "S1").is_dir():
        pytest.skip(f"Sen1Floods11 chips not found at {root}")
    loaders = []
    for loader, batch in (("train_dataloader", 2), ("val_dataloader", 8)):
        loaders += [f"{loader}.dataset.data_root={root}/", f"{loader}.batch_size={batch}",
                    f"{loader}.num_workers=0", f"{loader}.persistent_workers=False"]
    work = tmp_path / "work"
    command = [sys.executable, "-m", "sargeo", "mm", "train", str(CONFIG), "--max-iters", "4",
               "--work-dir", str(work), "--cfg-options", *loaders, *TINY,
               "default_hooks.logger.interval=1"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    logs = "\n".join(p.read_text() for p in work.rglob("*.log"))
    assert "Iter(train) [4/4]" in logs, logs[-3000:]
    # validation over the grid of every chip (4 tiles of 256 px each, batches of 8), scored
    done = re.search(r"Iter\(val\) \[(\d+)/\1\] .*mIoU: (\d+\.\d+)", logs)
    assert done and int(done.group(1)) >= 5, logs[-3000:]
    assert 0.0 < float(done.group(2)) <= 100.0
    assert f"mIoU: {done.group(2)}" in output
    assert (work / "iter_4.pth").is_file()
