"""Sentinel-1 GRD products for tests and benchmarks, built from the real metadata of
``../shared/data/s1_safe_annotations`` (two IW GRDH VV+VH products without measurement TIFFs)
by :mod:`sargeo.datasets.safe_simulate` (layout, reduction by ``scale``, DN from sigma0).

``scale=1`` writes the real size; pass ``tiff_options`` (tiled DEFLATE) and a mostly constant
``dn`` to keep that small on disk.
"""

from __future__ import annotations

from pathlib import Path

from sargeo.datasets.safe_simulate import (
    SCALED,
    DNFunction,
    Sigma0Function,
    build_product,
    random_dn,
    rescale,
    scaled_size,
    write_measurement,
)
from tests.conftest import SHARED_DATA

ANNOTATIONS = SHARED_DATA / "s1_safe_annotations"

__all__ = ["ANNOTATIONS", "SCALED", "DNFunction", "Sigma0Function", "build_product",
           "random_dn", "rescale", "scaled_size", "source_products", "write_measurement"]


def source_products() -> list[Path]:
    """The shared SAFE folders (empty when ../shared/data is absent)."""
    return sorted(ANNOTATIONS.glob("*.SAFE")) if ANNOTATIONS.is_dir() else []
