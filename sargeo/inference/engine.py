"""Streaming tiled inference over whole scenes: the engine behind ``sargeo infer``.

For each scene: check it (:func:`~sargeo.inference.reader.open_scene`) and that its units can
become the predictor's (:mod:`sargeo.inference.inputs`: converted, or refused naming both sides),
plan overlapping windows, read and convert them in batches on a background thread (nodata-only
windows skipped), run the predictor, and merge:

- detection / rotated detection: per-window boxes move to scene pixels and are merged across
  windows (truncated-duplicate suppression, then class-aware NMS); the result becomes a
  GeoPackage layer in the scene CRS (optionally GeoJSON in EPSG:4326);
- segmentation: probabilities are blended into a streaming mosaic that keeps only the rows later
  windows still touch; finished row blocks are handed to a writer thread; at the end they become
  a Cloud-Optimized GeoTIFF of class ids (uint8, nodata 255, the scene's grid and CRS) and
  optionally one of per-class probabilities (float32, nodata NaN).

Memory depends on tile, batch size and (for segmentation) the scene width, never on the scene
height or the number of scenes. Reading, compute and writing overlap: reads run ahead on the
reader thread, journal and strip writes run behind on a writer thread.

Every run keeps a journal beside the output (see :mod:`sargeo.inference.journal`); with
``resume=True`` an interrupted run continues where it stopped and produces the same output as an
uninterrupted one, and scenes whose output exists are skipped. Outputs appear atomically, the
main output (``NAME.gpkg`` / ``NAME_mask.tif``) last, so its presence means the scene is done.

Several GPUs or machines: start the same command under ``torchrun``; each rank takes
``scenes[RANK::WORLD_SIZE]`` (:func:`shard_scenes`).
"""

from __future__ import annotations

import math
import os
import shutil
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import torch

from sargeo.inference import pixel_coords as pxc
from sargeo.inference.inputs import announce, model_units
from sargeo.inference.journal import Journal
from sargeo.inference.merge import (
    NODATA_CLASS,
    BlendedMosaic,
    Detections,
    merge_detections,
    window_detections,
    window_interiors,
)
from sargeo.inference.predictor import check_predictor
from sargeo.inference.prescreen import plan_prescreen
from sargeo.inference.reader import PrefetchReader, SceneError, SceneInfo, open_scene
from sargeo.inference.scenes import SCENE_SUFFIXES, expand_scenes, shard_scenes
from sargeo.inference.windows import plan_windows
from sargeo.inference.writers import (
    BLOCK,
    class_colormap,
    naming_errors,
    write_cog,
    write_geojson,
    write_gpkg,
)
from sargeo.landmask import plan_sea_only
from sargeo.units import UNITS_TAG

OUTPUT_SUFFIXES = {"detection": (".gpkg",), "rotated_detection": (".gpkg",),
                   "segmentation": (".tif", ".tiff")}


class NoDataWarning(UserWarning):
    """A scene has no valid pixel: its result is empty (no detection / an all-nodata mask)."""


@dataclass
class InferenceResult:
    """What happened to one scene."""

    scene: Path
    task: str
    status: str  #: "done", "skipped" (output existed, resume) or "failed"
    outputs: dict[str, Path] = field(default_factory=dict)
    n_windows: int = 0  #: windows planned
    n_predicted: int = 0  #: windows run through the predictor by this call
    n_nodata: int = 0  #: nodata-only windows skipped by this call
    n_resumed: int = 0  #: windows done by an interrupted earlier run
    n_objects: int | None = None  #: detections written (detection tasks)
    land: dict[str, int] = field(default_factory=dict)  #: --sea-only counts (windows, detections)
    prescreen: dict[str, Any] = field(default_factory=dict)  #: windows_skipped_prescreen, ...
    seconds: float = 0.0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


# -- paths -------------------------------------------------------------------------------------
def output_paths(scene: str | Path, out: str | Path, task: str, *, geojson: bool = False,
                 save_probs: bool = False,
                 preview: str | Path | bool | None = None, pixel_coords: Any = False
                 ) -> dict[str, Path]:
    """Where the outputs of ``scene`` go (``pixel_coords``: also ``NAME.json``, COCO results).

    ``out`` is a folder (outputs named after the scene: ``NAME.gpkg``, ``NAME.geojson``,
    ``NAME_mask.tif``, ``NAME_probs.tif``, ``NAME_preview.png``) or, for one scene, the main
    output file (``.gpkg`` for detection, ``.tif`` for segmentation; the others beside it).
    ``preview`` is a ``.png`` file, a folder, or True (beside the main output).
    The main output is under the key ``"detections"`` or ``"mask"``.
    """
    scene, out = Path(scene), Path(out)
    name = scene.stem
    detection = task != "segmentation"
    if _is_file_target(out):
        if out.suffix.lower() not in OUTPUT_SUFFIXES[task]:
            raise ValueError(f"output {out} does not suit the {task} task (use a folder or "
                             f"{' / '.join(OUTPUT_SUFFIXES[task])})")
        main, folder, stem = out, out.parent, out.stem
        probs = folder / f"{stem}_probs.tif"
    else:
        folder, stem = out, name
        main = folder / (f"{name}.gpkg" if detection else f"{name}_mask.tif")
        probs = folder / f"{name}_probs.tif"
    paths = {"detections" if detection else "mask": main}
    paths.update({"coco": folder / f"{stem}.json"} if pixel_coords and detection else {})
    if geojson:
        if not detection:
            raise ValueError("geojson output is for detection tasks")
        paths["geojson"] = folder / f"{stem}.geojson"
    if save_probs:
        if detection:
            raise ValueError("probability output is for segmentation")
        paths["probs"] = probs
    if preview:
        p = folder if preview is True else Path(preview)
        paths["preview"] = p if p.suffix.lower() == ".png" else p / f"{name}_preview.png"
    return paths


def _is_file_target(out: Path) -> bool:
    """Whether ``out`` names an output file rather than a folder."""
    return out.suffix.lower() in (".gpkg", ".tif", ".tiff", ".geojson", ".png") \
        and not out.is_dir()


# -- helpers -----------------------------------------------------------------------------------
class _BackgroundWriter:
    """Runs writes in order on one thread, at most ``max_pending`` behind; errors surface at
    the next submit or at close."""

    def __init__(self, max_pending: int = 4) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="sargeo-writer")
        self._pending: deque[Future] = deque()
        self.max_pending = max_pending

    def submit(self, fn: Callable, *args: Any) -> None:
        while self._pending and (self._pending[0].done()
                                 or len(self._pending) >= self.max_pending):
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(fn, *args))

    def close(self, raise_errors: bool = True) -> None:
        try:
            while self._pending:
                fut = self._pending.popleft()
                if raise_errors:
                    fut.result()
                else:
                    fut.exception()
        finally:
            self._pool.shutdown(wait=True)


def _describe(predictor: Any) -> dict[str, Any]:
    """The predictor's identity for the journal: its class, its simple settings (not its
    device: a resumed run may get another GPU), ``config``/``checkpoint`` attributes and an
    optional ``fingerprint`` attribute (e.g. the checkpoint's path, size and time)."""
    attrs = getattr(predictor, "__dict__", {})
    simple = {k: v for k, v in sorted(attrs.items())
              if not k.startswith("_") and k != "device"
              and isinstance(v, int | float | str | bool | type(None))}
    simple.update({k: str(v) for k, v in sorted(attrs.items())
                   if k in ("config", "checkpoint")})
    fingerprint = getattr(predictor, "fingerprint", None)
    return {"class": f"{type(predictor).__module__}.{type(predictor).__qualname__}",
            "task": predictor.task, "classes": list(predictor.classes), "settings": simple,
            "fingerprint": None if fingerprint is None else str(fingerprint)}


def _predict(predictor: Any, images: np.ndarray, valid: np.ndarray) -> list[dict[str, Any]]:
    with torch.inference_mode():
        results = predictor(torch.from_numpy(images), torch.from_numpy(valid))
    if len(results) != len(images):
        raise ValueError(f"predictor returned {len(results)} results for {len(images)} images")
    return list(results)


def _probs(result: dict[str, Any], k: int) -> np.ndarray:
    if "probs" in result:
        p = result["probs"]
        p = p.detach().float().cpu().numpy() if hasattr(p, "detach") else np.asarray(p)
    elif "logits" in result:
        p = torch.as_tensor(result["logits"]).detach().float().softmax(0).cpu().numpy()
    else:
        raise KeyError(f"segmentation result lacks 'probs' or 'logits' (has {sorted(result)})")
    if p.ndim != 3 or p.shape[0] != k:
        raise ValueError(f"segmentation result has shape {p.shape}, expected ({k}, H, W)")
    return p.astype(np.float32, copy=False)


def _progress(total: int, initial: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="tile", disable=not enabled,
                leave=False, dynamic_ncols=True)


# -- one scene ---------------------------------------------------------------------------------
def predict_scene(scene: str | Path, predictor: Any, out: str | Path, *, tile: int | None = None,
                  overlap: int | None = None, batch_size: int = 8, score_thr: float = 0.3,
                  nms_iou: float = 0.5, bands: Sequence[int] | None = None,
                  overwrite: bool = False, resume: bool = False,
                  preview: str | Path | bool | None = None, progress: bool = True,
                  geojson: bool = False, save_probs: bool = False, prefetch: int = 2,
                  units: Any = None, nodata: float | str | None = None,
                  sea_only: bool = False, land_buffer_m: float = 500.0,
                  pixel_coords: Any = False, coco_images: str | Path | None = None,
                  prescreen: Any = None) -> InferenceResult:
    """Run ``predictor`` over a whole scene and write its georeferenced outputs.

    Args:
        scene: GeoTIFF with a CRS and a geotransform; its values are converted to the
            predictor's ``input_units`` (NaN and the nodata value are invalid).
        predictor: a :class:`~sargeo.inference.predictor.Predictor`.
        out: output folder, or the main output file (see :func:`output_paths`).
        tile: window size (default: ``predictor.tile_size``).
        overlap: window overlap in pixels (default: ``predictor.overlap``, else ``tile // 8``);
            for detection, more than the largest object.
        batch_size: windows per predictor call (8: on CPUs a ViT-B runs 1.8x faster per tile
            at batch 4 than at batch 1, and faster still at 8).
        score_thr: detections scoring less are dropped (per window, before merging).
        nms_iou: IoU above which NMS merges detections of one class.
        bands: 1-based bands to read (default: all; their number must suit the predictor).
        overwrite: replace existing outputs (otherwise they are refused).
        resume: continue an interrupted run from its journal; skip the scene when its main
            output exists.
        preview: also write a quick-look PNG (file, folder, or True: beside the output).
        progress: show a tqdm bar over the windows.
        geojson: also write the detections as GeoJSON in EPSG:4326.
        save_probs: also write the per-class probabilities (segmentation).
        prefetch: batches read ahead.
        units: what the scene holds (``--units``: ``sigma0-db``, :class:`sargeo.units.Units`),
            when its metadata does not say it (:mod:`sargeo.inference.inputs`).
        nodata: the nodata value (replacing the file's), or ``"none"``: zeros are data too.
        sea_only, land_buffer_m: detection at sea only (:class:`sargeo.landmask.SeaFilter`).
        pixel_coords, coco_images: images without georeferencing, outputs in pixel
            coordinates and COCO results (:mod:`sargeo.inference.pixel_coords`).
        prescreen: detection only: a CFAR pass sends the network only the windows holding a
            candidate (True, or :class:`sargeo.inference.prescreen.Prescreen` settings;
            default None: every window).

    Returns:
        An :class:`InferenceResult`.

    Raises:
        SceneError: the scene cannot be used (unreadable, no CRS/geotransform, band count).
        UnitsError: its units are unknown (pass ``units``) or cannot become the predictor's.
        FileExistsError: an output exists and neither ``overwrite`` nor ``resume`` is set.
        OutputError: an output could not be written (no output is left half-written).
    """
    t0 = time.perf_counter()
    check_predictor(predictor)
    scene, task = Path(scene), predictor.task
    pixel = pxc.PixelCoords.of(pixel_coords, coco_images, geojson=geojson, sea_only=sea_only)
    paths = output_paths(scene, out, task, geojson=geojson, save_probs=save_probs,
                         preview=preview, pixel_coords=pixel)
    main_key = "mask" if task == "segmentation" else "detections"
    main = paths[main_key]
    result = InferenceResult(scene=scene, task=task, status="done", outputs=paths)
    if main.exists() and resume:
        from sargeo.inference.journal import journal_dir

        shutil.rmtree(journal_dir(main), ignore_errors=True)  # stale: the output was written
        result.status, result.seconds = "skipped", time.perf_counter() - t0
        return result
    for key, p in paths.items():
        if p.exists() and not (overwrite or (resume and key != main_key)):
            raise FileExistsError(f"output exists: {p} (pass overwrite=True / --overwrite, or "
                                  "resume=True / --resume to skip finished scenes)")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    with rasterio.Env(**gdal_cache_env()), pxc.quiet(pixel):
        _predict_scene(scene, predictor, paths, main, main_key, result, tile=tile,
                       overlap=overlap, batch_size=batch_size, score_thr=score_thr,
                       nms_iou=nms_iou, bands=bands, overwrite=overwrite, resume=resume,
                       progress=progress, save_probs=save_probs, prefetch=prefetch,
                       units=units, nodata=nodata, sea=land_buffer_m if sea_only else None,
                       pixel=pixel, prescreen=prescreen)
    result.seconds = time.perf_counter() - t0
    return result


#: GDAL block cache during inference unless GDAL_CACHEMAX is set: GDAL's default (5% of RAM)
#: fills up with a large scene's blocks, so memory would grow with scene size
GDAL_CACHE_MB = 64


def gdal_cache_env() -> dict[str, Any]:
    """``rasterio.Env`` options bounding GDAL's block cache (respects a user's GDAL_CACHEMAX)."""
    return {} if "GDAL_CACHEMAX" in os.environ else {"GDAL_CACHEMAX": GDAL_CACHE_MB * 2**20}


def _predict_scene(scene: Path, predictor: Any, paths: dict[str, Path], main: Path,
                   main_key: str, result: InferenceResult, *, tile: int | None,
                   overlap: int | None, batch_size: int, score_thr: float, nms_iou: float,
                   bands: Sequence[int] | None, overwrite: bool, resume: bool, progress: bool,
                   save_probs: bool, prefetch: int, units: Any, nodata: Any, sea: Any,
                   pixel: Any = None, prescreen: Any = None) -> None:
    task = predictor.task
    info = open_scene(scene, in_channels=predictor.in_channels, bands=bands, units=units,
                      nodata=nodata, pixel_coords=pixel is not None)
    target = model_units(info, getattr(predictor, "input_units", None))
    announce(info, result.warnings)  # zeros taken as nodata, --units over metadata
    tile = int(tile or predictor.tile_size)
    if overlap is None:
        overlap = getattr(predictor, "overlap", None)
        overlap = tile // 8 if overlap is None else min(int(overlap), tile // 2)
    windows = plan_windows(info.height, info.width, tile, int(overlap))
    plan = windows  # skipped windows keep their verdict on cut views (merge_detections)
    result.n_windows = len(windows)
    stat = scene.stat()
    meta = {"version": 1, "scene": str(scene.resolve()), "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns, "shape": [info.height, info.width],
            "bands": list(info.bands), "tile": tile, "overlap": int(overlap),
            "predictor": _describe(predictor), "nodata": [str(v) for v in info.nodata],
            "units": [str(info.input_units), str(target), info.zero_nodata]}
    if task == "segmentation":
        meta.update(block=BLOCK, probs=bool(save_probs))
    else:
        meta.update(score_thr=float(score_thr))
    meta.update({"pixel_coords": True} if pixel else {})
    sea, windows = plan_sea_only(info, task, sea, windows, meta, result)  # windows at sea
    windows = plan_prescreen(info, task, prescreen, windows, meta, result)  # with candidates
    main.parent.mkdir(parents=True, exist_ok=True)
    with naming_errors(main.parent / f".{main.name}.partial"):
        journal = Journal(main, meta, resume=resume)
    prepare = getattr(predictor, "prepare", None)
    if callable(prepare):
        prepare(info)
    run = (_run_segmentation if task == "segmentation"
           else partial(_run_detection, sea=sea, pixel=pixel, plan=plan))
    try:
        run(info, predictor, windows, journal, paths, result, tile=tile, overlap=int(overlap),
            batch_size=batch_size, score_thr=score_thr, nms_iou=nms_iou, progress=progress,
            prefetch=prefetch, overwrite=overwrite or resume, to_units=target)
    except SceneError:
        journal.remove()  # a broken scene: nothing worth resuming
        raise
    journal.remove()


def _warn_nodata(info: SceneInfo, result: InferenceResult, what: str) -> None:
    msg = f"{info.path}: no valid pixel (all nodata or NaN); writing {what}"
    result.warnings.append(msg)
    warnings.warn(msg, NoDataWarning, stacklevel=3)


@contextmanager
def _reading(info: SceneInfo, windows: list, start: int, *, tile: int, batch_size: int,
             prefetch: int, to_units: Any, progress: bool
             ) -> Iterator[tuple[PrefetchReader, _BackgroundWriter, Any]]:
    """The scene's batches from window ``start`` on (a prefetching reader), a background writer
    for what they produce and a progress bar; on leaving, the bar closes and the writer
    finishes its queue (raising its errors only when the reading ended without one)."""
    writer = _BackgroundWriter()
    bar = _progress(len(windows), start, info.path.name, progress)
    ok = False
    try:
        with PrefetchReader(info, windows, tile, batch_size, start=start,
                            prefetch=prefetch, to_units=to_units) as reader:
            yield reader, writer, bar
        ok = True
    finally:
        bar.close()
        writer.close(raise_errors=ok)


def _run_detection(info: SceneInfo, predictor: Any, windows: list, journal: Journal,
                   paths: dict[str, Path], result: InferenceResult, *, tile: int, overlap: int,
                   batch_size: int, score_thr: float, nms_iou: float, progress: bool,
                   prefetch: int, overwrite: bool, to_units: Any, sea: Any = None,
                   pixel: Any = None, plan: list | None = None) -> None:
    """Detect over ``windows`` (those read) and merge; a cut view at a window's edge is judged
    against every window of ``plan`` (the scene's whole plan: one that sea-only or the
    prescreen skipped saw no object there), as an exhaustive run judges it."""
    rotated = predictor.task == "rotated_detection"
    parts, start, counts = (journal.load_detections(rotated) if journal.resumed
                            else ([], 0, {}))
    result.n_resumed = start
    n_data, n_nodata = counts.get("data", 0), counts.get("nodata", 0)
    with _reading(info, windows, start, tile=tile, batch_size=batch_size, prefetch=prefetch,
                  to_units=to_units, progress=progress) as (reader, writer, bar):
        for batch in reader:
            found = []
            if batch.windows:
                outs = _predict(predictor, batch.images, batch.valid)
                found = [window_detections(r, w, info.height, info.width, rotated, score_thr)
                         for r, w in zip(outs, batch.windows, strict=True)]
            dets = Detections.concat(found, rotated)
            parts.append(dets)
            n_data += len(batch.windows)
            n_nodata += batch.skipped
            result.n_predicted += len(batch.windows)
            result.n_nodata += batch.skipped
            writer.submit(_journal_write, journal, dets, batch.upto,
                          {"data": n_data, "nodata": n_nodata})
            bar.update(batch.upto - bar.n)
    merged = merge_detections(Detections.concat(parts, rotated), iou_thr=nms_iou,
                              interiors=window_interiors(plan or windows, info.height,
                                                         info.width))
    merged, extra, land_meta = sea.keep_at_sea(merged) if sea else (merged, None, {})
    if n_data == 0:
        _warn_nodata(info, result, "an empty detection layer")
    frame = info.detections_frame(merged, predictor.classes, extra)  # products: their UTM
    result.n_objects = len(frame)
    if "geojson" in paths:
        write_geojson(frame, paths["geojson"], overwrite=overwrite)
    if "preview" in paths:
        from sargeo.inference.preview import render_preview

        with naming_errors(paths["preview"]):
            render_preview(info, paths["preview"], classes=predictor.classes,
                           detections=merged, overwrite=overwrite)
    metadata = {"sargeo_scene": str(info.path), "sargeo_task": predictor.task,
                "sargeo_classes": ",".join(predictor.classes), **land_meta}
    if pixel:  # NAME.json before the GeoPackage, the main output
        metadata.update(pixel.write(frame, paths, predictor.classes, info.path, overwrite))
    write_gpkg(frame, paths["detections"], overwrite=overwrite, metadata=metadata)


def _journal_write(journal: Journal, dets: Detections, upto: int,
                   counts: dict[str, int]) -> None:
    with naming_errors(journal.dir):
        journal.append_detections(dets, upto, counts)


def _save_strip(journal: Journal, strip: Any, keep_probs: bool) -> None:
    with naming_errors(journal.dir):
        journal.save_strip(strip, keep_probs)


def _run_segmentation(info: SceneInfo, predictor: Any, windows: list, journal: Journal,
                      paths: dict[str, Path], result: InferenceResult, *, tile: int,
                      overlap: int, batch_size: int, score_thr: float, nms_iou: float,
                      progress: bool, prefetch: int, overwrite: bool, to_units: Any) -> None:
    k = len(predictor.classes)
    keep_probs = "probs" in paths
    start_row = journal.flushed_rows() if journal.resumed else 0
    start = next((i for i, w in enumerate(windows) if w.row_off + w.height > start_row),
                 len(windows))
    result.n_resumed = start
    mosaic = BlendedMosaic(info.height, info.width, k, windows, overlap=overlap, block=BLOCK,
                           start_row=start_row)
    with _reading(info, windows, start, tile=tile, batch_size=batch_size, prefetch=prefetch,
                  to_units=to_units, progress=progress) as (reader, writer, bar):
        for batch in reader:
            if batch.windows:
                outs = _predict(predictor, batch.images, batch.valid)
                for i, w, r, v in zip(batch.indices, batch.windows, outs, batch.valid,
                                      strict=True):
                    for strip in mosaic.advance(i):
                        writer.submit(_save_strip, journal, strip, keep_probs)
                    mosaic.add(w, _probs(r, k), v)
            for strip in mosaic.advance(batch.upto):
                writer.submit(_save_strip, journal, strip, keep_probs)
            result.n_predicted += len(batch.windows)
            result.n_nodata += batch.skipped
            bar.update(batch.upto - bar.n)
    _finish_segmentation(info, predictor, journal, paths, result, overwrite=overwrite)


def _finish_segmentation(info: SceneInfo, predictor: Any, journal: Journal,
                         paths: dict[str, Path], result: InferenceResult, *,
                         overwrite: bool) -> None:
    from sargeo.inference.preview import MaskDecimator

    classes = tuple(predictor.classes)
    decimator = MaskDecimator(info.height, info.width) if "preview" in paths else None
    any_valid = False
    for row0, arr in journal.iter_strips("classes"):
        any_valid = any_valid or bool((arr != NODATA_CLASS).any())
        if decimator is not None:
            decimator.feed(row0, arr)
    if not any_valid:
        _warn_nodata(info, result, "an all-nodata mask")
    grid = info.grid()  # crs, transform (SAFE products: gcps)
    tags = {"SARGEO_SCENE": info.path.name, "SARGEO_CLASSES": ",".join(classes),
            UNITS_TAG: "probability"}  # not SAR values: refused as an input
    if "probs" in paths:
        write_cog(paths["probs"], journal.iter_strips("probs"), count=len(classes),
                  dtype="float32", nodata=math.nan, resampling="average",
                  descriptions=classes, tags=tags, overwrite=overwrite, work_dir=journal.dir,
                  **grid)
    if decimator is not None:
        from sargeo.inference.preview import render_preview

        with naming_errors(paths["preview"]):
            render_preview(info, paths["preview"], classes=classes, mask=decimator.result(),
                           overwrite=overwrite)
    tags.update(SARGEO_CLASS_IDS=",".join(f"{i}={c}" for i, c in enumerate(classes)),
                **{UNITS_TAG: "class"})
    write_cog(paths["mask"], journal.iter_strips("classes"), count=1, dtype="uint8",
              nodata=NODATA_CLASS, resampling="nearest", descriptions=("class",),
              colormap=class_colormap(len(classes)), tags=tags, overwrite=overwrite,
              work_dir=journal.dir, **grid)


# -- many scenes -------------------------------------------------------------------------------
def predict_scenes(paths: str | Path | Iterable[str | Path], predictor: Any, out: str | Path,
                   *, rank: int | None = None, world_size: int | None = None,
                   keep_going: bool = False, progress: bool = True,
                   preview: str | Path | bool | None = None,
                   **kwargs: Any) -> list[InferenceResult]:
    """Run :func:`predict_scene` over files, folders and glob patterns.

    This process takes ``scenes[rank::world_size]`` (default: from torchrun's ``RANK`` /
    ``WORLD_SIZE``). Existing outputs are refused before any compute unless ``overwrite`` or
    ``resume`` (finished scenes skipped) is given. With ``keep_going`` a failing scene is
    reported in its result (status ``"failed"``) and the others still run.
    Other keyword arguments go to :func:`predict_scene`.
    """
    check_predictor(predictor)
    scenes = expand_scenes(paths, pxc.suffixes(SCENE_SUFFIXES, kwargs.get("pixel_coords")))
    names: dict[str, Path] = {}
    for s in scenes:
        if s.stem in names:
            raise ValueError(f"two scenes are named {s.stem!r} ({names[s.stem]} and {s}); their "
                             "outputs would collide")
        names[s.stem] = s
    out = Path(out)
    if len(scenes) > 1 and _is_file_target(out):
        raise ValueError(f"{len(scenes)} scenes need an output folder, not {out}")
    if len(scenes) > 1 and preview not in (None, False, True) \
            and Path(preview).suffix.lower() == ".png":
        raise ValueError(f"{len(scenes)} scenes need a preview folder, not {preview}")
    mine = shard_scenes(scenes, rank, world_size)
    pixel = pxc.PixelCoords.for_scenes(out, scenes, predictor.task, kwargs)  # None: off
    task = predictor.task
    if not kwargs.get("overwrite") and not kwargs.get("resume"):
        existing = [p for s in mine
                    for p in output_paths(s, out, task, geojson=kwargs.get("geojson", False),
                                          save_probs=kwargs.get("save_probs", False),
                                          preview=preview, pixel_coords=pixel).values()
                    if p.exists()] + (pixel.existing() if pixel else [])
        if existing:
            shown = ", ".join(str(p) for p in existing[:5])
            raise FileExistsError(f"{len(existing)} output(s) exist: {shown}"
                                  f"{' ...' if len(existing) > 5 else ''} (pass --overwrite, "
                                  "or --resume to skip finished scenes)")
    from tqdm import tqdm

    results = []
    for scene in tqdm(mine, desc="scenes", unit="scene", disable=not progress or len(mine) < 2):
        try:
            results.append(predict_scene(scene, predictor, out, progress=progress,
                                         preview=preview, **kwargs))
        except (SceneError, OSError, ValueError, KeyError, RuntimeError) as err:
            if not keep_going:
                raise
            results.append(InferenceResult(scene=Path(scene), task=task, status="failed",
                                           error=str(err)))
    return pixel.finish(results) if pixel else results
