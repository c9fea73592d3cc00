"""Fuzz: small products built from the shared real SAFE metadata, their annotation,
calibration, noise and manifest XML corrupted (truncated, elements missing, renamed, swapped or
duplicated, values NaN/inf/negative/non-numeric, in other units, vectors shuffled or of the
wrong length) or their measurement TIFF's bytes; read with ``Sentinel1Product(...).read`` and
run through ``predict_scene``: each case ends in a result or a named sargeo error that names
the product, and leaves no partial output (see tests/fuzzing.py to replay a case)."""

from __future__ import annotations

import math
import shutil
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sargeo.datasets.safe import Sentinel1Product
from sargeo.inference import predict_scene
from sargeo.inference.cfar import CFARShipDetector
from tests.datasets.safe_factory import build_product
from tests.fuzzing import Case, case_indices, case_rng, corrupt_tiff, outcome, scene_failure

CASES = 90
#: every 64th line and pixel of the real products: 393 x 305 px, 640 m pixels
SCALE = 64
#: annotation parts sargeo does not read (1.6 of its 1.8 MB): dropped to keep cases fast
UNUSED = ("antennaPattern", "dopplerCentroid", "coordinateConversion")
#: the elements sargeo reads, by the root tag of their file
READ = {
    "product": ["adsHeader/polarisation", "adsHeader/missionId", "adsHeader/mode",
                "adsHeader/productType", "adsHeader/startTime",
                "imageAnnotation/imageInformation/numberOfSamples",
                "imageAnnotation/imageInformation/numberOfLines",
                "imageAnnotation/imageInformation/rangePixelSpacing",
                "imageAnnotation/imageInformation/azimuthPixelSpacing",
                "imageAnnotation/processingInformation/thermalNoiseCorrectionPerformed",
                *(f"geolocationGrid/geolocationGridPointList/geolocationGridPoint/{tag}"
                  for tag in ("line", "pixel", "latitude", "longitude", "height",
                              "incidenceAngle")),
                "geolocationGrid/geolocationGridPointList/geolocationGridPoint"],
    "calibration": ["adsHeader/polarisation", "calibrationVectorList/calibrationVector",
                    *(f"calibrationVectorList/calibrationVector/{tag}" for tag in
                      ("line", "pixel", "sigmaNought", "betaNought", "gamma", "dn"))],
    "noise": ["adsHeader/polarisation", "noiseRangeVectorList/noiseRangeVector",
              *(f"noiseRangeVectorList/noiseRangeVector/{tag}" for tag in
                ("line", "pixel", "noiseRangeLut")),
              "noiseAzimuthVectorList/noiseAzimuthVector",
              *(f"noiseAzimuthVectorList/noiseAzimuthVector/{tag}" for tag in
                ("firstAzimuthLine", "lastAzimuthLine", "firstRangeSample",
                 "lastRangeSample", "line", "noiseAzimuthLut"))],
}
BAD_VALUES = ("NaN", "nan", "inf", "-inf", "Infinity", "1e400", "-1", "0", "-1e9", "1e30",
              "1e39", "1e300", "1e-30", "1e-300", "5e-324", "abc", "", "1,5", "12.5.3", "0x10",
              "  ")
#: a value in other units: km for m, radians for degrees, 10x, dB of a gain
UNIT_SWAPS = {"m->km": lambda v: v * 1e-3, "km->m": lambda v: v * 1e3,
              "deg->rad": math.radians, "negated": lambda v: -v,
              "linear->dB": lambda v: 10 * math.log10(v) if v > 0 else -math.inf,
              "dB->linear": lambda v: 10 ** (v / 10) if v < 3000 else math.inf}


def _drop_unused(name: str, root: ET.Element) -> None:
    for tag in UNUSED:
        for elem in root.findall(tag):
            root.remove(elem)


@pytest.fixture(scope="module")
def bases(safe_sources, tmp_path_factory) -> list[Path]:
    """Both shared products, reduced, as .SAFE folders."""
    root = tmp_path_factory.mktemp("fuzzbase")
    return [build_product(s, root / f"p{i}", scale=SCALE, as_zip=False, edit=_drop_unused)
            for i, s in enumerate(safe_sources)]


def _zip(safe: Path) -> Path:
    """``NAME.SAFE`` zipped beside itself as ESA distributes it (``NAME.SAFE/`` inside)."""
    archive = safe.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(safe.rglob("*")):
            if path.is_file():
                zf.write(path, f"{safe.name}/{path.relative_to(safe).as_posix()}")
    return archive


def _numbers(text: str | None) -> list[str]:
    return (text or "").split()


def mutate_xml(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    """``data`` (an annotation, calibration, noise or manifest file) with one corruption of
    what sargeo reads, and what it was."""
    kind = str(rng.choice(["truncate", "garbage", "remove", "value", "text", "shuffle",
                           "length", "negative-lines", "swap", "units", "duplicate",
                           "rename", "empty-list", "remove-any"]))
    if kind == "truncate":
        at = int(rng.integers(0, len(data)))
        return data[:at], f"truncated at byte {at} of {len(data)}"
    if kind == "garbage":
        buf = bytearray(data)
        at = int(rng.integers(0, len(buf)))
        n = int(rng.integers(1, 17))
        buf[at:at + n] = rng.bytes(len(buf[at:at + n]))
        return bytes(buf), f"bytes {at}..{at + n} overwritten"
    root = ET.fromstring(data)
    parents = {child: parent for parent in root.iter() for child in parent}
    paths = READ.get(root.tag)
    if paths is None or kind == "remove-any":  # manifest, or anything anywhere
        elems = [e for e in root.iter() if e is not root]
        path = "(any)"
    else:
        path = str(rng.choice(paths))
        elems = root.findall(path)
    if not elems:
        return data, f"{kind}: no <{path}> to corrupt (unchanged)"
    k = int(rng.integers(len(elems)))
    elem = elems[k]
    where = f"<{elem.tag}> #{k} of {path}"
    numbers = _numbers(elem.text)
    if kind in ("remove", "remove-any"):
        parents[elem].remove(elem)
        what = "removed"
    elif kind == "value" and numbers:
        i = int(rng.integers(len(numbers)))
        n = int(rng.integers(1, len(numbers) - i + 1))
        bad = str(rng.choice(BAD_VALUES))
        elem.text = " ".join(numbers[:i] + [bad] * n + numbers[i + n:])
        what = f"values {i}..{i + n - 1} := {bad!r}"
    elif kind in ("value", "text"):
        elem.text = str(rng.choice(BAD_VALUES))
        what = f"text := {elem.text!r}"
    elif kind == "shuffle" and len(numbers) > 1:
        elem.text = " ".join(rng.permutation(numbers))
        what = "values shuffled"
    elif kind == "length" and numbers:
        n = int(rng.integers(1, 4))
        if rng.random() < 0.5:
            elem.text = " ".join(numbers[:-n] if len(numbers) > n else [])
            what = f"{n} values dropped"
        else:
            elem.text = " ".join(numbers + numbers[:1] * n)
            what = f"{n} values added"
    elif kind == "negative-lines":
        for line in root.iter():
            if line.tag in ("line", "firstAzimuthLine", "lastAzimuthLine") and line.text:
                line.text = " ".join(f"-{v}" for v in _numbers(line.text))
        what = "every line negated"
    elif kind == "swap":
        siblings = [e for e in parents[elem] if e is not elem] if elem in parents else []
        if not siblings:
            return data, f"{kind}: {where} has no sibling (unchanged)"
        other = siblings[int(rng.integers(len(siblings)))]
        elem.text, other.text = other.text, elem.text
        what = f"text swapped with <{other.tag}>"
    elif kind == "units" and numbers:
        name = str(rng.choice(list(UNIT_SWAPS)))
        try:
            elem.text = " ".join(repr(UNIT_SWAPS[name](float(v))) for v in numbers)
        except ValueError:
            return data, f"{kind}: {where} is not numeric (unchanged)"
        what = f"in other units ({name})"
    elif kind == "duplicate" and elem in parents:
        parent = parents[elem]
        parent.insert(list(parent).index(elem), ET.fromstring(ET.tostring(elem)))
        what = "duplicated"
    elif kind == "rename":
        elem.tag = elem.tag + "X"
        what = f"renamed to <{elem.tag}>"
    elif kind == "empty-list":
        parent = parents.get(elem, root)
        for child in list(parent):
            parent.remove(child)
        what = f"every child of <{parent.tag}> removed"
    else:
        return data, f"{kind}: {where} holds no numbers (unchanged)"
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True), f"{where}: {what}"


def _check_read(result: list[tuple[np.ndarray, tuple[int, ...]]]) -> str | None:
    for values, shape in result:
        if values.dtype != np.float32 or values.shape != shape:
            return f"read returned {values.dtype} {values.shape}, expected float32 {shape}"
        found = values[~np.isnan(values)]
        if (found < 0).any() or not np.isfinite(found).all():
            return f"read returned values outside [0, inf): {found.min()} .. {found.max()}"
    return None


def _read(path: Path, rng: np.random.Generator) -> list[tuple[np.ndarray, tuple[int, ...]]]:
    """A small random window, then the whole (small) image, of a random quantity."""
    with Sentinel1Product(path) as product:
        n, h, w = len(product.polarisations), product.height, product.width
        row, col = int(rng.integers(0, max(1, h - 24))), int(rng.integers(0, max(1, w - 24)))
        window = ((row, min(row + 24, h)), (col, min(col + 24, w)))
        quantity = str(rng.choice(["sigma0", "sigma0", "beta0", "gamma0", "dn"]))
        denoise = bool(rng.random() < 0.8)
        return [(product.read(window, quantity, denoise=denoise),
                 (n, window[0][1] - row, window[1][1] - col)),
                (product.read(None, quantity, denoise=denoise), (n, h, w))]


@pytest.mark.slow
def test_corrupt_products_end_in_a_result_or_a_named_error(bases, tmp_path):
    failures = []
    for index in case_indices(CASES):
        rng = case_rng(index)
        base = bases[int(rng.integers(len(bases)))]
        folder = tmp_path / f"case{index}"
        product = shutil.copytree(base, folder / base.name)
        files = sorted(p for p in product.rglob("*") if p.is_file() and "rfi" not in p.parts)
        weights = np.array([1.0 if p.name == "manifest.safe" or p.suffix == ".tiff" else 3.0
                            for p in files])
        target = files[int(rng.choice(len(files), p=weights / weights.sum()))]
        if target.suffix == ".tiff":
            data, mutation = corrupt_tiff(target.read_bytes(), rng)
        else:
            data, mutation = mutate_xml(target.read_bytes(), rng)
        target.write_bytes(data)
        path, zipped = product, ""
        if rng.random() < 0.25:
            path, zipped = _zip(product), " (zipped)"
            if rng.random() < 0.5:  # and the zip's own bytes
                buf = bytearray(path.read_bytes())
                at, n = int(rng.integers(len(buf))), int(rng.integers(1, 17))
                buf[at:at + n] = rng.bytes(len(buf[at:at + n]))
                path.write_bytes(bytes(buf))
                zipped = f" (zipped, zip bytes {at}..{at + n} overwritten)"
        case = Case(index, base, f"{target.relative_to(product)}: {mutation}{zipped}")
        failure = outcome(case, lambda path=path, rng=rng: _read(path, rng), (str(path),),
                          _check_read)
        if failure is None and rng.random() < 0.3:
            out = folder / "out"

            failure = scene_failure(case, lambda path=path, out=out: predict_scene(
                path, CFARShipDetector(tile_size=128, overlap=16, pixel_size_m=10.0), out,
                progress=False), path, out)
        if failure:
            failures.append(failure)
        shutil.rmtree(folder)
    assert not failures, f"{len(failures)} of {len(case_indices(CASES))} cases:\n" + "\n".join(
        failures[:15])
