"""What a scene holds: its units and its nodata, from what its metadata or the user states.

Units (:class:`sargeo.units.Units`) are never guessed from the values: float values in
[-50, 10] with many negatives may be sigma0 in dB, gamma0 in dB or something else altogether,
and integer values may be DN, scaled dB or a quicklook. What counts as a statement, in order:

1. ``--units`` (``units=`` in :func:`~sargeo.inference.engine.predict_scene`); it overrides
   the metadata, with a note when they disagree;
2. the ``SARGEO_UNITS`` tag that sargeo's own writers add (``sigma0-linear:VV,VH``);
3. tags and band metadata named like units (``UNITS``, ``unit``, GDAL's band unit type), read
   for a quantity (sigma0, beta0, gamma0, DN) and a scale (dB, linear/power, amplitude);
4. band descriptions: SNAP's band names (``Sigma0_VV_db``, ``Gamma0_VH``: linear unless
   ``_db``; ``Amplitude_VV``, ``Intensity_VV``: DN), or words such as ``VV (dB)``;
5. the file name: a ``db`` or ``linear`` token and sigma0/beta0/gamma0 (``..._norm_db.tif``).

Polarisations come from band descriptions (``VV``, ``Sigma0_VH_db``) or, for a one-band file,
its name (``..._VV.tif``). Statements that disagree are refused; a stated linear or amplitude
scene whose values are mostly negative (more than :data:`NEGATIVE_LIMIT`) is refused too.
Where nothing states the scale, the units are unknown: a model that states what it expects
refuses the scene and asks for ``--units``.

Nodata: NaN and infinity, the declared nodata value (the file's, or ``--nodata VALUE``, which
replaces it; ``--nodata none`` declares there is none). A scene in linear power or amplitude
that declares no nodata value has 0 treated as nodata (Sentinel-1 GRD borders are 0 without a
tag), and the user is told how many pixels that takes; ``--nodata none`` keeps zeros as data.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sargeo.units import (
    CALIBRATED,
    POLARISATIONS,
    UNITS_HELP,
    UNITS_TAG,
    Units,
    UnitsError,
    check_units,
    read_statement,
)

#: a scene said to hold linear power or amplitude with more negative values than this share is
#: refused (power never is negative; a little is left by thermal noise removal)
NEGATIVE_LIMIT = 0.25
#: side of the sample that checks values and counts zeros: a scene up to this size is read
#: whole, a larger one as about SAMPLE_SIDE^2 pixels of whole blocks spread evenly over it
SAMPLE_SIDE = 1024
#: tag keys (lower case) read as units statements
UNIT_KEYS = ("units", "unit", "unittype", "unit_type", "physical_unit", "sar_units")
#: values of sargeo's tag on its own non-SAR outputs
SARGEO_OUTPUTS = {"class": "class ids", "probability": "class probabilities"}
_SNAP_DN = re.compile(r"^(amplitude|intensity)_(hh|hv|vh|vv)(_db)?$", re.IGNORECASE)
_POL = re.compile(r"(?<![a-z])(hh|hv|vh|vv)(?![a-z])", re.IGNORECASE)


class InputWarning(UserWarning):
    """Something the user should know about a scene's values (zeros taken as nodata, --units
    overriding the metadata)."""


@dataclass(frozen=True)
class InputDescription:
    """What :func:`describe_input` found."""

    units: Units | None  #: what the values are; None: nothing states it
    origin: str  #: where ``units`` came from, or why they are unknown
    nodata: tuple[float | None, ...]  #: per band read, after ``--nodata``
    zero_nodata: bool  #: 0 is treated as nodata (see module docstring)
    notes: tuple[str, ...]  #: what the user should be told


def parse_nodata(text: str | float | None) -> float | str | None:
    """``--nodata``: a number (``nan`` included), or ``none`` (no nodata value)."""
    if text is None or isinstance(text, int | float):
        return text
    if str(text).strip().lower() == "none":
        return "none"
    try:
        return float(text)
    except ValueError as err:
        raise ValueError(f"--nodata {text!r}: give a number (e.g. 0, -9999, nan) or 'none'"
                         ) from err


def _pol_of(text: str) -> str | None:
    found = {m.upper() for m in _POL.findall(text or "")}
    return found.pop() if len(found) == 1 else None


def statements(path: Path, tags: dict[str, str], band_tags: Sequence[dict[str, str]],
               band_units: Sequence[str], descriptions: Sequence[str]
               ) -> list[tuple[str, str | None, str | None]]:
    """``(where, quantity, scale)`` for each piece of metadata that states either (module
    docstring, items 2-5); :class:`UnitsError` for a malformed ``SARGEO_UNITS`` tag."""
    out: list[tuple[str, str | None, str | None]] = []

    def add(where: str, text: str) -> None:
        try:
            out.append((where, *read_statement(text)))
        except UnitsError as err:
            raise UnitsError(f"{path}: {where} is unclear ({err}); pass --units") from err

    lowered = {k.lower(): (k, v) for k, v in tags.items()}
    if UNITS_TAG.lower() in lowered:
        key, value = lowered.pop(UNITS_TAG.lower())
        if value.strip().lower() in SARGEO_OUTPUTS:
            raise UnitsError(f"{path}: holds {SARGEO_OUTPUTS[value.strip().lower()]} written "
                             "by sargeo infer (its SARGEO_UNITS tag), not SAR values")
        try:
            units = Units.parse(value)
        except UnitsError as err:
            raise UnitsError(f"{path}: its {key} tag is not a units statement ({err}); fix "
                             "the tag or pass --units") from err
        out.append((f"its {key} tag", units.quantity, units.scale))
    for key, (name, value) in lowered.items():
        if key in UNIT_KEYS or key.endswith(("_units", "_unit")):
            add(f"its {name} tag {value!r}", value)
    for i, (btags, unit, desc) in enumerate(zip(band_tags, band_units, descriptions,
                                                strict=True), start=1):
        for name, value in btags.items():
            if name.lower() in UNIT_KEYS:
                add(f"band {i}'s {name} {value!r}", value)
        if unit:
            add(f"band {i}'s unit {unit!r}", unit)
        snap = _SNAP_DN.match(desc or "")
        if snap:
            scale = "db" if snap.group(3) else ("amplitude" if snap.group(1).lower()
                                                == "amplitude" else "linear")
            out.append((f"band {i}'s description {desc!r}", "dn", scale))
        elif desc:
            add(f"band {i}'s description {desc!r}", desc)
            if re.match(r"^(sigma|beta|gamma)0_(hh|hv|vh|vv)$", desc, re.IGNORECASE):
                out[-1] = (*out[-1][:2], "linear")  # SNAP: Sigma0_VV linear, Sigma0_VV_db dB
    words = re.sub(r"[\s_\-.]+", " ", path.stem.lower())
    scale = "db" if re.search(r"\bdb\b", words) else "linear" if re.search(
        r"\blinear\b", words) else None
    quantity, _ = read_statement(re.sub(r"\b(dn|image|db|linear)\b", " ", words))
    quantity = quantity if quantity in CALIBRATED else None
    out.append(("its file name", quantity, scale))
    return [s for s in out if s[1] is not None or s[2] is not None]


def _agree(path: Path, found: list[tuple[str, str | None, str | None]], k: int,
           what: str) -> str | None:
    values = {s[k] for s in found if s[k] is not None}
    if len(values) > 1:
        said = "; ".join(f"{s[0]} says {s[k]}" for s in found if s[k] is not None)
        raise UnitsError(f"{path}: its metadata disagrees about the {what} ({said}); pass "
                         f"--units to say what it holds ({UNITS_HELP})")
    return values.pop() if values else None


def metadata_units(path: Path, src: Any, bands: Sequence[int]) -> tuple[Units | None, str]:
    """The units the file's metadata states for ``bands`` (1-based), and where they come from
    (or why they are unknown)."""
    descriptions = [src.descriptions[b - 1] or "" for b in bands]
    band_units = [(src.units[b - 1] or "") if src.units else "" for b in bands]
    found = statements(path, dict(src.tags()), [dict(src.tags(b)) for b in bands], band_units,
                       descriptions)
    quantity = _agree(path, found, 1, "quantity")
    scale = _agree(path, found, 2, "scale")
    pols = [_pol_of(d) for d in descriptions]
    tag = next((v for k, v in src.tags().items() if k.lower() == UNITS_TAG.lower()), None)
    tagged = Units.parse(tag).polarisations if tag else None  # checked by statements()
    if not all(pols) and tagged and len(tagged) == src.count:
        pols = [tagged[b - 1] for b in bands]
    if len(bands) == 1 and pols[0] is None:
        pols = [_pol_of(re.sub(r"[_\-.]", " ", path.stem))]
    polarisations = tuple(pols) if all(pols) else None  # type: ignore[arg-type]
    if scale is None:
        dtype = src.dtypes[bands[0] - 1]
        described = ", ".join(repr(d) for d in descriptions if d)
        parts = [f"{s[0]} says {s[1]} but not the scale" for s in found]
        parts += [f"no {UNITS_TAG} or units tag",
                  f"no unit in the band descriptions ({described})" if described
                  else "no band descriptions", "no units in the file name",
                  f"{dtype} integers (DN, scaled dB or an image?)" if np.issubdtype(
                      np.dtype(dtype), np.integer) else f"{dtype} values"]
        return None, "nothing in its metadata states the units: " + "; ".join(parts)
    return Units(quantity, scale, polarisations), "from " + ", ".join(
        s[0] for s in found if s[2] is not None or s[1] is not None)


def describe_input(src: Any, path: Path, bands: Sequence[int], *,
                   units: Units | str | None = None,
                   nodata: float | str | None = None) -> InputDescription:
    """Units and nodata of ``bands`` of the open dataset ``src`` (see module docstring)."""
    notes: list[str] = []
    if units is not None:
        given = Units.parse(units)
        try:
            stated, where = metadata_units(path, src, bands)
        except UnitsError as err:
            stated, where = None, ""
            notes.append(f"--units {given} used; its metadata says: {err}")
        if stated is not None and (stated.scale != given.scale or None not in (
                stated.quantity, given.quantity) and stated.quantity != given.quantity):
            notes.append(f"{path}: --units {given} overrides its metadata ({stated.describe()}"
                         f", {where})")
        if given.polarisations is None and stated is not None:
            given = given.with_polarisations(stated.polarisations)
        if given.polarisations and len(given.polarisations) != len(bands):
            raise UnitsError(f"{path}: --units {given} names {len(given.polarisations)} "
                             f"polarisation(s) for {len(bands)} band(s) read")
        found, origin = given, "--units"
    else:
        found, origin = metadata_units(path, src, bands)
    nodata = parse_nodata(nodata)
    if nodata is None:
        values = tuple(src.nodatavals[b - 1] for b in bands)
    else:
        values = tuple(None if nodata == "none" else float(nodata) for _ in bands)
    zero_nodata = (nodata is None and all(v is None for v in values) and found is not None
                   and found.scale in ("linear", "amplitude"))
    if found is not None and found.scale in ("linear", "amplitude"):
        _check_values(src, path, bands, found, origin, values, zero_nodata, notes)
    return InputDescription(found, origin, values, zero_nodata, tuple(notes))


def _check_values(src: Any, path: Path, bands: Sequence[int], units: Units, origin: str,
                  nodata: tuple[float | None, ...], zero_nodata: bool,
                  notes: list[str]) -> None:
    """Refuse linear/amplitude values that are mostly negative; count the zeros taken as
    nodata (exactly up to :data:`SAMPLE_SIDE`, else on :func:`value_sample`)."""
    sample = value_sample(src, bands)
    whole = sample.shape[1] == src.height * src.width  # else the counts are estimates
    ok = np.isfinite(sample).all(axis=0)
    for band, nd in enumerate(nodata):
        if nd is not None and not math.isnan(nd):
            ok &= sample[band] != np.float32(nd)
    if units.scale in ("linear", "amplitude"):
        values = sample[:, ok]
        negative = float((values < 0).mean()) if values.size else 0.0
        if negative > NEGATIVE_LIMIT:
            raise UnitsError(f"{path}: {origin} says it holds {units.describe()}, but "
                             f"{100 * negative:.0f} % of its values are negative, which power "
                             "and amplitude never are; pass the right --units (e.g. "
                             f"--units {Units(units.quantity or 'sigma0', 'db')})")
    if zero_nodata:
        zeros = int(((sample == 0).any(axis=0) & ok).sum())
        if zeros:
            total = src.height * src.width
            count = zeros if whole else round(zeros * total / ok.size)
            about = "" if whole else "about "
            notes.append(f"{path}: {about}{count} of {total} pixels "
                         f"({100 * zeros / ok.size:.1f} %) are 0 and no nodata value is "
                         "declared: they are treated as nodata (border fill); pass --nodata 0 "
                         "to declare it, or --nodata none to keep zeros as data")


def value_sample(src: Any, bands: Sequence[int], side: int = SAMPLE_SIDE) -> np.ndarray:
    """Values ``(C, N)`` float32 to judge a scene by: all of it up to ``side`` x ``side``,
    else about ``side``^2 pixels of whole internal blocks spread evenly over rows and columns.

    Whole blocks, because a decimated read of a large compressed scene decompresses every
    block, once per output line when the block cache cannot hold a row of blocks (the
    engine's 64 MB cannot hold a full product's: minutes instead of a second)."""
    from rasterio.windows import Window

    if max(src.height, src.width) <= side:
        return src.read(list(bands), out_dtype="float32").reshape(len(bands), -1)
    bh, bw = (min(n, m) for n, m in zip(src.block_shapes[0], (src.height, src.width),
                                         strict=True))
    rows, cols = -(-src.height // bh), -(-src.width // bw)
    n = max(1, side * side // (bh * bw))  # blocks to read (strips: whole rows)
    ny = max(1, min(rows, n, round(math.sqrt(n * rows / cols))))
    nx = max(1, min(cols, n // ny))
    parts = []
    for r in np.unique(np.linspace(0, rows - 1, ny).round().astype(int)):
        for c in np.unique(np.linspace(0, cols - 1, nx).round().astype(int)):
            window = Window(c * bw, r * bh, min(bw, src.width - c * bw),
                            min(bh, src.height - r * bh))
            parts.append(src.read(list(bands), window=window,
                                  out_dtype="float32").reshape(len(bands), -1))
    return np.concatenate(parts, axis=1)


def announce(info: Any, into: list[str]) -> None:
    """Warn (:class:`InputWarning`) what the user should know about the scene (its
    ``notes``), and record it in ``into``."""
    for note in info.notes:
        into.append(note)
        warnings.warn(note, InputWarning, stacklevel=4)


def model_units(info: Any, want: Units | str | None) -> Units | None:
    """The units to hand the predictor (``want``, its ``input_units``), after checking that
    the scene's can become them; None when the predictor states none (raw values).

    Raises:
        UnitsError: the scene's units are unknown (asks for ``--units``) or cannot become
            ``want``; the message names the file and both sides.
    """
    if want is None:
        return None
    want = Units.parse(want)
    have = info.input_units
    if have is None:
        q = want.quantity or "sigma0"
        raise UnitsError(f"{info.path}: cannot tell what its values are: {info.units_origin}. "
                         f"The model expects {want.describe(expected=True)}. Say what the "
                         "file holds with "
                         f"--units (units= in predict_scene), e.g. --units {q}-db or --units "
                         f"{q}-linear; forms: {UNITS_HELP}")
    check_units(have, want, str(info.path), info.units_origin)
    return want


__all__ = ["InputDescription", "InputWarning", "POLARISATIONS", "announce", "describe_input",
           "metadata_units", "model_units", "parse_nodata", "statements"]
