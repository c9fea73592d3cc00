"""Quick-look PNG of an inference result: the scene in dB, grey, with the detections outlined
or the class mask overlaid.

The scene is read decimated (rasterio ``out_shape``, averaged in linear power), never at full
resolution, so a preview of a 25,000 px scene costs a read of about ``max_size``^2 pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sargeo.errors import error_text
from sargeo.inference.merge import NODATA_CLASS, Detections
from sargeo.inference.reader import DAMAGED_HINT, SceneError, SceneInfo
from sargeo.io import atomic_path


def preview_shape(height: int, width: int, max_size: int = 1024) -> tuple[tuple[int, int], float]:
    """Shape of the decimated read (longest side at most ``max_size``) and the factor."""
    scale = max(1.0, max(height, width) / max_size)
    return (max(1, math.ceil(height / scale)), max(1, math.ceil(width / scale))), scale


class MaskDecimator:
    """Nearest-neighbour decimation of a class mask that arrives as row strips, to the preview
    shape: memory of the preview, not of the scene."""

    def __init__(self, height: int, width: int, max_size: int = 1024) -> None:
        (h, w), _ = preview_shape(height, width, max_size)
        self._rows = np.minimum(((np.arange(h) + 0.5) * height / h).astype(np.int64), height - 1)
        self._cols = np.minimum(((np.arange(w) + 0.5) * width / w).astype(np.int64), width - 1)
        self._out = np.full((h, w), NODATA_CLASS, np.uint8)

    def feed(self, row0: int, strip: np.ndarray) -> None:
        """Rows ``[row0, row0 + len(strip))`` of the full-resolution mask."""
        strip = np.asarray(strip).reshape(-1, strip.shape[-1])
        pick = np.flatnonzero((self._rows >= row0) & (self._rows < row0 + len(strip)))
        if len(pick):
            self._out[pick] = strip[self._rows[pick] - row0][:, self._cols]

    def result(self) -> np.ndarray:
        return self._out


def scene_db(info: SceneInfo, max_size: int = 1024) -> tuple[np.ndarray, float]:
    """First band read decimated, in dB (NaN at nodata), and the decimation factor."""
    from rasterio.enums import Resampling

    resampling = Resampling.average if info.units != "db" else Resampling.bilinear
    shape, scale = preview_shape(info.height, info.width, max_size)
    try:
        with info.open() as src:  # a rasterio dataset, or a SAFE product's reader
            data = src.read(info.bands[0], out_shape=shape, resampling=resampling, masked=True)
    except Exception as err:  # rasterio chains GDAL's message: error_text shows it
        raise SceneError(f"{info.path}: cannot read the scene for the preview "
                         f"({error_text(err)}); {DAMAGED_HINT}") from err
    values = np.ma.filled(data.astype(np.float64), np.nan)
    values[~np.isfinite(values)] = np.nan
    if info.units == "linear":
        values = 10 * np.log10(np.where(values > 0, values, np.nan))
    elif info.units == "amplitude":
        values = 20 * np.log10(np.where(values > 0, values, np.nan))
    return values, scale


def render_preview(info: SceneInfo, path: str | Path, *, classes: Sequence[str],
                   detections: Detections | None = None, mask: np.ndarray | None = None,
                   max_size: int = 1024, overwrite: bool = False) -> Path:
    """Write the quick-look PNG atomically: detections (scene pixels) as outlines, or a class
    mask already decimated to the preview shape (:class:`MaskDecimator`) as a translucent
    overlay."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    db, scale = scene_db(info, max_size)
    finite = db[np.isfinite(db)]
    lo, hi = np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0)
    h, w = db.shape
    fig = plt.figure(figsize=(w / 100 + 0.2, h / 100 + 0.6), dpi=100)
    ax = fig.add_axes((0.01, 0.01, 0.98, 0.98 - 0.5 / (h / 100 + 0.6)))
    ax.imshow(np.ma.masked_invalid(db), cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
    ax.set_axis_off()
    title = info.path.name
    palette = [plt.get_cmap("tab10")(i % 10) for i in range(max(1, len(classes)))]
    if detections is not None:
        if len(detections):
            polys = detections.corners() / scale - 0.5  # pixel corners -> imshow coordinates
            colours = [palette[i % len(palette)] for i in detections.labels]
            ax.add_collection(PolyCollection(list(polys), closed=True, facecolors="none",
                                             edgecolors=colours, linewidths=1.0))
        title += f": {len(detections)} detection(s)"
    if mask is not None:
        if mask.shape != db.shape:
            raise ValueError(f"mask shape {mask.shape} is not the preview shape {db.shape}")
        mask = np.ma.masked_equal(mask, NODATA_CLASS)
        ax.imshow(mask, cmap=ListedColormap(palette[:len(classes)]), vmin=-0.5,
                  vmax=len(classes) - 0.5, alpha=0.45, interpolation="nearest")
        ax.legend(handles=[Patch(color=palette[i], label=c) for i, c in enumerate(classes)],
                  loc="lower right", fontsize=7, framealpha=0.7)
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    fig.suptitle(title, fontsize=9)
    with atomic_path(path, overwrite=overwrite) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)
