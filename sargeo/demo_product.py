"""``sargeo demo --product``: the demo's test scene run as a Sentinel-1 GRD product.

The demo's simulated test scene (linear sigma0, VV/VH) is written into a product laid out as a
real one (:func:`sargeo.datasets.safe_simulate.build_product` from its metadata: by default the
first product of ``../shared/data/s1_safe_annotations``): full resolution (10 m), its first
``height x width`` lines and samples (the scene's size), its geolocation grid and calibration
and noise vectors kept, DN computed from the scene's sigma0 through the product's own vectors,
zipped as ESA distributes it. Scene pixel ``(row, col)`` becomes product line ``row``, sample
``col``. The true ships become lon/lat points through the product's geolocation grid
(``NAME_truth.gpkg``, layer ``ships``, EPSG:4326). Then ``sargeo infer`` runs over the zip
(calibration, tiling, detections in the product's UTM zone) and ``sargeo evaluate`` scores the
detections against the points (matched within 200 m).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

#: where the demo looks for real product metadata (the repository's ../shared/data)
SHARED_PRODUCTS = Path(__file__).resolve().parents[2] / "shared" / "data" / \
    "s1_safe_annotations"


def default_source() -> Path:
    """The first SAFE folder of :data:`SHARED_PRODUCTS`."""
    found = sorted(SHARED_PRODUCTS.glob("*.SAFE")) if SHARED_PRODUCTS.is_dir() else []
    if not found:
        raise FileNotFoundError(f"no Sentinel-1 product metadata (NAME.SAFE folders) in "
                                f"{SHARED_PRODUCTS}; pass --product PATH/NAME.SAFE (a product's "
                                "folder; its annotation XML is enough)")
    return found[0]


def scene_to_product(scene_tif: Path, truth: Path, source: Path, out_dir: Path
                     ) -> tuple[Path, Path]:
    """Write the scene into a product zip under ``out_dir`` and its ships as lon/lat points;
    returns ``(zip, truth GeoPackage)``."""
    import geopandas as gpd
    import rasterio

    from sargeo.datasets.safe import Sentinel1Product
    from sargeo.datasets.safe_simulate import build_product

    with rasterio.open(scene_tif) as src:
        height, width, transform = src.height, src.width, src.transform
        bands = {d.upper(): i for i, d in enumerate(src.descriptions, 1) if d}
        if not {"VV", "VH"} <= set(bands):
            raise ValueError(f"{scene_tif}: needs bands described VV and VH, has "
                             f"{src.descriptions}")

    def sigma0(pol: str, row: int, rows: int, cols: int) -> np.ndarray:
        with rasterio.open(scene_tif) as src:
            block = src.read(bands[pol], window=((row, row + rows), (0, cols)),
                             out_dtype="float32")
        block[block <= 0] = np.nan  # the scene's nodata (0)
        return block

    out_dir.mkdir(parents=True, exist_ok=True)
    archive = build_product(source, out_dir, scale=1, crop=(height, width), sigma0=sigma0)
    ships = gpd.read_file(truth, layer="ships")
    centre = ships.geometry.centroid
    cols, rows = ~transform * (centre.x.to_numpy(), centre.y.to_numpy())
    with Sentinel1Product(archive) as product:  # pixel centres are whole numbers there
        lon, lat = product.pixel_to_lonlat(np.asarray(rows) - 0.5, np.asarray(cols) - 0.5)
    points = gpd.GeoDataFrame(ships.drop(columns="geometry"),
                              geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    truth_out = out_dir / f"{archive.stem}_truth.gpkg"
    fd, tmp = tempfile.mkstemp(prefix=f".{truth_out.name}.", suffix=".gpkg", dir=out_dir)
    os.close(fd)
    Path(tmp).unlink()
    points.to_file(tmp, layer="ships", driver="GPKG", engine="pyogrio")
    os.chmod(tmp, 0o644)
    Path(tmp).replace(truth_out)
    return archive, truth_out


def run_product(predictor: Any, scene_tif: Path, truth: Path, out: Path, *,
                source: Path | None = None, score_thr: float = 0.4,
                max_distance_m: float = 200.0, preview: Path | None = None,
                progress: bool = True) -> dict[str, Any]:
    """Simulate the product (:func:`scene_to_product`, under ``out/product``), run
    ``predictor`` over its zip and score it; returns the scores with ``product``,
    ``detections``, ``truth`` paths and ``result`` (the :class:`InferenceResult`)."""
    from sargeo.evaluation import evaluate
    from sargeo.inference import predict_scene

    archive, points = scene_to_product(scene_tif, truth, source or default_source(),
                                       out / "product")
    detections = out / "results" / f"{archive.stem}.gpkg"
    result = predict_scene(archive, predictor, detections, score_thr=score_thr,
                           overwrite=True, preview=preview, progress=progress)
    score = evaluate(detections, points, out / "evaluation_product.json", truth_layer="ships",
                     max_distance_m=max_distance_m)
    return dict(score, product=archive, detections=detections, truth=points, result=result)


def run_demo_product(args: Any, test_tif: Path, test_truth: Path, config: Path,
                     checkpoint: Path, start: float) -> int:
    """Stages 4-5 of ``sargeo demo --product [SAFE]`` (``args.product``: a SAFE folder, or
    True for :func:`default_source`)."""
    import time

    import torch

    from sargeo.inference.mm_predictor import load_predictor

    source = default_source() if args.product is True else Path(args.product)
    print(f"[4/5] the test scene as a Sentinel-1 GRD product laid out as {source.name} (DN "
          "through its calibration vectors, zipped), then tiled inference over the zip "
          "(sargeo infer: calibrated sigma0, detections in the product's UTM zone)")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    predictor = load_predictor(config, checkpoint, precision=args.precision)
    out = args.out / "product_demo"
    score = run_product(predictor, test_tif, test_truth, out, source=source,
                        score_thr=args.score_thr, preview=out / "detections.png",
                        progress=not args.quiet)
    result = score["result"]
    print(f"      {result.n_windows} tiles, {result.n_objects} ships, {result.seconds:.1f} s")
    print("[5/5] scoring the detections against the true ships (lon/lat points)")
    print(f"\nsargeo demo --product done in {time.monotonic() - start:.0f} s")
    print(f"  product (SAFE zip):                {score['product']}")
    print(f"  ships found (GeoPackage, UTM):     {score['detections']}")
    print(f"  true ships (lon/lat points):       {score['truth']}")
    print(f"  F1 {score['f1'] or 0:.2f}, precision {score['precision'] or 0:.2f}, recall "
          f"{score['recall'] or 0:.2f} ({score['tp']} of {score['n_truth']} true ships, "
          f"{score['n_pred']} detections, matched within 200 m; median distance "
          f"{score['median_distance_m'] or 0:.0f} m)")
    print(f"  rerun the inference yourself: sargeo infer {score['product']} --config {config} "
          f"--checkpoint {checkpoint} --out {out / 'results'} --overwrite")
    return 0
