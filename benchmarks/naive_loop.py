"""The scene-inference loop users write with torchgeo today, the baseline of part 2 of
``benchmarks.perf_inference``: ``Sentinel1GRD`` + ``GridGeoSampler`` +
``DataLoader(batch_size=1)``, one predictor call per tile, boxes moved to map coordinates tile by
tile, one NMS over the scene, a GeoPackage. Batches go through sargeo's ``collate_geo``: on
torchgeo >= 0.9 ``stack_samples`` cannot batch ``Sentinel1GRD`` samples (they keep ``bands``,
``crs`` and the exact ``query`` beside the tensors)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def naive_torchgeo(path: Path, predictor: Any, out: Path, *, tile: int, overlap: int,
                   score_thr: float, nms_iou: float) -> dict[str, Any]:
    """What users write today: torchgeo grid sampling, one tile per model call, boxes moved to
    map coordinates tile by tile, NMS over the scene, a GeoPackage. Timed stage by stage."""
    import geopandas as gpd
    import numpy as np
    import shapely
    import torch
    from torch.utils.data import DataLoader
    from torchgeo.samplers import GridGeoSampler
    from torchvision.ops import batched_nms

    from sargeo.datasets.collate import collate_geo
    from sargeo.datasets.sentinel1 import Sentinel1GRD
    from sargeo.geo import bounds_slices

    c0, t_start = time.process_time(), time.perf_counter()
    ds = Sentinel1GRD(path, bands=("VV", "VH"))  # linear power, NaN where invalid
    sampler = GridGeoSampler(ds, size=tile, stride=tile - overlap)
    loader = DataLoader(ds, sampler=sampler, batch_size=1, collate_fn=collate_geo,
                        num_workers=0)
    res_x, res_y = ds.res
    read_s = predict_s = convert_s = 0.0
    boxes, scores, labels = [], [], []
    n = 0
    t = time.perf_counter()
    setup_s = t - t_start
    for sample in loader:
        image = sample["image"]
        valid = torch.isfinite(image).all(1)
        image = torch.nan_to_num(image, nan=0.0)
        t1 = time.perf_counter()
        read_s += t1 - t
        with torch.inference_mode():
            r = predictor(image, valid)[0]
        t2 = time.perf_counter()
        predict_s += t2 - t1
        # the tile's map position: the exact query where the dataset keeps it (torchgeo >= 0.9
        # bounds are float32 tensors), else torchgeo's bounds
        xs, ys, _ = bounds_slices(sample["query"][0] if "query" in sample
                                  else sample["bounds"][0])
        b = np.asarray(r["boxes"], np.float64).reshape(-1, 4)
        s = np.asarray(r["scores"], np.float64)
        keep = s >= score_thr
        b, s = b[keep], s[keep]
        # tile pixels -> map: x grows with columns, y falls with rows from the tile's top
        boxes.append(np.stack([xs.start + b[:, 0] * res_x, ys.stop - b[:, 3] * res_y,
                               xs.start + b[:, 2] * res_x, ys.stop - b[:, 1] * res_y], 1))
        scores.append(s)
        labels.append(np.asarray(r["labels"], np.int64)[keep])
        n += 1
        t = time.perf_counter()
        convert_s += t - t2
    t3 = time.perf_counter()
    boxes_a, scores_a = np.concatenate(boxes), np.concatenate(scores)
    labels_a = np.concatenate(labels)
    keep = batched_nms(torch.from_numpy(boxes_a), torch.from_numpy(scores_a),
                       torch.from_numpy(labels_a), nms_iou).numpy()
    frame = gpd.GeoDataFrame(
        {"score": scores_a[keep], "class_name": [predictor.classes[i] for i in labels_a[keep]]},
        geometry=shapely.box(*boxes_a[keep].T), crs=ds.crs)
    out.mkdir(parents=True, exist_ok=True)
    gpkg = out / f"{path.stem}_naive.gpkg"
    gpkg.unlink(missing_ok=True)
    frame.to_file(gpkg, layer="detections", driver="GPKG", engine="pyogrio")
    t_end = time.perf_counter()
    seconds = t_end - t_start
    return {"seconds": seconds, "cpu_seconds": time.process_time() - c0, "tiles": n,
            "tiles_per_s": n / seconds,
            "n_objects": len(frame), "setup_seconds": setup_s,
            "read_seconds": read_s, "predictor_seconds": predict_s,
            "to_map_seconds": convert_s, "nms_write_seconds": t_end - t3}
