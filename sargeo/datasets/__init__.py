"""Georeferenced SAR data.

- :class:`Sentinel1GRD` (:mod:`.sentinel1`): Sentinel-1 GRD/RTC GeoTIFF scenes as a torchgeo
  ``RasterDataset`` (bands, dB, nodata, one target CRS; GCP georeferencing of raw GRD);
- :class:`VectorLabels` (:mod:`.labels`): vector labels to tile boxes, le90 boxes and masks;
- :class:`LabelledScenes` and :func:`collate_geo`: scenes + labels for torchgeo samplers, batched
  with their CRS, bounds and transforms;
- :class:`LeeFilter` (:mod:`.speckle_filter`): torchgeo's Lee speckle filter, nodata-safe, opt-in;
- :func:`simulate_scene` (:mod:`.simulate`): speckled scenes with known ships and water;
- :mod:`.classification`: FUSAR-Ship, MSTAR, SAR-ACD and class-folder datasets with k-shot and
  percentage splits.

Importing this package is light: each name loads its module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Sentinel1GRD": "sargeo.datasets.sentinel1",
    "Sentinel1Product": "sargeo.datasets.safe",
    "georeference_grd": "sargeo.datasets.sentinel1",
    "VectorLabels": "sargeo.datasets.labels",
    "TileLabels": "sargeo.datasets.labels",
    "LabelError": "sargeo.datasets.labels",
    "LabelWarning": "sargeo.datasets.labels",
    "RasterLabels": "sargeo.datasets.raster_labels",
    "LeeFilter": "sargeo.datasets.speckle_filter",
    "LabelledScenes": "sargeo.datasets.labelled",
    "collate_geo": "sargeo.datasets.collate",
    "simulate_scene": "sargeo.datasets.simulate",
    "load_classification": "sargeo.datasets.classification",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sargeo.datasets' has no attribute {name!r}")
