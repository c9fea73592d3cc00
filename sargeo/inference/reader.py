"""Scene validation and a prefetching windowed reader.

:func:`open_scene` checks once, before any compute, that a scene can be used: it opens, it has a
CRS and a geotransform (a raw Sentinel-1 GRD measurement TIFF carries only GCPs: pass the SAFE
product it belongs to, :mod:`sargeo.inference.product_source`), and it has the band count the
predictor expects. It also says what the values are (their units, from the file's metadata or
``--units``, never guessed) and which are nodata: see :mod:`sargeo.inference.inputs`.

:class:`PrefetchReader` reads windows with rasterio on a background thread, a few batches ahead
of the consumer, so reading overlaps with compute and writing. Only ``prefetch`` batches are ever
queued: memory depends on tile and batch size, not on the scene. Each batch holds float32 images
``(B, C, tile, tile)`` (scene values, converted to the predictor's units when it states them;
0 where invalid or padded), a validity mask ``(B, tile, tile)`` (False at nodata, NaN/inf,
values the predictor's units cannot hold, and padding) and the windows.
Windows without a single valid pixel are skipped and counted; each batch says up to which
planned window the reader has got (``upto``), skipped windows included, so a consumer can tell
which rows are finished.
"""

from __future__ import annotations

import math
import queue
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import MaskFlags
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from sargeo.errors import error_text
from sargeo.inference.inputs import describe_input, parse_nodata
from sargeo.units import Units, UnitsError, convert


class SceneError(ValueError):
    """A scene cannot be used as given; the message names the file and what is wrong."""


#: what to do when GDAL cannot read a file it could open
DAMAGED_HINT = ("the file is probably truncated or damaged: check it with `gdalinfo -checksum "
                "FILE` and copy or download it again")


#: smallest pixel side taken as a size, in CRS units (1e-9 degrees is 0.1 mm)
MIN_PIXEL = 1e-9


def geotransform_problem(src: Any) -> str | None:
    """What makes the open dataset's geotransform unusable (values not finite, pixels of no
    size: a side below :data:`MIN_PIXEL`, an extent off the Earth: projected coordinates
    beyond 1e9, or outside +-90 degrees latitude / +-360 longitude), or None."""
    from rasterio.warp import transform_bounds

    t = src.transform
    if not all(math.isfinite(v) for v in tuple(t)[:6]):
        return "holds values that are not finite"
    if t.determinant == 0 or min(math.hypot(t.a, t.d), math.hypot(t.b, t.e)) < MIN_PIXEL:
        return "gives pixels of no size"
    if src.crs is not None and src.crs.is_projected and max(map(abs, src.bounds)) > 1e9:
        return f"places the scene off the Earth (bounds {tuple(src.bounds)} in its CRS)"
    try:
        west, south, east, north = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    except Exception as err:  # pyproj / GDAL errors of an absurd extent
        return f"places the scene off the Earth ({error_text(err)})"
    if not (all(math.isfinite(v) for v in (west, south, east, north))
            and max(abs(south), abs(north)) <= 90 and max(abs(west), abs(east)) <= 360):
        return (f"places the scene off the Earth (longitude {west:g}..{east:g}, latitude "
                f"{south:g}..{north:g})")
    return None


@dataclass(frozen=True)
class SceneInfo:
    """What the engine and the predictors need to know about a scene."""

    path: Path
    width: int
    height: int
    count: int  #: bands read (after band selection)
    bands: tuple[int, ...]  #: 1-based band indices read
    dtype: str
    crs: Any  #: rasterio CRS (None: pixel coordinates, see pixel_coords)
    transform: Affine
    nodata: tuple[float | None, ...]  #: per band read
    descriptions: tuple[str, ...]  #: band descriptions ("" where unset)
    units: str  #: the scale of the values: "linear" (power), "db", "amplitude" or "unknown"
    per_dataset_mask: bool = False  #: the file has an internal mask band (honoured as nodata)
    tags: dict[str, str] = field(default_factory=dict)
    input_units: Units | None = None  #: what the values are (metadata or --units); None: unknown
    units_origin: str = ""  #: where input_units come from, or why they are unknown
    zero_nodata: bool = False  #: 0 is nodata although none is declared (see inputs)
    notes: tuple[str, ...] = ()  #: what the user should be told about the input

    @property
    def name(self) -> str:
        return self.path.stem

    def open(self) -> Any:
        """The pixels, for :func:`read_window` (a rasterio dataset)."""
        return rasterio.open(self.path)

    def grid(self) -> dict[str, Any]:
        """The output raster grid (keyword arguments of the writers' ``write_cog``)."""
        return dict(width=self.width, height=self.height, crs=self.crs,
                    transform=self.transform)

    def detections_frame(self, dets: Any, classes: Sequence[str], extra: Any = None) -> Any:
        """Detections in scene pixels as a GeoDataFrame in the scene's CRS."""
        from sargeo.inference.writers import detections_frame

        return detections_frame(dets, classes, self.transform, self.crs, self.path.name, extra)


def open_scene(path: str | Path, *, in_channels: int | None = None,
               bands: Sequence[int] | None = None, units: Units | str | None = None,
               nodata: float | str | None = None, pixel_coords: bool = False) -> SceneInfo:
    """Check a scene and describe it.

    Args:
        path: a GeoTIFF (or any raster GDAL reads) with a CRS and a geotransform.
        in_channels: band count the predictor expects (None: any).
        bands: 1-based band indices to read, in order (default: all bands).
        units: what the bands hold (``--units``), overriding the metadata.
        nodata: the nodata value (replacing the file's), or ``"none"``: no nodata value.
        pixel_coords: accept files without georeferencing; the scene's CRS is then None and
            its transform the identity, whatever the file carries
            (:mod:`sargeo.inference.pixel_coords`).

    Raises:
        UnitsError: the metadata contradicts itself or the values, or ``units`` is malformed.
        SceneError: unreadable file, no CRS, no geotransform, unknown band, or a band count the
            predictor does not expect. The message names the file.
    """
    from sargeo.inference import pixel_coords as pxc

    path = Path(path)
    from sargeo.inference.product_source import is_product, open_product_scene

    if is_product(path):  # a Sentinel-1 SAFE product (folder, manifest or zip)
        return open_product_scene(path, in_channels=in_channels, bands=bands, units=units,
                                  nodata=nodata, pixel_coords=pixel_coords)
    units, nodata = None if units is None else Units.parse(units), parse_nodata(nodata)
    if not path.is_file():
        raise SceneError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():  # no geotransform: our own error below says it
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            src = rasterio.open(path)
    except Exception as err:  # rasterio raises RasterioIOError, CPLE_* ...
        raise SceneError(f"{path}: cannot open as a raster ({error_text(err)})") from err
    with src:
        if not pixel_coords and (src.crs is None or src.transform == Affine.identity()):
            raise SceneError(pxc.georeferencing_error(path, src))
        problem = None if pixel_coords else geotransform_problem(src)
        if problem:
            raise SceneError(f"{path}: its geotransform {tuple(src.transform)[:6]} {problem}; "
                             f"{DAMAGED_HINT}")
        if bands is None:
            bands = tuple(range(1, src.count + 1))
        bands = tuple(int(b) for b in bands)
        bad = [b for b in bands if not 1 <= b <= src.count]
        if bad or not bands:
            raise SceneError(f"{path}: band(s) {bad or list(bands)} do not exist; the scene has "
                             f"{src.count} band(s), numbered from 1")
        if in_channels is not None and len(bands) != in_channels:
            raise SceneError(f"{path}: {len(bands)} band(s) {list(bands)} would be read but the "
                             f"predictor expects {in_channels}; choose bands (bands=... / "
                             "--bands)" + pxc.bands_hint(src, len(bands), in_channels))
        dtypes = {src.dtypes[b - 1] for b in bands}
        if len(dtypes) > 1:
            raise SceneError(f"{path}: bands {list(bands)} have different data types {dtypes}")
        tags = {str(k): str(v) for k, v in src.tags().items()}
        try:
            given = pxc.image_units(src, describe_input(src, path, bands, units=units,
                                                        nodata=nodata))
        except UnitsError:
            raise
        except Exception as err:
            raise SceneError(f"{path}: cannot read the scene ({error_text(err)}); "
                             f"{DAMAGED_HINT}") from err
        per_dataset = any(MaskFlags.per_dataset in src.mask_flag_enums[b - 1]
                          and MaskFlags.nodata not in src.mask_flag_enums[b - 1]
                          for b in bands)
        return SceneInfo(path=path, width=src.width, height=src.height, count=len(bands),
                         bands=bands, dtype=next(iter(dtypes)),
                         crs=None if pixel_coords else src.crs,
                         transform=Affine.identity() if pixel_coords else src.transform,
                         nodata=given.nodata,
                         descriptions=tuple((src.descriptions[b - 1] or "") for b in bands),
                         units=given.units.scale if given.units else "unknown",
                         per_dataset_mask=per_dataset, tags=tags, input_units=given.units,
                         units_origin=given.origin, zero_nodata=given.zero_nodata,
                         notes=given.notes)


def read_window(src: rasterio.DatasetReader, info: SceneInfo, window: Window, tile: int, *,
                to_units: Units | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One window as float32 ``(C, tile, tile)``, in ``to_units`` when given (0 where invalid
    or padded), and its validity ``(tile, tile)``: False at nodata, NaN/inf, the internal mask,
    padding, 0 when ``info.zero_nodata``, and values ``to_units`` cannot hold (dB of power
    <= 0), in any band."""
    h, w = int(window.height), int(window.width)
    data = src.read(list(info.bands), window=window, out_dtype="float32")
    valid = np.isfinite(data).all(axis=0)
    if info.zero_nodata:  # power or amplitude, no nodata declared: 0 is border fill
        valid &= (data != 0).all(axis=0)
    for band, nd in enumerate(info.nodata):
        if nd is not None and not math.isnan(nd):
            valid &= data[band] != np.float32(nd)
    if info.per_dataset_mask:
        valid &= src.read_masks(info.bands[0], window=window) > 0
    if to_units is not None and info.input_units is not None:
        data = convert(data, info.input_units, to_units, str(info.path), info.units_origin)
        valid &= np.isfinite(data).all(axis=0)
    data[:, ~valid] = 0.0
    if (h, w) == (tile, tile):
        return data, valid
    images = np.zeros((info.count, tile, tile), dtype=np.float32)
    mask = np.zeros((tile, tile), dtype=bool)
    images[:, :h, :w] = data
    mask[:h, :w] = valid
    return images, mask


@dataclass
class Batch:
    """Up to ``batch_size`` windows with at least one valid pixel."""

    images: np.ndarray  #: float32 (B, C, tile, tile)
    valid: np.ndarray  #: bool (B, tile, tile)
    windows: list[Window]
    indices: list[int]  #: indices of the windows in the plan
    upto: int  #: planned windows [start, upto) have been read or skipped
    skipped: int  #: windows skipped as nodata-only since the previous batch


_DONE = object()


class PrefetchReader:
    """Iterate over batches of windows, read on a background thread.

    Args:
        info: the scene (from :func:`open_scene`).
        windows: the plan (from :func:`~sargeo.inference.windows.plan_windows`).
        tile: size the windows are padded to.
        batch_size: windows per batch.
        start: first planned window to read (windows before it were done by an earlier run).
        prefetch: batches read ahead (the queue's bound).
        to_units: units to convert the values to (the predictor's ``input_units``).

    Use as a context manager (or call :meth:`close`) so that the thread stops when the consumer
    stops early. Read errors are raised in the consumer, as :class:`SceneError`.
    """

    def __init__(self, info: SceneInfo, windows: Sequence[Window], tile: int, batch_size: int,
                 *, start: int = 0, prefetch: int = 2, to_units: Units | None = None) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.info, self.windows, self.tile = info, list(windows), int(tile)
        self.batch_size, self.start, self.to_units = int(batch_size), int(start), to_units
        self.n_skipped = 0  #: nodata-only windows skipped so far
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sargeo-reader", daemon=True)
        self._started = False

    # -- producer ---------------------------------------------------------------------------
    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            with self.info.open() as src:
                images, valid, wins, idx, skipped = [], [], [], [], 0
                for i in range(self.start, len(self.windows)):
                    if self._stop.is_set():
                        return
                    window = self.windows[i]
                    try:
                        img, ok = read_window(src, self.info, window, self.tile,
                                              to_units=self.to_units)
                    except Exception as err:
                        raise SceneError(f"{self.info.path}: cannot read window "
                                         f"(col {window.col_off}, row {window.row_off}, "
                                         f"{window.width} x {window.height}): "
                                         f"{error_text(err)}; {DAMAGED_HINT}") from err
                    if not ok.any():
                        skipped += 1
                        continue
                    images.append(img)
                    valid.append(ok)
                    wins.append(window)
                    idx.append(i)
                    if len(images) == self.batch_size:
                        if not self._put(self._batch(images, valid, wins, idx, i + 1, skipped)):
                            return
                        images, valid, wins, idx, skipped = [], [], [], [], 0
                self._put(self._batch(images, valid, wins, idx, len(self.windows), skipped))
            self._put(_DONE)
        except BaseException as err:  # handed to the consumer
            self._put(err)

    def _batch(self, images: list, valid: list, wins: list, idx: list, upto: int,
               skipped: int) -> Batch:
        c, t = self.info.count, self.tile
        return Batch(images=np.stack(images) if images else np.zeros((0, c, t, t), np.float32),
                     valid=np.stack(valid) if valid else np.zeros((0, t, t), bool),
                     windows=wins, indices=idx, upto=upto, skipped=skipped)

    # -- consumer ---------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Batch]:
        if not self._started:
            self._started = True
            self._thread.start()
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            self.n_skipped += item.skipped
            yield item

    def close(self) -> None:
        """Stop the thread (it finishes the window it is reading)."""
        self._stop.set()
        if self._started:
            self._thread.join(timeout=30)

    def __enter__(self) -> PrefetchReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
