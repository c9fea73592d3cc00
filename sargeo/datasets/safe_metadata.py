"""The XML of a Sentinel-1 GRD SAFE product: annotation, calibration, noise and manifest.

Parsed with the standard library's ElementTree into plain numpy arrays. Line and pixel
coordinates are read as floats (ESA writes integers; a reduced copy of a product may not).

The look-up tables are sparse: a few dozen vectors, each at one image line, each with its own
list of pixels (:class:`VectorLUT`). ESA's product specification and its note "Sentinel-1 Level 1
Detected Products: radiometric calibration" say to interpolate them bilinearly: within each
vector along the pixels, then linearly between the two vectors that bracket a line. Outside the
first/last vector or pixel the value is held constant.

Thermal noise comes in two layouts: IPF >= 2.9 gives range vectors (``noiseRangeVectorList``)
times azimuth vectors (``noiseAzimuthVectorList``: each valid for a block of lines and range
samples, interpolated along its lines); older products give range vectors only
(``noiseVectorList``), for which the azimuth factor is 1. It is 1 too outside every azimuth block.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import numpy as np

from sargeo.errors import error_text

#: what to do about a file that cannot be used
REDOWNLOAD = "the product is probably truncated or damaged: download it again"
#: calibration gains outside this range hold no Sentinel-1 table (real ones are a few hundred):
#: DN^2 / A^2 would overflow float32 or vanish
GAIN_RANGE = (1e-12, 1e12)
#: noise values above this are no Sentinel-1 noise (real ones: below 1e5 DN^2); range times
#: azimuth stays finite in float32
NOISE_MAX = 1e12


class ProductError(ValueError):
    """A Sentinel-1 product cannot be used as given; the message names the file, what is wrong
    and what to do."""


def parse_xml(data: bytes, name: str) -> ET.Element:
    """The root element of ``data``, or a :class:`ProductError` naming ``name``."""
    try:
        return ET.fromstring(data)
    except ET.ParseError as err:
        raise ProductError(f"{name} is not readable XML ({error_text(err)}); {REDOWNLOAD}") \
            from err


def _element(node: ET.Element, path: str, name: str) -> ET.Element:
    found = node.find(path)
    if found is None:
        raise ProductError(f"{name} has no <{path}> under <{node.tag}>; {REDOWNLOAD}")
    return found


def _text(node: ET.Element, path: str, name: str) -> str:
    text = (_element(node, path, name).text or "").strip()
    if not text:
        raise ProductError(f"{name}: <{path}> under <{node.tag}> is empty; {REDOWNLOAD}")
    return text


def _numbers(node: ET.Element, path: str, name: str, *, positive: bool = False,
             finite: bool = True) -> np.ndarray:
    """The whitespace-separated numbers of ``node/path`` as float64 (one or more)."""
    text = _text(node, path, name)
    try:
        values = np.array(text.split(), dtype=np.float64)
    except ValueError as err:
        raise ProductError(f"{name}: <{path}> holds a value that is not a number "
                           f"({error_text(err)}); {REDOWNLOAD}") from err
    if finite and not np.isfinite(values).all():
        raise ProductError(f"{name}: <{path}> holds NaN or infinite values; {REDOWNLOAD}")
    if positive and not (values > 0).all():
        raise ProductError(f"{name}: <{path}> holds values <= 0 where only positive ones "
                           f"make sense; {REDOWNLOAD}")
    return values


def _number(node: ET.Element, path: str, name: str, **kw: bool) -> float:
    values = _numbers(node, path, name, **kw)
    if values.size != 1:
        raise ProductError(f"{name}: <{path}> holds {values.size} values, not one; {REDOWNLOAD}")
    return float(values[0])


@dataclass(frozen=True)
class VectorLUT:
    """A look-up table given as vectors at some lines, each over its own pixels.

    ``lines`` (n,) strictly increasing; ``pixels[i]`` and ``values[i]`` one vector's nodes
    (strictly increasing pixels). :meth:`window` interpolates it bilinearly over a block.
    """

    name: str
    lines: np.ndarray
    pixels: tuple[np.ndarray, ...]
    values: tuple[np.ndarray, ...]
    shared_pixels: bool = field(init=False)  #: every vector has the same pixel list
    _stack: np.ndarray | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        shared = all(p.shape == self.pixels[0].shape and np.array_equal(p, self.pixels[0])
                     for p in self.pixels)
        object.__setattr__(self, "shared_pixels", shared)
        object.__setattr__(self, "_stack", np.stack(self.values) if shared else None)

    def same_as(self, other: VectorLUT) -> bool:
        """The same nodes and values."""
        return (self.lines.shape == other.lines.shape and np.array_equal(self.lines, other.lines)
                and all(p.shape == q.shape and np.array_equal(p, q) and np.array_equal(v, w)
                        for p, q, v, w in zip(self.pixels, other.pixels, self.values,
                                              other.values, strict=True)))

    def at_columns(self, first: int, last: int, cols: np.ndarray) -> np.ndarray:
        """Vectors ``first..last`` (inclusive) interpolated at ``cols``: (k, len(cols))."""
        if not self.shared_pixels:  # each vector over its own pixels
            return np.stack([np.interp(cols, self.pixels[i], self.values[i])
                             for i in range(first, last + 1)])
        px = self.pixels[0]
        if px.size == 1:
            return np.repeat(self._stack[first:last + 1], cols.size, axis=1)
        j = np.clip(np.searchsorted(px, cols, side="right") - 1, 0, px.size - 2)
        t = np.clip((cols - px[j]) / (px[j + 1] - px[j]), 0.0, 1.0)
        block = self._stack[first:last + 1]
        return block[:, j] + t * (block[:, j + 1] - block[:, j])

    def window(self, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
        """The table interpolated over lines ``rows[0]:rows[1]`` and pixels
        ``cols[0]:cols[1]`` (float32, shape (h, w))."""
        r = np.arange(rows[0], rows[1], dtype=np.float64)
        c = np.arange(cols[0], cols[1], dtype=np.float64)
        n = self.lines.size
        if n == 1:
            return np.broadcast_to(self.at_columns(0, 0, c).astype(np.float32),
                                   (r.size, c.size)).copy()
        i = np.clip(np.searchsorted(self.lines, r, side="right") - 1, 0, n - 2)
        t = np.clip((r - self.lines[i]) / (self.lines[i + 1] - self.lines[i]), 0.0, 1.0)
        lo, hi = int(i[0]), int(i[-1])  # rows increase: one run of rows per vector pair
        vec = self.at_columns(lo, hi + 1, c).astype(np.float32)
        out = np.empty((r.size, c.size), dtype=np.float32)
        t32 = t.astype(np.float32)[:, None]
        bounds = np.searchsorted(i, np.arange(lo, hi + 2))
        for k in range(hi - lo + 1):
            s = slice(bounds[k], bounds[k + 1])
            if s.start == s.stop:
                continue
            np.multiply(t32[s], vec[k + 1] - vec[k], out=out[s])
            out[s] += vec[k]
        return out


def _vector_lut(vectors: list[ET.Element], value_tag: str, name: str) -> VectorLUT:
    """A :class:`VectorLUT` from vector elements holding ``line``, ``pixel`` and ``value_tag``;
    vectors are sorted by line, their nodes checked."""
    if not vectors:
        raise ProductError(f"{name} holds no {value_tag} vectors; {REDOWNLOAD}")
    rows = []
    for vec in vectors:
        line = _number(vec, "line", name)
        pixels = _numbers(vec, "pixel", name)
        values = _numbers(vec, value_tag, name)
        if pixels.size != values.size:
            raise ProductError(f"{name}: the vector at line {line:g} has {pixels.size} pixels "
                               f"but {values.size} {value_tag} values; {REDOWNLOAD}")
        if pixels.size > 1 and not (np.diff(pixels) > 0).all():
            raise ProductError(f"{name}: the pixels of the vector at line {line:g} do not "
                               f"increase; {REDOWNLOAD}")
        rows.append((line, pixels, values))
    rows.sort(key=lambda row: row[0])
    lines = np.array([row[0] for row in rows])
    if lines.size > 1 and not (np.diff(lines) > 0).all():
        raise ProductError(f"{name}: two {value_tag} vectors at the same line; {REDOWNLOAD}")
    return VectorLUT(value_tag, lines, tuple(r[1] for r in rows), tuple(r[2] for r in rows))


@dataclass(frozen=True)
class GeolocationGrid:
    """The annotation's tie points, each array of shape (n,)."""

    line: np.ndarray
    pixel: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    height: np.ndarray
    incidence_angle: np.ndarray  #: degrees


@dataclass(frozen=True)
class Annotation:
    """What sargeo uses of a product annotation (``annotation/s1?-*.xml``)."""

    polarisation: str
    mission: str  #: S1A, S1B, ...
    mode: str  #: IW, EW, SM
    product_type: str  #: GRD
    start_time: str
    stop_time: str
    pass_direction: str  #: Ascending / Descending
    samples: int  #: image width
    lines: int  #: image height
    range_spacing: float  #: metres
    azimuth_spacing: float  #: metres
    noise_removed: bool  #: thermalNoiseCorrectionPerformed (then noise is not removed again)
    grid: GeolocationGrid


def parse_annotation(data: bytes, name: str) -> Annotation:
    """Parse a product annotation; :class:`ProductError` for anything missing or malformed."""
    root = parse_xml(data, name)
    if root.tag != "product":
        raise ProductError(f"{name} is a <{root.tag}> file, not a product annotation "
                           f"(<product>); {REDOWNLOAD}")
    header = _element(root, "adsHeader", name)
    image = _element(root, "imageAnnotation/imageInformation", name)
    points = root.findall("geolocationGrid/geolocationGridPointList/geolocationGridPoint")
    if len(points) < 3:
        raise ProductError(f"{name}: the geolocation grid has {len(points)} tie points, too "
                           f"few to georeference; {REDOWNLOAD}")
    tags = ("line", "pixel", "latitude", "longitude", "height", "incidenceAngle")
    values = np.array([[_number(p, tag, name) for tag in tags] for p in points])
    grid = GeolocationGrid(*values.T)
    if (np.abs(grid.latitude) > 90).any() or (np.abs(grid.longitude) > 360).any():
        raise ProductError(f"{name}: tie point latitudes/longitudes out of range; {REDOWNLOAD}")
    samples = _number(image, "numberOfSamples", name, positive=True)
    lines = _number(image, "numberOfLines", name, positive=True)
    if samples != int(samples) or lines != int(lines):
        raise ProductError(f"{name}: the image size {samples:g} x {lines:g} is not whole "
                           f"pixels; {REDOWNLOAD}")
    noise_flag = root.findtext(
        "imageAnnotation/processingInformation/thermalNoiseCorrectionPerformed", "false")
    return Annotation(
        polarisation=_text(header, "polarisation", name).upper(),
        mission=_text(header, "missionId", name), mode=_text(header, "mode", name),
        product_type=_text(header, "productType", name),
        start_time=_text(header, "startTime", name), stop_time=_text(header, "stopTime", name),
        pass_direction=root.findtext("generalAnnotation/productInformation/pass", ""),
        samples=int(samples), lines=int(lines),
        range_spacing=_number(image, "rangePixelSpacing", name, positive=True),
        azimuth_spacing=_number(image, "azimuthPixelSpacing", name, positive=True),
        noise_removed=noise_flag.strip().lower() == "true", grid=grid)


#: calibration look-up tables and the quantity each calibrates to
CALIBRATION_TABLES = {"sigma0": "sigmaNought", "beta0": "betaNought", "gamma0": "gamma",
                      "dn": "dn"}


@dataclass(frozen=True)
class Calibration:
    """The calibration vectors of one polarisation, by quantity (sigma0, beta0, gamma0, dn)."""

    polarisation: str
    tables: dict[str, VectorLUT]


def parse_calibration(data: bytes, name: str) -> Calibration:
    """Parse ``annotation/calibration/calibration-*.xml``."""
    root = parse_xml(data, name)
    if root.tag != "calibration":
        raise ProductError(f"{name} is a <{root.tag}> file, not a calibration file; "
                           f"{REDOWNLOAD}")
    vectors = root.findall("calibrationVectorList/calibrationVector")
    tables = {q: _vector_lut(vectors, tag, name) for q, tag in CALIBRATION_TABLES.items()}
    for quantity, table in tables.items():
        if not all((v > 0).all() for v in table.values):
            raise ProductError(f"{name}: {CALIBRATION_TABLES[quantity]} holds values <= 0; "
                               f"calibration divides by them; {REDOWNLOAD}")
        lo, hi = GAIN_RANGE
        if not all(((v >= lo) & (v <= hi)).all() for v in table.values):
            raise ProductError(f"{name}: {CALIBRATION_TABLES[quantity]} holds values outside "
                               f"[{lo:g}, {hi:g}], which no Sentinel-1 calibration table "
                               f"holds (calibrated values would overflow); {REDOWNLOAD}")
    polarisation = _text(_element(root, "adsHeader", name), "polarisation", name).upper()
    return Calibration(polarisation, tables)


@dataclass(frozen=True)
class AzimuthBlock:
    """One azimuth noise vector: valid for lines ``first_line..last_line`` and range samples
    ``first_sample..last_sample`` (inclusive), interpolated along ``lines``."""

    first_line: float
    last_line: float
    first_sample: float
    last_sample: float
    lines: np.ndarray
    values: np.ndarray

    def factor(self, rows: tuple[int, int], cols: tuple[int, int]
               ) -> tuple[slice, slice, np.ndarray] | None:
        """Where the block meets the window ``rows`` x ``cols`` (slices relative to the window)
        and its factor along those rows (float32, (h, 1)); None where they do not meet."""
        r0 = max(rows[0], int(np.ceil(self.first_line)))
        r1 = min(rows[1], int(np.floor(self.last_line)) + 1)
        c0 = max(cols[0], int(np.ceil(self.first_sample)))
        c1 = min(cols[1], int(np.floor(self.last_sample)) + 1)
        if r0 >= r1 or c0 >= c1:
            return None
        f = np.interp(np.arange(r0, r1, dtype=np.float64), self.lines, self.values)
        return (slice(r0 - rows[0], r1 - rows[0]), slice(c0 - cols[0], c1 - cols[0]),
                f.astype(np.float32)[:, None])


@dataclass(frozen=True)
class Noise:
    """Thermal noise of one polarisation: range vectors times azimuth blocks (none in the
    older, range-only layout)."""

    polarisation: str
    range: VectorLUT
    azimuth: tuple[AzimuthBlock, ...]
    layout: str  #: "range+azimuth" (IPF >= 2.9) or "range" (older)

    def window(self, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
        """The noise power (DN^2 units) over a window, float32 (h, w)."""
        out = self.range.window(rows, cols)
        for block in self.azimuth:
            hit = block.factor(rows, cols)
            if hit is not None:
                rs, cs, f = hit
                out[rs, cs] *= f
        return out


def parse_noise(data: bytes, name: str) -> Noise:
    """Parse ``annotation/calibration/noise-*.xml`` in either layout."""
    root = parse_xml(data, name)
    if root.tag != "noise":
        raise ProductError(f"{name} is a <{root.tag}> file, not a noise file; {REDOWNLOAD}")
    polarisation = _text(_element(root, "adsHeader", name), "polarisation", name).upper()
    if root.find("noiseRangeVectorList") is not None:
        rng = _vector_lut(root.findall("noiseRangeVectorList/noiseRangeVector"),
                          "noiseRangeLut", name)
        blocks = []
        for vec in root.findall("noiseAzimuthVectorList/noiseAzimuthVector"):
            lines = _numbers(vec, "line", name)
            values = _numbers(vec, "noiseAzimuthLut", name)
            if lines.size != values.size or (lines.size > 1 and not (np.diff(lines) > 0).all()):
                raise ProductError(f"{name}: an azimuth noise vector has {lines.size} lines "
                                   f"(increasing: required) and {values.size} values; "
                                   f"{REDOWNLOAD}")
            blocks.append(AzimuthBlock(
                _number(vec, "firstAzimuthLine", name), _number(vec, "lastAzimuthLine", name),
                _number(vec, "firstRangeSample", name), _number(vec, "lastRangeSample", name),
                lines, values))
        layout = "range+azimuth"
    elif root.find("noiseVectorList") is not None:
        rng = _vector_lut(root.findall("noiseVectorList/noiseVector"), "noiseLut", name)
        blocks, layout = [], "range"
    else:
        raise ProductError(f"{name} has neither <noiseRangeVectorList> (IPF >= 2.9) nor "
                           f"<noiseVectorList> (older products); {REDOWNLOAD}")
    if any((v < 0).any() for v in rng.values) or any((b.values < 0).any() for b in blocks):
        raise ProductError(f"{name}: noise power below 0; {REDOWNLOAD}")
    if any((v > NOISE_MAX).any() for v in rng.values) or any(
            (b.values > NOISE_MAX).any() for b in blocks):
        raise ProductError(f"{name}: noise values above {NOISE_MAX:g}, which no Sentinel-1 "
                           f"noise table holds (noise removal would overflow); {REDOWNLOAD}")
    return Noise(polarisation, rng, tuple(blocks), layout)


@dataclass(frozen=True)
class Manifest:
    """What sargeo uses of ``manifest.safe``."""

    mission: str  #: e.g. SENTINEL-1A
    mode: str
    product_type: str
    polarisations: tuple[str, ...]
    pass_direction: str
    ipf_version: str
    measurements: tuple[str, ...]  #: measurement files it lists, relative to the SAFE root


def parse_manifest(data: bytes, name: str) -> Manifest:
    """Parse ``manifest.safe`` (namespaced XFDU); missing optional fields become ""."""
    root = parse_xml(data, name)

    def texts(tag: str) -> list[str]:
        return [(e.text or "").strip() for e in root.findall(f".//{{*}}{tag}")]

    def first(tag: str) -> str:
        found = texts(tag)
        return found[0] if found else ""

    software = next((e for e in root.findall(".//{*}software")
                     if e.get("name") == "Sentinel-1 IPF"), None)
    hrefs = [e.get("href", "") for e in root.findall(".//{*}fileLocation")]
    measurements = tuple(h.removeprefix("./") for h in hrefs
                         if h.removeprefix("./").startswith("measurement/"))
    family = first("familyName")
    return Manifest(mission=f"{family}{first('number')}", mode=first("mode"),
                    product_type=first("productType"),
                    polarisations=tuple(p.upper() for p in
                                        texts("transmitterReceiverPolarisation")),
                    pass_direction=first("pass"),
                    ipf_version=software.get("version", "") if software is not None else "",
                    measurements=measurements)
