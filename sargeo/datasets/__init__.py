"""Georeferenced SAR data sets and their labels, as torchgeo datasets.

- :class:`Sentinel1GRD` (:mod:`.sentinel1`): Sentinel-1 GRD/RTC GeoTIFF scenes as a torchgeo
  ``RasterDataset`` (bands, dB, nodata, one target CRS; GCP georeferencing of raw GRD);
- :class:`VectorLabels` (:mod:`.labels`): vector labels to tile boxes, le90 boxes and masks;
- :class:`LabelledScenes` and :func:`collate_geo`: scenes + labels for torchgeo samplers, batched
  with their CRS, bounds and transforms;
- :class:`LeeFilter` (:mod:`.speckle_filter`): torchgeo's Lee speckle filter, nodata-safe, opt-in;
- :func:`simulate_scene` (:mod:`.simulate`): speckled scenes with known ships and water;
- :mod:`.classification`: FUSAR-Ship, MSTAR, SAR-ACD and class-folder datasets with k-shot and
  percentage splits.

Importing this package is light: each name loads its module on first use (:mod:`sargeo._lazy`).
"""

from __future__ import annotations

from sargeo._lazy import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "sentinel1": ("Sentinel1GRD", "georeference_grd"),
    "safe": ("Sentinel1Product",),
    "labels": ("VectorLabels", "TileLabels", "LabelError", "LabelWarning"),
    "raster_labels": ("RasterLabels",),
    "speckle_filter": ("LeeFilter",),
    "labelled": ("LabelledScenes",),
    "collate": ("collate_geo",),
    "simulate": ("simulate_scene",),
    "classification": ("load_classification",),
    "sen1floods11": ("Sen1Floods11",),
})
