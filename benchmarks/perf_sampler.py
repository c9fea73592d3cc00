"""Samples per second of ``Sentinel1GRD`` against torchgeo's own ``RasterDataset`` on the same
Cloud-Optimized GeoTIFF, with random and grid sampling, in one run.

    python -m benchmarks.perf_sampler [--size 10000] [--chip 256] [--samples 200] [--rounds 5]

The scene is simulated once (cached under ``--work``), then written as a COG (internal tiles,
overviews). Each (dataset, sampler) pair reads the same chip windows; a first pass warms the
file cache, then the datasets alternate over ``--rounds`` timed passes and each keeps its
median.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "perf_sampler.json"


def make_cog(work: Path, size: int) -> Path:
    import rasterio
    from rasterio.shutil import copy as rio_copy

    from sargeo.datasets.simulate import simulate_scene

    cog = work / f"scene_{size}_cog.tif"
    if cog.is_file():
        return cog
    work.mkdir(parents=True, exist_ok=True)
    raw = work / f"scene_{size}.tif"
    if not raw.is_file():
        simulate_scene(raw, width=size, height=size, seed=0, n_ships=50, progress=True)
    with rasterio.open(raw) as src:
        rio_copy(src, cog, driver="COG", compress="DEFLATE", predictor=3, blocksize=512,
                 overview_resampling="average")
    raw.unlink()
    return cog


def time_pass(ds, queries) -> float:
    start = time.perf_counter()
    for q in queries:
        ds[q]
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--chip", type=int, default=256)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5, help="alternating timed rounds")
    parser.add_argument("--work", type=Path, default=Path("/tmp/sargeo_bench"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    import torch
    from torchgeo.datasets import RasterDataset
    from torchgeo.samplers import GridGeoSampler

    from sargeo.datasets.sentinel1 import Sentinel1GRD
    from sargeo.pretrain.scenes import random_chip_queries

    cog = make_cog(args.work, args.size)

    class PlainRaster(RasterDataset):
        filename_glob = cog.name

    datasets = {"torchgeo RasterDataset": PlainRaster(paths=str(cog.parent)),
                "sargeo Sentinel1GRD": Sentinel1GRD(cog, bands=["VV", "VH"])}
    reference = datasets["torchgeo RasterDataset"]
    grid = list(GridGeoSampler(reference, size=args.chip, stride=args.chip))[:args.samples]
    random = random_chip_queries(reference, args.chip, args.samples, seed=0)
    rows = []
    torch.set_num_threads(1)
    for sampler_name, queries in (("random", random), ("grid", grid)):
        for ds in datasets.values():
            time_pass(ds, queries[:20])  # open handles, warm the file cache
        # alternate the datasets over several rounds and keep each one's median, so that load
        # from other processes falls on both alike
        timings: dict[str, list[float]] = {name: [] for name in datasets}
        for _ in range(args.rounds):
            for name, ds in datasets.items():
                timings[name].append(len(queries) / time_pass(ds, queries))
        for name, rates in timings.items():
            rate = statistics.median(rates)
            rows.append(dict(dataset=name, sampler=sampler_name, samples=len(queries),
                             samples_per_s=rate, rounds=rates))
            print(f"{sampler_name:<7} {name:<24} {rate:8.1f} samples/s (median of "
                  f"{args.rounds})", flush=True)
    for row in rows:
        base = next(r for r in rows if r["sampler"] == row["sampler"]
                    and r["dataset"] == "torchgeo RasterDataset")
        row["vs_torchgeo"] = row["samples_per_s"] / base["samples_per_s"]
    result = dict(command="python -m benchmarks.perf_sampler " + " ".join(
        argv if argv is not None else sys.argv[1:]), scene=f"{args.size} x {args.size} px, "
        "2 bands float32 COG (DEFLATE, 512 px tiles, overviews)", chip=args.chip, rows=rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
