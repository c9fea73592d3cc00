"""Images without georeferencing: ``sargeo infer --pixel-coords`` (``pixel_coords=True``).

SSDD, HRSID and most SAR ship data sets are PNG/JPEG chips (or TIFFs) without a CRS. With
``pixel_coords`` such images run, and every output is in **pixel coordinates**, whatever the
file carries: x to the right, y down as the image, (0, 0) the top-left corner of the top-left
pixel, one unit per pixel.

- detections: ``NAME.gpkg`` without CRS (geometry in pixel units; the layer metadata says so,
  ``sargeo_coordinates``), and ``NAME.json``, a COCO results list (``image_id``,
  ``category_id``, ``bbox`` ``[x, y, w, h]``, ``score``, ``file_name``); for several images
  also ``OUT/detections.json`` over all of them, which ``sargeo evaluate detections.json
  ANNOTATIONS.json`` scores. Image ids come from a COCO dataset file (``--coco-images``,
  matched by file name), else run 1, 2, ... over the sorted image list; category ids from its
  categories (by class name; one class and one category: that one), else the class index;
- masks: ``NAME_mask.tif`` of class ids without CRS or geotransform;
- ``--geojson`` and ``--sea-only`` need a place on Earth: refused.

Units (:mod:`sargeo.units`): an 8-bit PNG/JPEG whose metadata is silent holds display-scaled
image values, quantity ``image`` (its format says so): a model that expects sigma0 refuses it
unless ``--units`` says otherwise; the CFAR baseline takes the values as linear intensity (as
``Units.parse("image")``: pass ``--units image-amplitude`` to have them squared). Zeros stay data
(black, not border fill) unless ``--nodata 0``. Other files without georeferencing (16-bit PNG,
TIFF) follow the ordinary rules: ``--units`` when nothing states them.

Bands: a grey JPEG has one band, an RGB-encoded grey one three equal bands. A model that expects
two bands refuses it, naming ``--bands 1 1`` (band 1 given twice), which replicates the band on
request; nothing is replicated silently. CFAR's windows are in metres: without georeferencing
the pixel size is unknown and the detector's ``pixel_size_m`` (default 10 m) is used.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterator
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.errors import NotGeoreferencedWarning

from sargeo.errors import error_text
from sargeo.io import atomic_path
from sargeo.units import Units

#: image files read with pixel_coords besides GeoTIFFs (folders and globs)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: GDAL drivers of display images (8-bit values are quantity "image")
IMAGE_DRIVERS = ("PNG", "JPEG")
#: the combined COCO results of several images
COMBINED = "detections.json"
COORDINATES = ("pixel: x right, y down as the image, origin the top-left corner of the image, "
               "1 unit = 1 pixel; no CRS")
IMAGE_ORIGIN = ("its format: an 8-bit PNG/JPEG holds display-scaled image values; pass --units "
                "if it holds something else")


class CocoImagesError(ValueError):
    """A ``--coco-images`` file cannot be used; the message names it."""


# -- checks at open_scene ----------------------------------------------------------------------
def georeferencing_error(path: Path, src: Any) -> str:
    """The message refusing a file without CRS or geotransform when ``pixel_coords`` is off."""
    if src.gcps[0]:
        return (f"{path}: the file has ground control points but no geotransform: a raw "
                "Sentinel-1 GRD measurement. Run the SAFE product it came from (sargeo infer "
                "PRODUCT.SAFE or PRODUCT.zip: calibrated and georeferenced), or georeference "
                "it with sargeo.datasets.sentinel1.georeference_grd")
    what = "no CRS" if src.crs is None else "no geotransform"
    return (f"{path}: the image has {what} (a PNG/JPEG chip or a plain TIFF?); run it with "
            "--pixel-coords (pixel_coords=True in predict_scene) to get detections and masks "
            "in pixel coordinates")


def image_units(src: Any, given: Any) -> Any:
    """``given`` (an :class:`~sargeo.inference.inputs.InputDescription`) with units ``image``
    for an 8-bit PNG/JPEG whose metadata states nothing; zeros stay data for image values."""
    if given.units is None and src.driver in IMAGE_DRIVERS and src.dtypes[0] == "uint8":
        return replace(given, units=Units("image", "linear"), origin=IMAGE_ORIGIN,
                       zero_nodata=False)
    if given.units is not None and given.units.quantity == "image" and given.zero_nodata:
        notes = tuple(n for n in given.notes if "are 0 and no nodata value" not in n)
        return replace(given, zero_nodata=False, notes=notes)
    return given


def bands_hint(src: Any, n_bands: int, in_channels: int) -> str:
    """What to add to the band-count refusal for a grey image."""
    if n_bands < in_channels or src.driver in IMAGE_DRIVERS:
        ones = " ".join(["1"] * in_channels)
        return (f"; for a grey image (one band, or RGB-encoded grey) --bands {ones} gives band 1 "
                "to every input")
    return ""


def suffixes(scene_suffixes: tuple[str, ...], pixel_coords: Any) -> tuple[str, ...]:
    """File suffixes taken from folders: images too with pixel_coords."""
    return scene_suffixes + (IMAGE_SUFFIXES if pixel_coords else ())


def folder_hint(folder: Path, taken: tuple[str, ...]) -> str:
    """What to add when a folder holds images but no file of the ``taken`` suffixes."""
    if set(IMAGE_SUFFIXES) <= set(taken) or not any(
            q.suffix.lower() in IMAGE_SUFFIXES for q in folder.iterdir()):
        return ""
    return (f" (it holds {'/'.join(IMAGE_SUFFIXES)} images: run them with --pixel-coords, "
            "pixel_coords=True)")


def check_options(*, geojson: bool, sea_only: bool) -> None:
    """Refuse the options that need georeferencing."""
    for name, on in (("--geojson", geojson), ("--sea-only", sea_only)):
        if on:
            raise ValueError(f"{name} needs georeferenced scenes; with --pixel-coords outputs "
                             "are in pixel coordinates (drop one of the two)")


# -- image ids and categories ------------------------------------------------------------------
@lru_cache(maxsize=4)
def _coco(path: str, mtime_ns: int) -> tuple[dict[str, int], dict[str, int]]:
    try:
        data = json.loads(Path(path).read_text())
        images = {Path(str(im["file_name"])).name: int(im["id"]) for im in data["images"]}
        cats = {str(c.get("name", c["id"])).lower(): int(c["id"])
                for c in data.get("categories", [])}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CocoImagesError(f"{path}: not a COCO dataset with 'images' (file_name, id) "
                              f"({error_text(err)})") from err
    return images, cats


def load_coco(path: str | Path) -> tuple[dict[str, int], dict[str, int]]:
    """``({file name: image id}, {category name (lower case): id})`` of a COCO dataset file."""
    p = Path(path)
    if not p.is_file():
        raise CocoImagesError(f"{p}: no such COCO dataset file (--coco-images)")
    return _coco(str(p.resolve()), p.stat().st_mtime_ns)


def image_ids(scenes: list[Path], coco_images: str | Path | None) -> dict[Path, int]:
    """Each scene's image id: its COCO id by file name, else 1, 2, ... in order."""
    if coco_images is None:
        return {s: i for i, s in enumerate(scenes, start=1)}
    ids, _ = load_coco(coco_images)
    missing = [s.name for s in scenes if s.name not in ids]
    if missing:
        raise CocoImagesError(f"{coco_images}: no image named {', '.join(missing[:5])}"
                              f"{' ...' if len(missing) > 5 else ''} (images are matched by "
                              "file name)")
    return {s: ids[s.name] for s in scenes}


def category_ids(classes: tuple[str, ...] | list[str],
                 coco_images: str | Path | None) -> list[int]:
    """COCO category id of each predictor class (see module docstring)."""
    if coco_images is None:
        return list(range(len(classes)))
    _, cats = load_coco(coco_images)
    if len(classes) == 1 and len(cats) == 1:
        return list(cats.values())
    missing = [c for c in classes if c.lower() not in cats]
    if missing:
        raise CocoImagesError(f"{coco_images}: no category named {missing} (its categories: "
                              f"{sorted(cats)}); the model's classes are {list(classes)}")
    return [cats[c.lower()] for c in classes]


# -- outputs -----------------------------------------------------------------------------------
def coco_results(frame: Any, image_id: int, categories: list[int],
                 file_name: str) -> list[dict[str, Any]]:
    """A COCO results list from a detections frame (its ``px_*`` columns)."""
    x1, y1 = frame["px_x1"].to_numpy(np.float64), frame["px_y1"].to_numpy(np.float64)
    x2, y2 = frame["px_x2"].to_numpy(np.float64), frame["px_y2"].to_numpy(np.float64)
    out = []
    for i, (label, score) in enumerate(zip(frame["class_id"].to_numpy(),
                                           frame["score"].to_numpy(), strict=True)):
        out.append({"image_id": int(image_id), "category_id": int(categories[int(label)]),
                    "bbox": [round(float(v), 3) for v in (x1[i], y1[i], x2[i] - x1[i],
                                                          y2[i] - y1[i])],
                    "score": float(score), "file_name": file_name})
    return out


def write_json(data: Any, path: Path, *, overwrite: bool) -> Path:
    """Write ``data`` as JSON, atomically."""
    from sargeo.inference.writers import naming_errors

    with naming_errors(path), atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(json.dumps(data))
    return path


class PixelCoords:
    """The engine's pixel-coordinate settings: image ids (per scene path), the COCO dataset file
    and, for several scenes, the combined results file."""

    def __init__(self, coco_images: str | Path | None = None,
                 ids: dict[Path, int] | None = None, out: Path | None = None,
                 scenes: list[Path] | None = None) -> None:
        self.coco_images, self.ids = coco_images, dict(ids or {})
        self.out, self.scenes = out, list(scenes or [])
        self.combined = combined_path(out, self.scenes) if out is not None else None

    @classmethod
    def of(cls, pixel_coords: Any, coco_images: str | Path | None = None, *,
           geojson: bool = False, sea_only: bool = False) -> PixelCoords | None:
        """``pixel_coords`` (bool or a :class:`PixelCoords` from :meth:`for_scenes`) as settings
        (None: off); refuses options that need georeferencing."""
        if not pixel_coords:
            if coco_images is not None:
                raise ValueError("coco_images / --coco-images goes with pixel_coords / "
                                 "--pixel-coords")
            return None
        check_options(geojson=geojson, sea_only=sea_only)
        if isinstance(pixel_coords, PixelCoords):
            return pixel_coords
        if coco_images is not None:
            load_coco(coco_images)  # checked before any compute
        return cls(coco_images)

    @classmethod
    def for_scenes(cls, out: Path, scenes: list[Path], task: str,
                   kwargs: dict[str, Any]) -> PixelCoords | None:
        """Settings for :func:`~sargeo.inference.engine.predict_scenes` (image ids over all
        scenes, before sharding), put into ``kwargs`` for each scene; None: off."""
        base = cls.of(kwargs.get("pixel_coords"), kwargs.get("coco_images"),
                      geojson=kwargs.get("geojson", False),
                      sea_only=kwargs.get("sea_only", False))
        if base is None:
            return None
        detection = task != "segmentation"
        self = cls(base.coco_images, image_ids(scenes, base.coco_images),
                   out if detection else None, scenes if detection else None)
        kwargs["pixel_coords"] = self
        return self

    def existing(self) -> list[Path]:
        """The combined results file, when it exists (refused like any output)."""
        return [self.combined] if self.combined is not None and self.combined.exists() else []

    def write(self, frame: Any, paths: dict[str, Path], classes: Any, scene: Path,
              overwrite: bool) -> dict[str, str]:
        """Write ``NAME.json`` (before the GeoPackage, the main output); returns the layer
        metadata."""
        image_id = self.ids.get(scene) or image_ids([scene], self.coco_images)[scene]
        results = coco_results(frame, image_id, category_ids(classes, self.coco_images),
                               scene.name)
        write_json(results, paths["coco"], overwrite=overwrite)
        return {"sargeo_coordinates": COORDINATES, "sargeo_image_id": str(image_id)}

    def finish(self, results: list[Any]) -> list[Any]:
        """Write the combined results once every scene's are there; ``results`` name it."""
        if self.combined is not None and self.out is not None \
                and write_combined(self.out, self.scenes):
            for r in results:
                r.outputs["coco_all"] = self.combined
        return results


def write_combined(out: Path, scenes: list[Path]) -> Path | None:
    """``OUT/detections.json``: the COCO results of every scene, once all of them are done
    (under torchrun, whichever rank finishes last writes it; :func:`combined_path` is checked
    before any compute)."""
    parts = [out / f"{s.stem}.json" for s in scenes]
    if not all(p.is_file() for p in parts):
        return None
    results: list[dict[str, Any]] = []
    for p in parts:
        results.extend(json.loads(p.read_text()))
    target = out / COMBINED
    return write_json(results, target, overwrite=True)


def combined_path(out: Path, scenes: list[Path]) -> Path | None:
    """Where :func:`write_combined` writes for these scenes (None: one scene, or a file target);
    refuses a scene whose own ``NAME.json`` would be that file."""
    if len(scenes) < 2 or out.suffix.lower() in (".gpkg", ".tif", ".tiff"):
        return None
    clash = [s for s in scenes if s.stem == Path(COMBINED).stem]
    if clash:
        raise ValueError(f"{clash[0]}: its COCO results NAME.json would be {out / COMBINED}, "
                         "the combined results of all images; rename the image")
    return out / COMBINED



@contextlib.contextmanager
def quiet(pixel_coords: bool) -> Iterator[None]:
    """A block in which the warnings about missing georeferencing (rasterio's, pyogrio's) are
    not shown: the user asked for it (the filter is process-wide: the reader thread too)."""
    if not pixel_coords:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)  # pyogrio
        yield
