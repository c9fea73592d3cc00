"""Sentinel-1 GRD products as ESA distributes them: a ``NAME.SAFE`` folder or its ``.zip``.

What the data is: a Level-1 Ground Range Detected product holds, per polarisation (VV+VH or
HH+HV; IW or EW mode), one measurement TIFF of uncalibrated digital numbers (uint16 amplitude,
DN; 0 on the product's borders) in radar geometry (rows = azimuth lines, columns = range
samples; no geotransform, a grid of tie points instead), plus XML: the product annotation
(image size, pixel spacing, the geolocation grid of tie points with latitude, longitude, height
and incidence angle), the calibration vectors and the thermal noise vectors (parsed in
:mod:`sargeo.datasets.safe_metadata`).

:class:`Sentinel1Product` reads it in place (a zip through GDAL's ``/vsizip/``, nothing
extracted), window by window:

- radiometric calibration as ESA's note "Sentinel-1 Level 1 Detected Products: radiometric
  calibration" and the product specification say: ``value = (DN^2 - noise) / A^2`` with ``A``
  the sigmaNought, betaNought or gamma table interpolated bilinearly over line and pixel, and
  ``noise`` = range noise table x azimuth noise table (1 for the older range-only layout, and
  outside the azimuth blocks); only the look-up tables of the window are computed;
- thermal noise removal on by default. Where it leaves a value below :data:`NOISE_FLOOR`
  (1e-5, -50 dB: far below the instrument's noise-equivalent sigma0 of about -22 to -28 dB),
  the value becomes that floor, so that calm water stays a valid, very dark pixel instead of a
  hole; ``floor=None`` marks those pixels NaN instead. DN == 0 (the product's borders) is
  always NaN. Products whose annotation says thermal noise was already removed are not
  denoised again;
- georeferencing through the geolocation grid: the tie points become ground control points
  (EPSG:4326), mapped by a thin-plate spline (exact at the tie points) or a least-squares
  polynomial, as :func:`sargeo.datasets.sentinel1.georeference_grd` does; pixel <-> lon/lat for
  any points, and a warp of any window's array (data or inference output) onto a map grid.

Why sargeo's own parser and not xarray-sentinel (B-Open's reader of SAFE metadata): measured
side by side in ``benchmarks/perf_product.py`` (``results/perf_product.json``), both give the
same sigma0 (to 5e-7), but xarray-sentinel cannot open these real products' range noise
vectors (their pixel lists differ in length), keeps only the first azimuth noise block, removes
no noise, does not read a product zip in place, and calibrates the same windows far slower.

Pixel coordinates follow the annotation: row ``r``, column ``c`` is line ``r``, pixel ``c``,
integers at pixel centres. GDAL counts from a pixel's corner, so the ground control points handed
to GDAL (:attr:`Sentinel1Product.gcps`) sit at ``line + 0.5``, ``pixel + 0.5``.
"""

from __future__ import annotations

import re
import threading
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.control import GroundControlPoint
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from sargeo.datasets.safe_geo import LONLAT, Georeferencing, MapGrid
from sargeo.datasets.safe_metadata import (
    REDOWNLOAD,
    Annotation,
    Calibration,
    Manifest,
    Noise,
    ProductError,
    VectorLUT,
    parse_annotation,
    parse_calibration,
    parse_manifest,
    parse_noise,
)
from sargeo.errors import error_text
from sargeo.units import Units

__all__ = ["NOISE_FLOOR", "QUANTITIES", "MapGrid", "ProductError", "ProductFiles",
           "Sentinel1Product"]

#: linear value given to pixels that noise removal leaves below it (-50 dB)
NOISE_FLOOR = 1e-5
#: what :meth:`Sentinel1Product.read` returns: calibrated power, or the raw digital numbers
QUANTITIES = ("sigma0", "beta0", "gamma0", "dn")
#: co-polarised first
POLARISATION_ORDER = ("VV", "HH", "VH", "HV")
MEASUREMENT = re.compile(r"^measurement/(?P<stem>s1[a-z]-[a-z0-9]+-(?P<kind>[a-z]+)-"
                         r"(?P<pol>vv|vh|hh|hv)-[^/]+)\.tiff?$", re.IGNORECASE)


class _Store:
    """The files of a SAFE product, in a folder or a zip, by path relative to its root."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.is_file() and path.name.lower() == "manifest.safe":
            path = path.parent
        if path.is_dir():
            self.zip_prefix = None
            self.root = path
            self.names = sorted(p.relative_to(path).as_posix() for p in path.rglob("*")
                                if p.is_file())
        elif path.is_file():
            self.root = path
            try:
                with zipfile.ZipFile(path) as zf:
                    members = zf.namelist()
            except (zipfile.BadZipFile, OSError) as err:
                raise ProductError(f"{path} is neither a SAFE folder nor a readable zip "
                                   f"({error_text(err)}); pass the NAME.SAFE folder, its "
                                   f"manifest.safe or its .zip; {REDOWNLOAD}") from err
            roots = sorted({m.split("/")[0] for m in members
                            if m.count("/") >= 1 and m.split("/")[0].upper().endswith(".SAFE")})
            if len(roots) != 1:
                raise ProductError(f"{path} should hold one NAME.SAFE/ folder, holds "
                                   f"{roots or 'none'}; pass a Sentinel-1 product zip as ESA "
                                   "distributes it")
            self.zip_prefix = roots[0] + "/"
            self.names = sorted(m[len(self.zip_prefix):] for m in members
                                if m.startswith(self.zip_prefix) and not m.endswith("/"))
        else:
            raise FileNotFoundError(f"Sentinel-1 product not found: {path}")
        self.present = set(self.names)
        self.name = (Path(self.zip_prefix.rstrip("/")) if self.zip_prefix else self.root).stem

    def label(self, name: str) -> str:
        """``name`` as a person finds it: a path, or ``ZIP!/NAME.SAFE/member``."""
        if self.zip_prefix is None:
            return str(self.root / name)
        return f"{self.root}!/{self.zip_prefix}{name}"

    def read(self, name: str) -> bytes:
        try:
            if self.zip_prefix is None:
                return (self.root / name).read_bytes()
            with zipfile.ZipFile(self.root) as zf:
                return zf.read(self.zip_prefix + name)
        except (OSError, zipfile.BadZipFile, KeyError, EOFError, zlib.error) as err:
            raise ProductError(f"cannot read {self.label(name)} ({error_text(err)}); "
                               f"{REDOWNLOAD}") from err

    def gdal_path(self, name: str) -> str:
        if self.zip_prefix is None:
            return str(self.root / name)
        return f"/vsizip/{self.root.resolve()}/{self.zip_prefix}{name}"


@dataclass(frozen=True)
class ProductFiles:
    """The files of one polarisation, as labels (paths, or ``ZIP!/member`` in a zip)."""

    polarisation: str
    measurement: str
    annotation: str
    calibration: str
    noise: str


def _as_window(window: Window | tuple | None, height: int, width: int) -> Window:
    """A whole-pixel window inside the image: a rasterio Window, ``((row0, row1), (col0,
    col1))`` or None (the whole image)."""
    if window is None:
        return Window(0, 0, width, height)
    if not isinstance(window, Window):
        window = Window.from_slices(*window)
    values = (window.col_off, window.row_off, window.width, window.height)
    if any(v != int(v) for v in values):
        raise ValueError(f"window {window} is not in whole pixels")
    col, row, w, h = (int(v) for v in values)
    if w <= 0 or h <= 0 or col < 0 or row < 0 or col + w > width or row + h > height:
        raise ValueError(f"window {window} is not inside the image ({height} lines x "
                         f"{width} samples)")
    return Window(col, row, w, h)


class Sentinel1Product:
    """A Sentinel-1 GRD product (``NAME.SAFE`` folder, its ``manifest.safe`` or its ``.zip``);
    see the module docstring for what the data is and how it is calibrated.

    Args:
        path: the product.
        georeferencing: ``"tps"`` (thin-plate spline through the tie points, exact at them) or
            ``"polynomial"`` (least squares of ``polynomial_order``, 1 to 3).
        parallel: read and calibrate the polarisations of a window at once, one thread each
            (GDAL and numpy release the GIL; each thread keeps its own measurement handle, so
            its block cache): faster with free cores, the same values.

    Attributes:
        path, name: as given; the product name (``S1A_IW_GRDH_...``).
        polarisations: in order, co-polarised first (e.g. ``("VV", "VH")``).
        shape: ``(lines, samples)`` = (height, width) of the measurement images.
        files: :class:`ProductFiles` by polarisation.
        annotations, calibrations, noises: parsed XML by polarisation.
        manifest: parsed ``manifest.safe`` (None where the product has none).

    Raises :class:`ProductError` (a ``ValueError``) naming the file and what to do for missing
    or corrupt XML, missing measurement TIFFs and files that do not belong together.
    """

    def __init__(self, path: str | Path, *, georeferencing: str = "tps",
                 polynomial_order: int = 2, parallel: bool = False) -> None:
        if georeferencing not in ("tps", "polynomial"):
            raise ValueError(f"georeferencing must be 'tps' or 'polynomial', got "
                             f"{georeferencing!r}")
        if georeferencing == "polynomial" and polynomial_order not in (1, 2, 3):
            raise ValueError(f"polynomial_order must be 1, 2 or 3, got {polynomial_order}")
        self.path = Path(path)
        self.georeferencing, self.polynomial_order = georeferencing, polynomial_order
        self._store = store = _Store(self.path)
        self.name = store.name
        self.manifest: Manifest | None = (
            parse_manifest(store.read("manifest.safe"), store.label("manifest.safe"))
            if "manifest.safe" in store.present else None)
        stems = self._find_measurements()
        self.polarisations = tuple(sorted(stems, key=POLARISATION_ORDER.index))
        self.files: dict[str, ProductFiles] = {}
        self.annotations: dict[str, Annotation] = {}
        self.calibrations: dict[str, Calibration] = {}
        self.noises: dict[str, Noise] = {}
        self._measurements: dict[str, str] = {}
        for pol in self.polarisations:
            self._load_polarisation(pol, *stems[pol])
        self._check_consistent()
        self._share_identical_tables()
        first = self.annotations[self.polarisations[0]]
        self.shape = (first.lines, first.samples)
        g = first.grid
        try:
            self.georef = Georeferencing(g.line, g.pixel, g.longitude, g.latitude, g.height,
                                         method=georeferencing, order=polynomial_order)
        except (np.linalg.LinAlgError, ValueError) as err:
            raise ProductError(f"{self.files[self.polarisations[0]].annotation}: its "
                               f"geolocation grid cannot be fitted ({error_text(err)}); "
                               f"{REDOWNLOAD}") from err
        self.parallel = parallel
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._local = threading.local()
        self._handles: list[Any] = []
        self._lock = threading.Lock()
        for pol in self.polarisations:  # every TIFF opens and has the annotation's size
            self._dataset(pol)

    # -- files ----------------------------------------------------------------------------
    def _find_measurements(self) -> dict[str, tuple[str, str]]:
        """Measurement file and stem by polarisation; refuse duplicates, SLC, missing files."""
        store, found = self._store, {}
        for name in store.names:
            match = MEASUREMENT.match(name)
            if match is None:
                continue
            if match["kind"].lower() != "grd":
                raise ProductError(f"{store.label(name)} is a {match['kind'].upper()} "
                                   "measurement; sargeo reads GRD products only")
            pol = match["pol"].upper()
            if pol in found:
                raise ProductError(f"{store.path}: two {pol} measurement files, "
                                   f"{found[pol][0]} and {name}; keep one product per folder")
            found[pol] = (name, match["stem"])
        if self.manifest is not None:
            missing = [m for m in self.manifest.measurements if m not in store.present]
            if missing:
                raise ProductError(f"{store.label(missing[0])} is listed in manifest.safe but "
                                   f"missing; {REDOWNLOAD}")
        if not found:
            raise ProductError(f"{store.label('measurement/')}: no measurement TIFF "
                               "(measurement/s1?-<mode>-grd-<pol>-*.tiff); the product is "
                               "incomplete: download it again")
        return found

    def _load_polarisation(self, pol: str, measurement: str, stem: str) -> None:
        store = self._store
        names = {"annotation": f"annotation/{stem}.xml",
                 "calibration": f"annotation/calibration/calibration-{stem}.xml",
                 "noise": f"annotation/calibration/noise-{stem}.xml"}
        for kind, name in names.items():
            if name not in store.present:
                raise ProductError(f"{store.label(name)} is missing: the {kind} file of "
                                   f"{store.label(measurement)}; {REDOWNLOAD}")
        labels = {k: store.label(n) for k, n in names.items()}
        ann = parse_annotation(store.read(names["annotation"]), labels["annotation"])
        cal = parse_calibration(store.read(names["calibration"]), labels["calibration"])
        noise = parse_noise(store.read(names["noise"]), labels["noise"])
        for label, item in ((labels["annotation"], ann), (labels["calibration"], cal),
                            (labels["noise"], noise)):
            if item.polarisation != pol:
                raise ProductError(f"{label} is for {item.polarisation}, but its name and "
                                   f"measurement {store.label(measurement)} say {pol}; the "
                                   "files are mixed up: use the product as downloaded")
        self.files[pol] = ProductFiles(pol, store.label(measurement), **labels)
        self._measurements[pol] = measurement
        self.annotations[pol], self.calibrations[pol], self.noises[pol] = ann, cal, noise

    def _check_consistent(self) -> None:
        ref_pol = self.polarisations[0]
        ref = self.annotations[ref_pol]
        for pol in self.polarisations[1:]:
            ann = self.annotations[pol]
            same_grid = (ann.grid.line.shape == ref.grid.line.shape and all(
                np.allclose(getattr(ann.grid, k), getattr(ref.grid, k), rtol=0, atol=1e-6)
                for k in ("line", "pixel", "latitude", "longitude")))
            if (ann.samples, ann.lines) != (ref.samples, ref.lines) or not same_grid:
                raise ProductError(
                    f"{self.files[pol].annotation} ({ann.samples} x {ann.lines} px) and "
                    f"{self.files[ref_pol].annotation} ({ref.samples} x {ref.lines} px) do not "
                    "describe the same image and tie points: the polarisations come from "
                    "different products; use the product as downloaded")

    def _share_identical_tables(self) -> None:
        """One table object where polarisations have the same calibration vectors (usual): a
        window's table is then computed once for all of them."""
        first = self.calibrations[self.polarisations[0]].tables
        for pol in self.polarisations[1:]:
            cal = self.calibrations[pol]
            tables = {q: first[q] if first[q].same_as(t) else t for q, t in cal.tables.items()}
            self.calibrations[pol] = Calibration(pol, tables)

    def _open_tiff(self, pol: str) -> Any:
        label = self.files[pol].measurement
        try:
            with warnings.catch_warnings():  # its georeferencing is not used: the tie points are
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                src = rasterio.open(self._store.gdal_path(self._measurements[pol]))
        except rasterio.errors.RasterioError as err:
            raise ProductError(f"{label} is not a readable TIFF ({error_text(err)}); "
                               f"{REDOWNLOAD}") from err
        ann = self.annotations[pol]
        if (src.width, src.height, src.count) != (ann.samples, ann.lines, 1):
            src.close()
            raise ProductError(f"{label} is {src.width} x {src.height} px with {src.count} "
                               f"band(s); its annotation says {ann.samples} x {ann.lines}, one "
                               "band: the files do not belong together; use the product as "
                               "downloaded")
        return src

    def _dataset(self, pol: str) -> Any:
        """This thread's open measurement dataset of ``pol`` (rasterio handles are not shared
        across threads)."""
        handles = getattr(self._local, "handles", None)
        if handles is None:
            handles = self._local.handles = {}
        if pol not in handles:
            handles[pol] = self._open_tiff(pol)
            with self._lock:
                self._handles.append(handles[pol])
        return handles[pol]

    def close(self) -> None:
        """Close every measurement dataset opened so far and the reading threads (reading
        again reopens them)."""
        with self._lock:
            pools, self._pools = self._pools, {}
        for pool in pools.values():
            pool.shutdown(wait=True)
        with self._lock:
            for src in self._handles:
                src.close()
            self._handles.clear()
        self._local = threading.local()

    def __enter__(self) -> Sentinel1Product:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Sentinel1Product({self.name!r}, polarisations={self.polarisations}, "
                f"shape={self.shape})")

    # -- what it is -----------------------------------------------------------------------
    @property
    def height(self) -> int:
        return self.shape[0]

    @property
    def width(self) -> int:
        return self.shape[1]

    @property
    def profile(self) -> dict[str, Any]:
        """A rasterio-like profile of what :meth:`read` returns for all polarisations."""
        ann = self.annotations[self.polarisations[0]]
        return {"driver": "SAFE", "dtype": "float32", "nodata": float("nan"),
                "width": self.width, "height": self.height, "count": len(self.polarisations),
                "descriptions": self.polarisations, "crs": None, "transform": None,
                "gcps": self.gcps, "gcps_crs": self.crs, "units": str(self.units()),
                "source_dtype": "uint16", "source_units": str(self.units("dn")),
                "mission": ann.mission,
                "mode": ann.mode, "product_type": ann.product_type,
                "pass": ann.pass_direction, "start_time": ann.start_time,
                "stop_time": ann.stop_time, "pixel_spacing": (ann.range_spacing,
                                                              ann.azimuth_spacing),
                "noise_layout": self.noises[self.polarisations[0]].layout}

    def units(self, quantity: str = "sigma0", polarisations: Sequence[str] | None = None
              ) -> Units:
        """What :meth:`read` returns for ``quantity``, in sargeo's units contract: calibrated
        linear power (``sigma0-linear:VV,VH``), or DN amplitude (``dn-amplitude:VV,VH``)."""
        if quantity not in QUANTITIES:
            raise ValueError(f"quantity must be one of {QUANTITIES}, got {quantity!r}")
        pols = self.polarisations if polarisations is None else tuple(
            self._polarisation(p) for p in polarisations)
        return Units(quantity, "amplitude" if quantity == "dn" else "linear", pols)

    # -- pixels ---------------------------------------------------------------------------
    def lut(self, window: Window | tuple | None, polarisation: str,
            quantity: str = "sigma0") -> np.ndarray:
        """The calibration table ``A`` of ``quantity`` over ``window`` (float32 (h, w));
        ``dn`` gives the product's own ``dn`` table (not used by :meth:`read`)."""
        win = _as_window(window, *self.shape)
        if quantity not in QUANTITIES:
            raise ValueError(f"quantity must be one of {QUANTITIES}, got {quantity!r}")
        return self.calibrations[self._polarisation(polarisation)].tables[quantity].window(
            *win.toranges())

    def noise(self, window: Window | tuple | None, polarisation: str) -> np.ndarray:
        """The thermal noise power (DN^2 units) over ``window`` (float32 (h, w))."""
        win = _as_window(window, *self.shape)
        return self.noises[self._polarisation(polarisation)].window(*win.toranges())

    def _polarisation(self, pol: str) -> str:
        if pol.upper() not in self.polarisations:
            raise ValueError(f"{self.name} has polarisations {self.polarisations}, not "
                             f"{[pol]}")
        return pol.upper()

    def read(self, window: Window | tuple | None = None, quantity: str = "sigma0",
             polarisations: Sequence[str] | None = None, denoise: bool = True,
             floor: float | None = NOISE_FLOOR) -> np.ndarray:
        """Calibrated values of ``window`` (None: the whole image), float32
        ``(len(polarisations), h, w)``, NaN at DN == 0.

        ``quantity``: ``sigma0``, ``beta0``, ``gamma0`` (linear power) or ``dn`` (the raw
        digital numbers as float32, neither calibrated nor denoised). ``denoise``: subtract the
        thermal noise; values it leaves below ``floor`` become ``floor`` (``floor=None``: NaN).
        Only this window's DN are read and only its look-up tables computed.
        """
        if quantity not in QUANTITIES:
            raise ValueError(f"quantity must be one of {QUANTITIES}, got {quantity!r}")
        pols = self.polarisations if polarisations is None else tuple(
            self._polarisation(p) for p in polarisations)
        win = _as_window(window, *self.shape)
        out = np.empty((len(pols), win.height, win.width), dtype=np.float32)
        args = (win, quantity, denoise, floor)
        if self.parallel and len(pols) > 1:
            jobs = [self._pool(pol).submit(self._read_into, out[k], pol, *args)
                    for k, pol in enumerate(pols)]
            for job in jobs:
                job.result()  # re-raises a ProductError of its thread
        else:
            for k, pol in enumerate(pols):
                self._read_into(out[k], pol, *args)
        return out

    def _pool(self, pol: str) -> ThreadPoolExecutor:
        """The one thread that reads ``pol`` (so it keeps reusing its dataset's cache)."""
        with self._lock:
            if pol not in self._pools:
                self._pools[pol] = ThreadPoolExecutor(1, thread_name_prefix=f"safe-{pol}")
            return self._pools[pol]

    def _inverse_square(self, table: VectorLUT, win: Window) -> np.ndarray:
        """``1 / A^2`` of ``table`` over ``win``; the last one of this thread is kept."""
        key = (id(table), win.toranges())
        cached = getattr(self._local, "inverse", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        a = table.window(*win.toranges())
        np.multiply(a, a, out=a)
        np.reciprocal(a, out=a)
        self._local.inverse = (key, a)
        return a

    def _read_into(self, value: np.ndarray, pol: str, win: Window, quantity: str,
                   denoise: bool, floor: float | None) -> None:
        """One polarisation of :meth:`read`, written into ``value`` (h, w)."""
        rows, cols = win.toranges()
        try:
            dn = self._dataset(pol).read(1, window=win)
        except rasterio.errors.RasterioError as err:
            raise ProductError(f"cannot read {win} of {self.files[pol].measurement} "
                               f"({error_text(err)}); {REDOWNLOAD}") from err
        np.copyto(value, dn, casting="unsafe")
        if quantity != "dn":
            np.multiply(value, value, out=value)
            subtract = denoise and not self.annotations[pol].noise_removed
            if subtract:
                value -= self.noises[pol].window(rows, cols)
            value *= self._inverse_square(self.calibrations[pol].tables[quantity], win)
            if subtract and floor is None:
                value[value <= 0] = np.nan
            elif subtract:
                np.maximum(value, np.float32(floor), out=value)
        value[dn == 0] = np.nan

    # -- georeferencing -------------------------------------------------------------------
    @property
    def crs(self) -> CRS:
        """The CRS of the ground control points: EPSG:4326 (longitude, latitude)."""
        return LONLAT

    @property
    def gcps(self) -> list[GroundControlPoint]:
        """The geolocation grid as GDAL ground control points (row = line + 0.5, col = pixel +
        0.5, x = longitude, y = latitude, z = height; EPSG:4326)."""
        return self.georef.gcps

    def pixel_to_lonlat(self, rows: Any, cols: Any) -> tuple[np.ndarray, np.ndarray]:
        """Longitude (-180..180) and latitude of pixels ``(rows, cols)`` (any shape, fractional
        allowed; integers are pixel centres, numbered as the annotation's line/pixel)."""
        return self.georef.pixel_to_lonlat(rows, cols)

    def lonlat_to_pixel(self, lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
        """Fractional ``(rows, cols)`` of longitude/latitude points, the inverse of
        :meth:`pixel_to_lonlat` (points off the product fall outside the image)."""
        return self.georef.lonlat_to_pixel(lon, lat)

    def map_grid(self, window: Window | tuple | None = None, *, dst_crs: Any = None,
                 resolution: float = 10.0) -> MapGrid:
        """The north-up map grid covering ``window`` (None: the whole product) in ``dst_crs``
        (default: the UTM zone of the product's centre) at ``resolution`` (CRS units), pixel
        edges on multiples of ``resolution``."""
        win = _as_window(window, *self.shape)
        return self.georef.map_grid(win, dst_crs=dst_crs, resolution=resolution)

    def warp(self, array: np.ndarray, window: Window | tuple | None = None,
             grid: MapGrid | None = None, *, dst_crs: Any = None, resolution: float = 10.0,
             resampling: str = "bilinear", src_nodata: float | None = None,
             dst_nodata: float | None = None) -> tuple[np.ndarray, MapGrid]:
        """Resample ``array`` -- the pixels of ``window`` ((h, w) or (bands, h, w): what
        :meth:`read` returned, or an inference output over it) -- onto a map grid: ``grid``
        (e.g. a part of :meth:`map_grid` of the whole product), else the window's own
        :meth:`map_grid` in ``dst_crs`` at ``resolution``. Use ``resampling="nearest"`` for
        classes and masks. Returns the warped array and its grid; the window's own pixels
        only, so nothing of the whole scene is held."""
        win = _as_window(window, *self.shape)
        if grid is None:
            grid = self.georef.map_grid(win, dst_crs=dst_crs, resolution=resolution)
        out = self.georef.warp(array, win, grid, resampling=resampling, src_nodata=src_nodata,
                               dst_nodata=dst_nodata)
        return out, grid

    @property
    def lonlat_bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the tie points, degrees (west > east across the
        antimeridian)."""
        lon = self.georef.points[:, 2]
        lat = self.georef.points[:, 3]
        west, east = ((float(lon.min()) + 180) % 360 - 180, (float(lon.max()) + 180) % 360 - 180)
        return west, float(lat.min()), east, float(lat.max())
