"""Fixtures for the inference engine tests: small rasters written with rasterio, simulated
scenes, and predictor wrappers that count calls or fail on purpose."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from affine import Affine

CRS = "EPSG:32631"
ORIGIN = (500_000.0, 5_800_000.0)


def write_raster(path: Path, data: np.ndarray, *, crs: str | None = CRS,
                 transform: Affine | None = None, nodata: float | None = 0.0,
                 dtype: str = "float32", tiled: bool = True,
                 units: str | None = "sigma0-linear", descriptions: tuple[str, ...] = (),
                 tags: dict[str, str] | None = None) -> Path:
    """A GeoTIFF of ``data`` (C, H, W) or (H, W) on a 10 m grid at ORIGIN (unless given),
    stating its ``units`` in the ``SARGEO_UNITS`` tag (None: not stated), with band
    ``descriptions`` and more ``tags``."""
    import rasterio

    data = np.asarray(data)
    if data.ndim == 2:
        data = data[None]
    c, h, w = data.shape
    profile = dict(driver="GTiff", width=w, height=h, count=c, dtype=dtype, nodata=nodata)
    if crs is not None:
        profile["crs"] = crs
    if transform is not False:
        profile["transform"] = transform or (Affine.translation(*ORIGIN)
                                             * Affine.scale(10.0, -10.0))
    if tiled:
        profile.update(tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    with rasterio.open(path, "w", **profile) as dst:
        if units is not None:  # metadata first: the directory stays at the start of the file
            dst.update_tags(SARGEO_UNITS=units)
        dst.update_tags(**(tags or {}))
        for i, d in enumerate(descriptions, start=1):
            dst.set_band_description(i, d)
        dst.write(data.astype(dtype))
    return path


def speckle(shape: tuple[int, ...], mean: float = 0.01, looks: float = 4.0,
            seed: int = 0) -> np.ndarray:
    """Gamma speckle of the given mean (linear power)."""
    rng = np.random.default_rng(seed)
    return (mean * rng.gamma(looks, 1 / looks, size=shape)).astype(np.float32)


class Wrapped:
    """A predictor around another: counts windows, and raises after ``fail_after`` calls
    (a simulated crash). Its public attributes do not depend on ``fail_after``, so a resumed
    run sees the same predictor."""

    def __init__(self, inner: Any, fail_after: int | None = None) -> None:
        self.inner = inner
        self.task, self.classes = inner.task, inner.classes
        self.in_channels, self.tile_size = inner.in_channels, inner.tile_size
        self.overlap = getattr(inner, "overlap", None)
        self._fail_after, self._calls = fail_after, 0
        self.windows_seen = 0

    def prepare(self, info: Any) -> None:
        if hasattr(self.inner, "prepare"):
            self.inner.prepare(info)

    def __call__(self, images, valid):
        self._calls += 1
        if self._fail_after is not None and self._calls > self._fail_after:
            raise RuntimeError("simulated crash")
        self.windows_seen += len(images)
        return self.inner(images, valid)


@pytest.fixture(scope="session")
def sim_scene(tmp_path_factory):
    """A 1024 x 1024 simulated scene with ships (and its truth GeoPackage)."""
    from sargeo.datasets.simulate import simulate_scene

    d = tmp_path_factory.mktemp("sim")
    return simulate_scene(d / "sim.tif", d / "truth.gpkg", width=1024, height=1024, seed=3)
