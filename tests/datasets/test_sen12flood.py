"""SEN12-FLOOD: one flooded / not-flooded label per Sentinel-1 image of each sequence, read from
the distributed layout (S1list.json + <filename>_corrected_{VV,VH}.tif), bad inputs named."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from sargeo.datasets.sen12flood import SEN12Flood, SEN12FloodError


def _raster(path: Path, value: float, size: int = 8) -> None:
    data = np.full((1, size, size), value, dtype=np.float32)
    data[0, 0, 0] = 0.0  # a zero: floored at 1e-6 before log10, as released
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=1,
                       dtype="float32", crs="EPSG:4326",
                       transform=from_origin(30.0, 10.0, 1e-4, 1e-4)) as dst:
        dst.write(data)


def make_sen12flood(root: Path) -> Path:
    """Two sequences as SEN12-FLOOD lays them out: linear VV 0.1, VH 0.01 (-10 / -20 dB)."""
    index = {}
    for seq, flags in (("0001", [False, True, True]), ("0002", [False, False])):
        (root / seq).mkdir(parents=True)
        entry = {"count": len(flags), "folder": seq, "geometry": {}}
        for k, flag in enumerate(flags):
            name = f"S1A_IW_GRDH_1SDV_2019010{k}T000000_{seq}"
            _raster(root / seq / f"{name}_corrected_VV.tif", 0.1)
            _raster(root / seq / f"{name}_corrected_VH.tif", 0.01)
            entry[str(k)] = {"filename": name, "FLOODING": flag, "date": f"2019-01-0{k + 1}",
                             "orbit": "ASCENDING"}
        index[seq] = entry
    (root / "S1list.json").write_text(json.dumps(index))
    return root


def test_one_sample_per_image_in_db_with_its_flooding_label(tmp_path):
    ds = SEN12Flood(make_sen12flood(tmp_path / "sen12"))
    assert len(ds) == 5 and ds.labels == [0, 1, 1, 0, 0]
    assert ds.sequences == ["0001"] * 3 + ["0002"] * 2
    sample = ds[1]
    assert sample["image"].shape == (2, 8, 8) and int(sample["label"]) == 1
    assert sample["sequence"] == "0001" and sample["date"] == "2019-01-02"
    np.testing.assert_allclose(sample["image"][:, 1, 1].numpy(), [-20.0, -10.0], atol=1e-5)
    np.testing.assert_allclose(sample["image"][:, 0, 0].numpy(), [-60.0, -60.0], atol=1e-4)
    assert len(SEN12Flood(tmp_path / "sen12", sequences=["0002"])) == 2


def test_bad_inputs_are_named(tmp_path):
    root = make_sen12flood(tmp_path / "sen12")
    with pytest.raises(FileNotFoundError, match="SEN12-FLOOD label file not found: "):
        SEN12Flood(tmp_path)
    with pytest.raises(SEN12FloodError, match=r"sequences \['9999'\] are not in"):
        SEN12Flood(root, sequences=["9999"])
    missing = root / "0002" / "S1A_IW_GRDH_1SDV_20190101T000000_0002_corrected_VH.tif"
    missing.unlink()
    with pytest.raises(SEN12FloodError, match=f"missing band file {missing}"):
        SEN12Flood(root)[4]
    index = json.loads((root / "S1list.json").read_text())
    index["0001"]["1"]["FLOODING"] = "yes"
    (root / "S1list.json").write_text(json.dumps(index))
    with pytest.raises(SEN12FloodError, match="sequence '0001' image 1: FLOODING must be true or "
                                              "false, got 'yes'"):
        SEN12Flood(root)
    del index["0001"]["1"]["filename"]
    (root / "S1list.json").write_text(json.dumps(index))
    with pytest.raises(SEN12FloodError, match="expected 'filename' and 'FLOODING'"):
        SEN12Flood(root)
    (root / "S1list.json").write_text("[1, 2")
    with pytest.raises(SEN12FloodError, match="S1list.json is not valid JSON"):
        SEN12Flood(root)
    (root / "S1list.json").write_text("[1, 2]")
    with pytest.raises(SEN12FloodError, match="must map sequence ids to objects"):
        SEN12Flood(root)
    with pytest.raises(ValueError, match="units must be 'linear' or 'db', got 'amplitude'"):
        SEN12Flood(root, units="amplitude")
