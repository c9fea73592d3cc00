"""Part 3 of ``benchmarks.perf_inference``: peak memory of ``predict_scene`` in a fresh
interpreter per scene (``VmHWM``), with the CFAR baseline predictor.

    python -m benchmarks.perf_inference_memory SPEC_JSON   (the child; prints one JSON line)
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
THREADS = 2


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return -1


def memory_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs in the fresh subprocess: ``predict_scene`` with the CFAR baseline; peak RSS."""
    import torch

    torch.set_num_threads(THREADS)
    import geopandas  # noqa: F401  (the writer imports it lazily: count it in the baseline)
    import rasterio

    from sargeo.inference import predict_scene
    from sargeo.inference.predictor import CFARShipDetector

    predictor = CFARShipDetector(tile_size=spec["tile"], overlap=spec["overlap"])
    rss_before = _status_kb("VmRSS")
    t0 = time.perf_counter()
    res = predict_scene(spec["scene"], predictor, spec["out"], tile=spec["tile"],
                        overlap=spec["overlap"], batch_size=spec["batch_size"], overwrite=True,
                        progress=False)
    seconds = time.perf_counter() - t0
    with rasterio.Env():
        cachemax = rasterio.env.get_gdal_config("GDAL_CACHEMAX")
    return {"scene": spec["scene"], "seconds": seconds, "n_windows": res.n_windows,
            "tiles": res.n_predicted, "n_objects": res.n_objects,
            "rss_before_predict_mb": rss_before / 1024,
            # VmHWM belongs to this process image; ru_maxrss survives exec, so it would report
            # the parent's RSS (a loaded ViT-B) when that is larger
            "peak_rss_mb": _status_kb("VmHWM") / 1024,
            "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "gdal_cachemax_config": cachemax}


def measure_memory(path: Path, out: Path, *, tile: int, overlap: int, batch_size: int,
                   gdal_cachemax_mb: int | None) -> dict[str, Any]:
    """Peak RSS of one ``predict_scene`` in a fresh interpreter (``GDAL_CACHEMAX`` set to
    ``gdal_cachemax_mb``, or GDAL's default when None)."""
    env = dict(os.environ)
    env.pop("GDAL_CACHEMAX", None)
    if gdal_cachemax_mb is not None:
        env["GDAL_CACHEMAX"] = str(gdal_cachemax_mb)  # GDAL reads small values as MB
    spec = {"scene": str(path), "out": str(out), "tile": tile, "overlap": overlap,
            "batch_size": batch_size}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.perf_inference_memory",
                           json.dumps(spec)], cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"memory run failed for {path}:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["gdal_cachemax_env"] = env.get("GDAL_CACHEMAX", "unset (GDAL default: 5% of RAM)")
    return result


if __name__ == "__main__":
    print(json.dumps(memory_child(json.loads(sys.argv[1]))), flush=True)
