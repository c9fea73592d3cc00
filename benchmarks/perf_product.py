"""Calibrated sigma0 read from a Sentinel-1 SAFE .zip vs the same pixels from a GeoTIFF of
sigma0, in Mpx/s, in one run; and xarray-sentinel side by side with sargeo's own SAFE parser.

    python -m benchmarks.perf_product [--scale 4] [--window 512] [--windows 0] [--rounds 5]

1. **Throughput.** A product is built from the first shared product's real metadata
   (``../shared/data/s1_safe_annotations``, reduced by ``--scale``: every s-th line and pixel,
   see ``tests/datasets/safe_factory.py``) with speckled DN, laid out as ESA distributes it:
   uncompressed uint16 TIFFs in row-ordered strips, DEFLATE members of ``NAME.zip``. Its
   calibrated, denoised sigma0 (VV, VH) is written once by the reader into float32 GeoTIFFs
   (512 px tiles; DEFLATE, and uncompressed). Then the same windows (``--window`` px, row-major
   grid ``grid`` as the inference engine walks a scene, and ``random``) are read by each
   configuration; each round opens the files afresh (GDAL's block cache empties with its
   dataset; the OS file cache stays warm for all), configurations alternate, the order rotating,
   and each keeps its median. Goal: the SAFE zip >= 0.8x the DEFLATE GeoTIFF on the grid, one
   thread each; beside it both on two threads (``parallel=True``; ``GDAL_NUM_THREADS=2``).
2. **xarray-sentinel** (B-Open), where importable (it is not a sargeo dependency; install it
   beside, e.g. ``pip install --target DIR xarray-sentinel`` and ``PYTHONPATH=DIR``): on a
   full-size product (scale 1: it accepts whole-number line/pixel only) with varied DN, the
   same windows' sigma0 (no noise removal: it has none) from both readers, their agreement,
   speed and open time, and whether it can open the zip and the noise vectors.

Writes ``benchmarks/results/perf_product.json`` (the command, the machine, every configuration,
each failure with its error text).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import traceback
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "perf_product.json"
GOAL = 0.8
CONFIGS = {
    "safe_zip": "Sentinel1Product(NAME.zip).read(window): sigma0, noise removed, VV+VH (the "
                "XML parsed once, outside the timing: open_seconds)",
    "safe_folder": "the same product unzipped (NAME.SAFE folder), same read",
    "safe_zip_dn": "the zip, raw DN only (quantity='dn'): the cost of reading without "
                   "calibration",
    "geotiff_deflate": "rasterio read of a 2-band float32 sigma0 GeoTIFF, 512 px tiles, DEFLATE",
    "geotiff_raw": "the same GeoTIFF uncompressed",
    "safe_zip_parallel": "the zip read with Sentinel1Product(parallel=True): one thread per "
                         "polarisation",
    "geotiff_deflate_threads": "the DEFLATE GeoTIFF read with GDAL_NUM_THREADS=2 (GDAL "
                               "decompresses its tiles on 2 threads)",
}
#: (SAFE configuration, GeoTIFF configuration) compared for the goal: like with like
PAIRS = {"single_thread": ("safe_zip", "geotiff_deflate"),
         "two_threads": ("safe_zip_parallel", "geotiff_deflate_threads")}


def speckle_dn(seed: int = 0) -> Callable[[str, int, int, int], np.ndarray]:
    """4-look speckled amplitude DN (VV brighter than VH), as real sea/land DN compress."""
    def dn(pol: str, row: int, rows: int, width: int) -> np.ndarray:
        rng = np.random.default_rng([seed, row, len(pol), ord(pol[1])])
        mean = 150.0 if pol[0] == pol[1] else 60.0
        power = rng.standard_gamma(4.0, size=(rows, width), dtype=np.float32) / 4.0
        return np.clip(np.rint(np.sqrt(power) * mean), 1, 65535).astype(np.uint16)
    return dn


def pattern_dn(pol: str, row: int, rows: int, width: int) -> np.ndarray:
    """DN varied along each row, repeated over 64-row runs: a full-size product in few MB."""
    r = np.arange(row, row + rows)[:, None] // 64
    return (100 + (np.arange(width)[None, :] * 37 + r * 11) % 400).astype(np.uint16)


def make_product(work: Path, scale: int) -> tuple[Path, Path]:
    """The ESA-layout zip at ``scale`` and its unzipped folder (cached under ``work``)."""
    from tests.datasets.safe_factory import build_product, source_products

    sources = source_products()
    if not sources:
        raise FileNotFoundError("../shared/data/s1_safe_annotations not found: the benchmark "
                                "builds its product from that real metadata")
    out = work / f"scale{scale}"
    archive = out / f"{sources[0].name.removesuffix('.SAFE')}.zip"
    if not archive.is_file():
        out.mkdir(parents=True, exist_ok=True)
        build_product(sources[0], out, scale=scale, dn=speckle_dn())
    folder = out / "unzipped" / sources[0].name
    if not folder.is_dir():
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(out / "unzipped")
    return archive, folder


def make_geotiffs(archive: Path, work: Path) -> dict[str, Path]:
    """sigma0 (VV, VH) of the product as float32 GeoTIFFs, written by the reader in bands."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    from sargeo.datasets.safe import Sentinel1Product
    from sargeo.datasets.safe_geo import utm_crs

    paths = {"geotiff_deflate": work / "sigma0_deflate.tif",
             "geotiff_raw": work / "sigma0_raw.tif"}
    if all(p.is_file() for p in paths.values()):
        return paths
    with Sentinel1Product(archive) as product:
        # the product's own pixels under a nominal north-up grid: what is timed is the read
        spacing = product.annotations[product.polarisations[0]].range_spacing
        profile = dict(driver="GTiff", width=product.width, height=product.height, count=2,
                       dtype="float32", nodata=float("nan"),
                       crs=utm_crs(*product.georef.centre()),
                       transform=from_origin(500_000, 1_000_000, spacing, spacing),
                       tiled=True, blockxsize=512, blockysize=512)
        for name, extra in (("geotiff_deflate", {"compress": "deflate"}), ("geotiff_raw", {})):
            with rasterio.open(paths[name], "w", **profile, **extra) as dst:
                dst.descriptions = ("VV", "VH")
                for row in range(0, product.height, 512):
                    win = Window(0, row, product.width, min(512, product.height - row))
                    dst.write(product.read(win), window=win)
    return paths


def plan_windows(shape: tuple[int, int], size: int, count: int, pattern: str,
                 seed: int = 0) -> list:
    """``count`` windows (0: every whole one) of ``size`` px: row-major grid, or random."""
    from rasterio.windows import Window

    height, width = shape
    grid = [Window(c, r, size, size) for r in range(0, height - size + 1, size)
            for c in range(0, width - size + 1, size)]
    if pattern == "grid":
        return grid[:count] if count else grid
    rng = np.random.default_rng(seed)
    n = count or len(grid)
    return [Window(int(rng.integers(0, width - size + 1)), int(rng.integers(0, height - size + 1)),
                   size, size) for _ in range(n)]


class Reader:
    """One configuration: opened once (the SAFE XML parsed), then each :meth:`run` opens its
    rasters afresh (an empty GDAL block cache), reads every window, closes them, and returns
    the seconds it took."""

    def __init__(self, config: str, paths: dict[str, Path]) -> None:
        from sargeo.datasets.safe import Sentinel1Product

        self.config, self.path = config, paths.get(config.removesuffix("_threads"))
        self.product = None
        if config.startswith("safe"):
            start = time.perf_counter()
            self.product = Sentinel1Product(
                paths["safe_folder" if config == "safe_folder" else "safe_zip"],
                parallel=config == "safe_zip_parallel")
            self.open_seconds = time.perf_counter() - start
        self.quantity = "dn" if config == "safe_zip_dn" else "sigma0"

    def run(self, windows: list) -> float:
        import rasterio

        start = time.perf_counter()
        if self.product is not None:
            for win in windows:
                self.product.read(win, quantity=self.quantity)
            self.product.close()
        else:
            threads = 2 if self.config.endswith("_threads") else 1
            with rasterio.Env(GDAL_NUM_THREADS=threads), rasterio.open(self.path) as src:
                for win in windows:
                    src.read(window=win)
        return time.perf_counter() - start


def measure(paths: dict[str, Path], windows: dict[str, list], rounds: int,
            failures: list[dict]) -> list[dict]:
    rows = []
    for pattern, wins in windows.items():
        runs = {name: Reader(name, paths) for name in CONFIGS}
        times: dict[str, list[float]] = {name: [] for name in CONFIGS}
        for r in range(rounds):
            order = list(CONFIGS)[r % len(CONFIGS):] + list(CONFIGS)[:r % len(CONFIGS)]
            for name in order:
                if name in {f["config"] for f in failures}:
                    continue
                try:
                    times[name].append(runs[name].run(wins))
                except Exception as err:  # recorded, the others go on
                    failures.append({"config": name, "pattern": pattern,
                                     "error": f"{type(err).__name__}: {err}"})
        mpx = sum(int(w.width) * int(w.height) for w in wins) / 1e6
        for name, secs in times.items():
            if not secs:
                continue
            rates = [mpx / s for s in secs]
            rows.append(dict(config=name, pattern=pattern, windows=len(wins), megapixels=mpx,
                             mpx_per_s=statistics.median(rates), rounds=rates,
                             open_seconds=getattr(runs[name], "open_seconds", None)))
            print(f"{pattern:<7} {name:<16} {statistics.median(rates):8.1f} Mpx/s", flush=True)
    for row in rows:
        for base in ("geotiff_deflate", "geotiff_raw"):
            ref = next((r for r in rows if r["config"] == base
                        and r["pattern"] == row["pattern"]), None)
            if ref is not None:
                row[f"vs_{base}"] = row["mpx_per_s"] / ref["mpx_per_s"]
    return rows


def xarray_sentinel_check(work: Path, size: int, count: int) -> dict:
    """xarray-sentinel and sargeo on the same windows of a full-size product folder."""
    try:
        import xarray as xr
        import xarray_sentinel
    except ImportError as err:
        return {"available": False, "error": f"{type(err).__name__}: {err}"}
    from sargeo.datasets.safe import Sentinel1Product
    from tests.datasets.safe_factory import build_product, source_products

    out = work / "full"
    source = source_products()[0]
    folder, archive = out / source.name, out / f"{source.name.removesuffix('.SAFE')}.zip"
    options = dict(scale=1, dn=pattern_dn, tiff_options=dict(tiled=True, compress="deflate"))
    if not folder.is_dir():
        build_product(source, out, as_zip=False, **options)
    if not archive.is_file():
        build_product(source, out / "z", **options).rename(archive)
    result: dict = {"available": True, "version": xarray_sentinel.__version__,
                    "module": str(Path(xarray_sentinel.__file__).parent),
                    "product": f"{source.name} at full size (25,117 x 19,497 px), folder"}
    start = time.perf_counter()
    ds = xr.open_dataset(folder, engine="sentinel-1", group="IW/VV")
    cal = xr.open_dataset(folder, engine="sentinel-1", group="IW/VV/calibration")
    result["xs_open_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    product = Sentinel1Product(folder)
    result["sargeo_open_seconds"] = time.perf_counter() - start
    windows = plan_windows(product.shape, size, count + 1, "random", seed=1)
    worst, xs_s, own_s = 0.0, 0.0, 0.0
    for i, win in enumerate(windows):  # the first one warms both up, untimed
        if i == 1:
            xs_s = own_s = 0.0
        (r0, r1), (c0, c1) = win.toranges()
        start = time.perf_counter()
        theirs = xarray_sentinel.calibrate_intensity(ds.measurement[r0:r1, c0:c1],
                                                     cal.sigmaNought).values
        xs_s += time.perf_counter() - start
        start = time.perf_counter()
        ours = product.read(win, polarisations=["VV"], denoise=False)[0]
        own_s += time.perf_counter() - start
        valid = np.isfinite(ours)
        worst = max(worst, float(np.max(np.abs(theirs[valid] / ours[valid] - 1))))
    mpx = (len(windows) - 1) * size * size / 1e6
    result |= {"windows": len(windows) - 1, "window": size, "max_relative_difference": worst,
               "xs_mpx_per_s": mpx / xs_s, "sargeo_mpx_per_s": mpx / own_s}
    for label, group, target in (("zip", "IW/VV", f"zip://{source.name}::{archive}"),
                                 ("noise_range", "IW/VV/noise_range", folder),
                                 ("noise_azimuth", "IW/VV/noise_azimuth", folder)):
        try:
            opened = xr.open_dataset(target, engine="sentinel-1", group=group)
            if label == "zip":
                opened.measurement[:8, :8].load()
            result[label] = {"ok": True, "sizes": dict(opened.sizes)}
        except Exception as err:  # what a user of it would meet
            result[label] = {"ok": False, "error": f"{type(err).__name__}: {err}"[:400]}
    blocks = product.noises["VV"].azimuth
    result["noise_azimuth"]["product_blocks"] = len(blocks)
    result["noise_azimuth"]["product_lines"] = int(sum(b.lines.size for b in blocks))
    product.close()
    return result


def decide(xs: dict) -> str:
    """Which SAFE reader sargeo uses, from the side-by-side check."""
    if not xs.get("available") or "xs_mpx_per_s" not in xs:
        return ("sargeo's own parser (xarray-sentinel not measured here: "
                f"{xs.get('error') or xs.get('skipped')})")
    faults = []
    if not xs["zip"]["ok"]:
        faults.append("it cannot read the product's zip in place")
    if not xs["noise_range"]["ok"]:
        faults.append("it cannot open these products' range noise vectors (their pixel "
                      "lists differ in length)")
    azimuth = xs["noise_azimuth"]
    if azimuth["ok"] and azimuth["sizes"].get("line", 0) < azimuth["product_lines"]:
        faults.append(f"it keeps {azimuth['sizes'].get('line', 0)} of the "
                      f"{azimuth['product_lines']} azimuth noise lines (the first of "
                      f"{azimuth['product_blocks']} blocks) and removes no noise")
    speed = xs["sargeo_mpx_per_s"] / xs["xs_mpx_per_s"]
    if speed > 1:
        faults.append(f"it calibrates the same windows {speed:.0f}x slower and opens a "
                      f"product in {xs['xs_open_seconds']:.1f} s against "
                      f"{xs['sargeo_open_seconds']:.2f} s")
    agree = (f"sigma0 agrees to {xs['max_relative_difference']:.1e} relative, but "
             if xs["max_relative_difference"] < 1e-4 else
             f"sigma0 differs by up to {xs['max_relative_difference']:.1e} relative, and ")
    if not faults:
        return "xarray-sentinel would do: " + agree.removesuffix(", but ")
    return "sargeo's own parser, not xarray-sentinel: " + agree + "; ".join(faults)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=4, help="keep every s-th line and pixel")
    parser.add_argument("--window", type=int, default=512)
    parser.add_argument("--windows", type=int, default=0, help="per pattern; 0: the whole grid")
    parser.add_argument("--random-windows", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--xs-window", type=int, default=1024)
    parser.add_argument("--xs-windows", type=int, default=6)
    parser.add_argument("--skip-xarray-sentinel", action="store_true")
    parser.add_argument("--work", type=Path, default=Path("/tmp/sargeo_bench_product"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    import rasterio

    from sargeo.io import atomic_path

    failures: list[dict] = []
    started = time.perf_counter()
    archive, folder = make_product(args.work, args.scale)
    paths = {"safe_zip": archive, "safe_folder": folder,
             **make_geotiffs(archive, args.work / f"scale{args.scale}")}
    from sargeo.datasets.safe import Sentinel1Product

    with Sentinel1Product(archive) as product:
        shape, name = product.shape, product.name
    windows = {"grid": plan_windows(shape, args.window, args.windows, "grid"),
               "random": plan_windows(shape, args.window, args.random_windows, "random")}
    rows = measure(paths, windows, args.rounds, failures)
    if args.skip_xarray_sentinel:
        xs = {"skipped": "--skip-xarray-sentinel"}
    else:
        try:
            xs = xarray_sentinel_check(args.work, args.xs_window, args.xs_windows)
        except Exception as err:
            xs = {"available": True, "error": f"{type(err).__name__}: {err}"}
            failures.append({"config": "xarray_sentinel", "error": xs["error"],
                             "traceback": traceback.format_exc(limit=3)})
    grid = {r["config"]: r for r in rows if r["pattern"] == "grid"}
    ratios = {name: (grid[safe]["mpx_per_s"] / grid[tif]["mpx_per_s"]
                     if safe in grid and tif in grid else None)
              for name, (safe, tif) in PAIRS.items()}
    ratio = ratios["single_thread"]
    with zipfile.ZipFile(archive) as zf:
        members = [i for i in zf.infolist() if i.filename.endswith(".tiff")]
    result = {
        "command": "python -m benchmarks.perf_product " + " ".join(
            argv if argv is not None else sys.argv[1:]),
        "pythonpath": os.environ.get("PYTHONPATH", ""),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "gdal": rasterio.__gdal_version__,
                    "rasterio": rasterio.__version__, "load_avg_at_end": os.getloadavg()},
        "product": {"name": name, "scale": args.scale, "shape": list(shape),
                    "layout": "as ESA distributes it: uncompressed uint16 TIFFs in row-ordered "
                              "strips, DEFLATE zip members; DN 4-look speckle",
                    "zip_mb": archive.stat().st_size / 1e6,
                    "measurement_mb": sum(i.file_size for i in members) / 1e6},
        "window": args.window, "rounds": args.rounds,
        "timing": "each round opens the files afresh and reads every window; configurations "
                  "alternate, the order rotating; the median round counts",
        "configurations": CONFIGS, "rows": rows,
        "goal": {"safe_zip_vs_geotiff_deflate_grid": ratio, "target": GOAL,
                 "met": ratio is not None and ratio >= GOAL,
                 "two_threads_grid": ratios["two_threads"],
                 "pairs": {k: list(v) for k, v in PAIRS.items()}},
        "xarray_sentinel": xs,
        "decision": decide(xs),
        "failures": failures,
        "seconds": time.perf_counter() - started,
    }
    with atomic_path(args.out, overwrite=True) as tmp:
        tmp.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
