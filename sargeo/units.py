"""Backscatter units shared by pretraining and OpenMMLab pipelines: the one place that says which
dB window becomes the network's input range and what nodata becomes.

Linear backscatter power (sigma0) becomes dB (``10 log10``), then [0, 1] over :data:`DB_RANGE`
(clipped), then ``(x - INPUT_MEAN) / INPUT_STD`` (SARMAE's released 0.5 / 0.5), so [-30, 5] dB
ends up in [-1, 1]. The same map in one step, ``(dB - DB_MEAN) / DB_STD``, is what
:class:`sargeo.mm.transforms.SARNormalize` applies by default.

Nodata (NaN, infinite, or power <= 0) is filled with the bottom of the range: 0 on the [0, 1]
scale (:data:`NODATA_UNIT`), -1 after normalisation (:data:`NODATA_NORMALIZED`), the value of
-30 dB and darker, like calm water. Pretraining chips and ``SARNormalize`` therefore give a
nodata pixel the same normalised value.

The units contract (:class:`Units`): every model states what it expects (a weights enum's
``meta["units"]``, a pretraining recipe's ``# units:`` line, ``SARNormalize.input_units``) and
every input what it holds (``SARGEO_UNITS`` tag, ``--units``); :func:`convert` turns one into
the other (linear power, amplitude and dB of one quantity) or raises :class:`UnitsError` naming
the file, both sides and what to do. DN become sigma0 only through a product's calibration, and
sigma0, beta0 and gamma0 only through the incidence angle: refused here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

#: dB window mapped to [0, 1]: calm water (-30 dB) to bright land and ships (+5 dB)
DB_RANGE: tuple[float, float] = (-30.0, 5.0)
#: what the encoder sees: [0, 1] images as (x - INPUT_MEAN) / INPUT_STD, as released
INPUT_MEAN, INPUT_STD = 0.5, 0.5
#: nodata on the [0, 1] scale: the bottom of :data:`DB_RANGE`
NODATA_UNIT = 0.0
#: nodata after normalisation, (NODATA_UNIT - INPUT_MEAN) / INPUT_STD = -1
NODATA_NORMALIZED = (NODATA_UNIT - INPUT_MEAN) / INPUT_STD
#: dB -> normalised input in one step: (dB - DB_MEAN) / DB_STD (-12.5 and 17.5 dB)
DB_MEAN = DB_RANGE[0] + INPUT_MEAN * (DB_RANGE[1] - DB_RANGE[0])
DB_STD = INPUT_STD * (DB_RANGE[1] - DB_RANGE[0])


def normalize(x: Any) -> Any:
    """[0, 1] images (tensor or array) as the pretrained encoder saw them."""
    return (x - INPUT_MEAN) / INPUT_STD


def power_to_unit(power: Any, db_range: tuple[float, float] = DB_RANGE) -> Any:
    """Linear backscatter (torch tensor) -> dB -> [0, 1] over ``db_range``; nodata (NaN,
    infinite, <= 0) becomes :data:`NODATA_UNIT`."""
    import torch

    lo, hi = db_range
    valid = torch.isfinite(power) & (power > 0)
    db = 10.0 * torch.log10(torch.where(valid, power, torch.ones_like(power)))
    unit = ((db - lo) / (hi - lo)).clamp(0.0, 1.0)
    return torch.where(valid, unit, torch.full_like(unit, NODATA_UNIT))


# -- the units contract: what a model expects and what an input holds ----------------------------
#: what values measure: uncalibrated digital numbers, calibrated backscatter normalised to the
#: ground (sigma0), the slant plane (beta0) or the plane normal to the look (gamma0), or a
#: display-scaled image (8-bit PNG/JPEG chips such as SAR-1M's, not calibrated)
QUANTITIES = ("dn", "sigma0", "beta0", "gamma0", "image")
CALIBRATED = ("sigma0", "beta0", "gamma0")
#: how they are written: power, its square root, or ``10 log10`` of power
SCALES = ("linear", "amplitude", "db")
POLARISATIONS = ("HH", "HV", "VH", "VV")
#: the GeoTIFF tag in which sargeo's writers state their units (``str(Units)``)
UNITS_TAG = "SARGEO_UNITS"
#: accepted ``--units`` forms, for messages
UNITS_HELP = ("QUANTITY-SCALE[:POLS], e.g. sigma0-db, sigma0-linear, gamma0-db, "
              "sigma0-amplitude, dn, sigma0-db:VV,VH (quantity dn, sigma0, beta0, gamma0, "
              "image; scale linear (power), amplitude or db)")

_QUANTITY_WORDS = ((r"\bsigma ?(0|nought|naught)\b|σ0", "sigma0"),
                   (r"\bbeta ?(0|nought|naught)\b|β0", "beta0"),
                   (r"\bgamma ?(0|nought|naught)\b|γ0", "gamma0"),
                   (r"\bdn\b|\bdigital numbers?\b", "dn"), (r"\bimage\b", "image"))
_SCALE_WORDS = ((r"\bdb\b|\bdecibels?\b", "db"),
                (r"\blinear\b|\blin\b|\bpower\b|\bintensity\b", "linear"),
                (r"\bamplitude\b|\bamp\b|\bmagnitude\b", "amplitude"))
#: words naming power without ruling out dB ("power in dB")
_POWER_WORDS = r"\bpower\b|\bintensity\b"


class UnitsError(ValueError):
    """Values cannot be used as the model expects; the message names the file, both sides and
    what to do (``--units``)."""


def read_statement(text: str) -> tuple[str | None, str | None]:
    """The quantity and scale a free text names (``"sigma0 linear power"``, ``"Sigma0_VV_db"``,
    ``"dB"``), each None where it names none; :class:`UnitsError` when it names two."""
    words = re.sub(r"[\s_\-/()\[\],;]+", " ", str(text).lower())
    found = []
    for table in (_QUANTITY_WORDS, _SCALE_WORDS):
        hits = sorted({name for pattern, name in table if re.search(pattern, words)})
        if hits == ["db", "linear"] and not re.search(r"\blinear\b|\blin\b",
                                                     re.sub(_POWER_WORDS, "", words)):
            hits = ["db"]  # "power in dB"
        if len(hits) > 1:
            raise UnitsError(f"{text!r} names both {' and '.join(hits)}")
        found.append(hits[0] if hits else None)
    return found[0], found[1]


@dataclass(frozen=True)
class Units:
    """What values are: a quantity (:data:`QUANTITIES`; None: not stated, or for a model: any),
    a scale (:data:`SCALES`) and optionally the polarisation of each band, in order.

    ``str(Units)`` is the form :meth:`parse` reads and sargeo writes in :data:`UNITS_TAG`:
    ``sigma0-db``, ``dn-amplitude``, ``sigma0-linear:VV,VH``, ``db`` (quantity not stated).
    """

    quantity: str | None
    scale: str
    polarisations: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.quantity is not None and self.quantity not in QUANTITIES:
            raise UnitsError(f"unknown quantity {self.quantity!r}; one of {QUANTITIES}")
        if self.scale not in SCALES:
            raise UnitsError(f"unknown scale {self.scale!r}; one of {SCALES}")
        if self.polarisations is not None:
            pols = tuple(str(p).strip().upper() for p in self.polarisations)
            bad = [p for p in pols if p not in POLARISATIONS]
            if bad or not pols:
                raise UnitsError(f"unknown polarisation(s) {bad or list(pols)}; use "
                                 f"{', '.join(POLARISATIONS)}")
            object.__setattr__(self, "polarisations", pols)

    @classmethod
    def parse(cls, text: str | Units) -> Units:
        """``Units`` from its string form (case and separators free: ``sigma0_dB``, ``Sigma0
        dB``); ``dn`` alone is DN amplitude (Sentinel-1 GRD), ``image`` alone is 8-bit display
        values. A quantity without a scale is refused (say ``sigma0-db`` or
        ``sigma0-linear``)."""
        if isinstance(text, Units):
            return text
        main, _, pols = str(text).partition(":")
        quantity, scale = read_statement(main)
        if scale is None and quantity in ("dn", "image"):
            scale = "amplitude" if quantity == "dn" else "linear"
        leftover = re.sub(r"[\s_\-]+", "", re.sub(
            "|".join(p for p, _ in _QUANTITY_WORDS + _SCALE_WORDS), "",
            re.sub(r"[\s_\-]+", " ", main.lower())))
        if scale is None or leftover:
            what = (f"{leftover!r} is neither a quantity nor a scale" if leftover else
                    f"{quantity} in which scale?" if quantity else "not a units statement")
            raise UnitsError(f"units {str(text)!r}: {what}; write {UNITS_HELP}")
        polarisations = tuple(p for p in re.split(r"[\s,+]+", pols) if p) or None
        return cls(quantity, scale, polarisations)

    def __str__(self) -> str:
        text = self.scale if self.quantity is None else f"{self.quantity}-{self.scale}"
        return text + (":" + ",".join(self.polarisations) if self.polarisations else "")

    def describe(self, expected: bool = False) -> str:
        """Words for messages: ``sigma0 as dB (VV, VH)``; a quantity of None is "unstated" for
        an input and "any" for what a model ``expected``."""
        scale = {"linear": "linear power", "amplitude": "amplitude", "db": "dB"}[self.scale]
        if self.quantity is None:
            text = (f"{scale} of any quantity" if expected else
                    f"{scale} of an unstated quantity (sigma0, beta0, gamma0 or DN)")
        elif self.quantity == "image":
            text = "display-scaled image values (not calibrated)"
        else:
            text = (f"{'DN' if self.quantity == 'dn' else self.quantity} "
                    f"{'in' if self.scale == 'db' else 'as'} {scale}")
        return text + (f" ({', '.join(self.polarisations)})" if self.polarisations else "")

    def with_polarisations(self, polarisations: Sequence[str] | None) -> Units:
        """The same units for bands of these polarisations (None: not stated)."""
        return replace(self, polarisations=tuple(polarisations) if polarisations else None)


def to_power(values: np.ndarray, scale: str) -> np.ndarray:
    """Linear power from values in ``scale`` (float32 stays float32)."""
    x = np.asarray(values)
    x = x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float32)
    if scale == "db":
        return np.power(x.dtype.type(10), x / x.dtype.type(10))
    if scale == "amplitude":
        return x * x
    if scale == "linear":
        return x
    raise UnitsError(f"unknown scale {scale!r}; one of {SCALES}")


def from_power(power: np.ndarray, scale: str) -> np.ndarray:
    """Values in ``scale`` from linear power; NaN where power cannot be written in it (dB of
    power <= 0, amplitude of power < 0)."""
    p = np.asarray(power)
    if scale == "linear":
        return p
    with np.errstate(divide="ignore", invalid="ignore"):
        if scale == "db":
            return np.where(p > 0, p.dtype.type(10) * np.log10(np.where(p > 0, p, 1)), np.nan
                            ).astype(p.dtype, copy=False)
        if scale == "amplitude":
            return np.sqrt(np.where(p >= 0, p, np.nan)).astype(p.dtype, copy=False)
    raise UnitsError(f"unknown scale {scale!r}; one of {SCALES}")


def check_units(have: Units, want: Units, source: str, origin: str = "") -> None:
    """Raise :class:`UnitsError` when values in ``have`` cannot become ``want``: the message
    names ``source`` (the file), where ``have`` came from (``origin``), both sides, why, and
    what to do."""
    why = _mismatch(have, want)
    if why is None:
        return
    said = f" ({origin})" if origin else ""
    raise UnitsError(f"{source}: holds {have.describe()}{said}, but the model expects "
                     f"{want.describe(expected=True)}: {why}")


def _mismatch(have: Units, want: Units) -> str | None:
    hq, wq = have.quantity, want.quantity
    if wq is not None and hq != wq:
        if hq is None:
            return (f"the file does not say which quantity it holds; if it holds {wq}, pass "
                    f"--units {Units(wq, have.scale)} (units= in predict_scene)")
        if "image" in (hq, wq):
            return ("display-scaled images and calibrated backscatter cannot be converted into "
                    "each other; use a model made for these inputs")
        if hq == "dn":
            return (f"DN become {wq} only through the product's calibration: run the SAFE "
                    f"product itself, or a {wq} export of it; if the file already holds {wq}, "
                    f"pass --units {Units(wq, have.scale)}")
        return (f"converting {hq} to {wq} needs the local incidence angle, which the file does "
                f"not carry: use a {wq} product, or pass --units {Units(wq, have.scale)} to "
                f"use its {hq} as {wq} anyway (about 1 dB apart)")
    if have.polarisations and want.polarisations and have.polarisations != want.polarisations:
        hp, wp = have.polarisations, want.polarisations
        if len(set(wp)) == len(wp) and set(wp) <= set(hp):
            order = " ".join(str(hp.index(p) + 1) for p in wp)
            return (f"the bands read are {', '.join(hp)}; choose {', '.join(wp)} in that order "
                    f"(--bands with the file's band numbers; of the bands read: {order})")
        return (f"the bands read are {', '.join(hp)}, not {', '.join(wp)}; choose other bands "
                f"(--bands), or pass --units {Units(have.quantity, have.scale, wp)} to use "
                "them as such")
    return None


def convert(array: np.ndarray, have: Units, want: Units, source: str,
            origin: str = "") -> np.ndarray:
    """``array`` (values in ``have``) in ``want``'s scale, after :func:`check_units`; NaN where a
    value cannot be written in the new scale (dB of power <= 0)."""
    check_units(have, want, source, origin)
    if have.scale == want.scale:
        return array
    with np.errstate(over="ignore", invalid="ignore"):
        return from_power(to_power(array, have.scale), want.scale)
