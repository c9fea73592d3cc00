"""Simulated Sentinel-1 GRD products laid out as real ones: for tests, benchmarks and
``sargeo demo --product``.

:func:`build_product` copies a real product's metadata (``manifest.safe``, annotation,
calibration and noise XML: no pixels needed, e.g. ``../shared/data/s1_safe_annotations``),
writes the measurement TIFFs (uint16 DN, one band, the geolocation grid as GCPs in EPSG:4326
with row = line and col = pixel, no geotransform) and zips the result as ESA distributes it
(``NAME.SAFE/`` inside ``NAME.zip``, members DEFLATE-compressed).

Pixels: DN from a function of ``(polarisation, first row, rows, width)``, or from simulated
calibrated values (``sigma0=``): ``DN = sqrt(sigma0 A^2 + noise)`` with ``A`` the product's
sigmaNought table and ``noise`` its thermal noise (range x azimuth), both interpolated from the
written XML (:mod:`sargeo.datasets.safe_metadata`): the inverse of the reader's calibration,
so :class:`~sargeo.datasets.safe.Sentinel1Product` reads back ``sigma0`` (up to DN rounding).
NaN sigma0 becomes DN 0 (nodata).

Size: a real product is 25,117 x 19,497 px (1 GB of DN per polarisation). ``scale=s`` keeps
every s-th line and pixel instead: every line/pixel coordinate in the XML (geolocation grid,
calibration and noise vectors, azimuth noise blocks) is divided by ``s`` (as a float, so no
two nodes merge), the image size becomes ``(n - 1) // s + 1`` and the pixel spacing ``s``
times larger. The look-up-table values stay the real ones, and pixel ``(r, c)`` of the reduced
product has exactly the tables and the tie-point position of pixel ``(s r, s c)`` of the real
one (interpolation weights are ratios of coordinates).
"""

from __future__ import annotations

import shutil
import warnings
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
from rasterio.control import GroundControlPoint
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning

__all__ = ["DNFunction", "SCALED", "Sigma0Function", "build_product", "dn_from_sigma0",
           "random_dn", "rescale", "scaled_size"]

#: (element path, coordinate kind) rescaled in each kind of XML
SCALED = {
    "product": ["geolocationGrid/geolocationGridPointList/geolocationGridPoint/line",
                "geolocationGrid/geolocationGridPointList/geolocationGridPoint/pixel"],
    "calibration": ["calibrationVectorList/calibrationVector/line",
                    "calibrationVectorList/calibrationVector/pixel"],
    "noise": ["noiseRangeVectorList/noiseRangeVector/line",
              "noiseRangeVectorList/noiseRangeVector/pixel",
              "noiseAzimuthVectorList/noiseAzimuthVector/firstAzimuthLine",
              "noiseAzimuthVectorList/noiseAzimuthVector/lastAzimuthLine",
              "noiseAzimuthVectorList/noiseAzimuthVector/firstRangeSample",
              "noiseAzimuthVectorList/noiseAzimuthVector/lastRangeSample",
              "noiseAzimuthVectorList/noiseAzimuthVector/line"],
}
#: DN: (polarisation, first row, number of rows, width) -> uint16 block
DNFunction = Callable[[str, int, int, int], np.ndarray]
#: simulated sigma0 (linear; NaN: nodata): (polarisation, first row, rows, width) -> block
Sigma0Function = Callable[[str, int, int, int], np.ndarray]


def _fmt(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(float(value))


def scaled_size(n: int, scale: int) -> int:
    """The size of ``n`` lines or pixels keeping every ``scale``-th."""
    return (n - 1) // scale + 1


def rescale(root: ET.Element, scale: int, legacy_noise: bool = False) -> ET.Element:
    """Divide the line/pixel coordinates of an annotation, calibration or noise tree by
    ``scale`` (in place); ``legacy_noise`` turns a noise tree into the range-only layout of IPF
    < 2.9 (``noiseVectorList/noiseVector/noiseLut``, no azimuth vectors)."""
    for path in SCALED.get(root.tag, []):
        for elem in root.findall(path):
            elem.text = " ".join(_fmt(float(v) / scale) for v in elem.text.split())
    if root.tag == "product":
        info = root.find("imageAnnotation/imageInformation")
        for tag in ("numberOfSamples", "numberOfLines"):
            elem = info.find(tag)
            elem.text = str(scaled_size(int(elem.text), scale))
        for tag in ("rangePixelSpacing", "azimuthPixelSpacing"):
            elem = info.find(tag)
            elem.text = repr(float(elem.text) * scale)
    if root.tag == "noise" and legacy_noise:
        azimuth = root.find("noiseAzimuthVectorList")
        if azimuth is not None:
            root.remove(azimuth)
        vectors = root.find("noiseRangeVectorList")
        vectors.tag = "noiseVectorList"
        for vec in vectors:
            vec.tag = "noiseVector"
            vec.find("noiseRangeLut").tag = "noiseLut"
    return root


def random_dn(seed: int = 0, low: int = 60, high: int = 600) -> DNFunction:
    """Uniform DN in [low, high): values whose square stays above the real noise tables."""
    def dn(pol: str, row: int, rows: int, width: int) -> np.ndarray:
        rng = np.random.default_rng([seed, "VV VH HH HV".split().index(pol), row])
        return rng.integers(low, high, size=(rows, width), dtype=np.uint16)
    return dn


def dn_from_sigma0(sigma0: Sigma0Function, calibration: Path, noise: Path) -> DNFunction:
    """DN whose calibration with the XML files ``calibration`` and ``noise`` (thermal noise
    removed) gives back ``sigma0``: ``round(sqrt(sigma0 A^2 + noise))`` in 1..65535, 0 where
    sigma0 is NaN."""
    from sargeo.datasets.safe_metadata import parse_calibration, parse_noise

    table = parse_calibration(calibration.read_bytes(), str(calibration)).tables["sigma0"]
    thermal = parse_noise(noise.read_bytes(), str(noise))

    def dn(pol: str, row: int, rows: int, width: int) -> np.ndarray:
        value = np.asarray(sigma0(pol, row, rows, width), np.float64)
        a = table.window((row, row + rows), (0, width)).astype(np.float64)
        power = value * a * a + thermal.window((row, row + rows), (0, width))
        amplitude = np.sqrt(np.clip(np.nan_to_num(power, nan=0.0), 0.0, None))
        out = np.clip(np.rint(amplitude), 1, 65535).astype(np.uint16)
        out[~np.isfinite(value)] = 0
        return out
    return dn


def write_measurement(path: Path, annotation: ET.Element, dn: DNFunction, pol: str, *,
                      border: int, tiff_options: dict | None) -> None:
    """A measurement TIFF as ESA writes it (uint16 DN, GCPs, no geotransform), zero on a
    ``border`` px frame, written in blocks of rows."""
    info = annotation.find("imageAnnotation/imageInformation")
    width, height = int(info.findtext("numberOfSamples")), int(info.findtext("numberOfLines"))
    gcps = [GroundControlPoint(row=float(p.findtext("line")), col=float(p.findtext("pixel")),
                               x=float(p.findtext("longitude")), y=float(p.findtext("latitude")),
                               z=float(p.findtext("height")), id=str(i))
            for i, p in enumerate(annotation.findall(
                "geolocationGrid/geolocationGridPointList/geolocationGridPoint"))]
    # strips in row order, as ESA writes them (GDAL would move all-zero border strips to the
    # end of the file, and a reader through /vsizip/ would seek back and forth to get them)
    profile = dict(driver="GTiff", width=width, height=height, count=1, dtype="uint16",
                   WRITE_EMPTY_TILES_SYNCHRONOUSLY="YES") | (tiff_options or {})
    step = max(1, (64 << 20) // (2 * width))  # ~64 MB of DN at a time
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as dst:
            dst.gcps = (gcps, CRS.from_epsg(4326))
            for row in range(0, height, step):
                rows = min(step, height - row)
                block = np.asarray(dn(pol, row, rows, width), dtype=np.uint16).copy()
                if border:
                    block[:, :border] = block[:, width - border:] = 0
                    top, bottom = max(0, border - row), max(0, row + rows - (height - border))
                    block[:top] = 0
                    if bottom:
                        block[rows - bottom:] = 0
                dst.write(block, 1, window=rasterio.windows.Window(0, row, width, rows))


def _crop(annotation: ET.Element, crop: tuple[int, int]) -> None:
    info = annotation.find("imageAnnotation/imageInformation")
    for tag, n in zip(("numberOfLines", "numberOfSamples"), crop, strict=True):
        elem = info.find(tag)
        if not 0 < int(n) <= int(elem.text):
            raise ValueError(f"crop {crop} is not inside the image ({tag} {elem.text})")
        elem.text = str(int(n))


def build_product(source: Path, out_dir: Path, *, scale: int = 16,
                  dn: DNFunction | None = None, sigma0: Sigma0Function | None = None,
                  border: int = 2, as_zip: bool = True, legacy_noise: bool = False,
                  tiff_options: dict | None = None,
                  zip_compression: int = zipfile.ZIP_DEFLATED,
                  edit: Callable[[str, ET.Element], None] | None = None,
                  crop: tuple[int, int] | None = None) -> Path:
    """Build a product from the SAFE folder ``source`` (its XML; measurement TIFFs are not
    needed) under ``out_dir``; return its ``.zip`` (``as_zip``) or its ``.SAFE`` folder.

    Pixels from ``dn`` (default: :func:`random_dn`) or from ``sigma0`` (through the
    product's calibration and noise vectors, :func:`dn_from_sigma0`). ``edit(name, root)`` may
    change any XML tree before it is written (``name`` relative to the SAFE root). ``crop``:
    ``(lines, samples)``, keep only the first lines and samples of the (scaled) image; the tie
    points and vectors stay as they are (those beyond the image are simply not needed).
    """
    if dn is not None and sigma0 is not None:
        raise ValueError("give dn or sigma0, not both")
    safe = out_dir / source.name
    if safe.exists():
        shutil.rmtree(safe)
    (safe / "measurement").mkdir(parents=True)
    annotations: list[tuple[str, ET.Element]] = []
    for src in sorted(source.rglob("*")):
        if not src.is_file() or src.name in ("PROVENANCE.md", "SHA256SUMS"):
            continue
        rel = src.relative_to(source)
        dst = safe / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if rel.parts[0] != "annotation" or "rfi" in rel.parts:
            shutil.copyfile(src, dst)
            continue
        root = rescale(ET.parse(src).getroot(), scale, legacy_noise)
        if crop is not None and root.tag == "product":
            _crop(root, crop)
        if edit is not None:
            edit(rel.as_posix(), root)
        dst.write_bytes(ET.tostring(root, encoding="UTF-8", xml_declaration=True))
        if root.tag == "product":
            annotations.append((src.stem, root))
    for stem, root in annotations:  # after all XML: DN from sigma0 need the written vectors
        pol = root.findtext("adsHeader/polarisation").upper()
        pixels = dn or random_dn()
        if sigma0 is not None:
            cal = safe / "annotation" / "calibration"
            pixels = dn_from_sigma0(sigma0, cal / f"calibration-{stem}.xml",
                                    cal / f"noise-{stem}.xml")
        write_measurement(safe / "measurement" / f"{stem}.tiff", root, pixels, pol,
                          border=border, tiff_options=tiff_options)
    if not as_zip:
        return safe
    return zip_product(safe, out_dir / f"{safe.stem}.zip", compression=zip_compression)


def zip_product(safe: Path, archive: Path, *, compression: int = zipfile.ZIP_DEFLATED,
                remove: bool = True) -> Path:
    """Zip the ``NAME.SAFE`` folder as ESA does (``NAME.SAFE/`` inside); written to a
    temporary name, then renamed; the folder removed unless ``remove=False``."""
    partial = archive.with_name(f".{archive.name}.partial")
    with zipfile.ZipFile(partial, "w", compression=compression, allowZip64=True) as zf:
        for path in sorted(safe.rglob("*")):
            if path.is_file():
                zf.write(path, f"{safe.name}/{path.relative_to(safe).as_posix()}")
    partial.replace(archive)
    if remove:
        shutil.rmtree(safe)
    return archive
