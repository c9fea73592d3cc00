"""``sargeo evaluate``: score any output sargeo writes and save the result as JSON, a markdown
summary and, for detections, a precision-recall curve (PNG)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sargeo.evaluation.objects import EvaluationError
from sargeo.io import atomic_path

VECTOR = {".gpkg", ".geojson", ".json", ".shp", ".fgb", ".parquet"}
RASTER = {".tif", ".tiff", ".vrt"}


def kind_of(pred: Path, truth: Path) -> str:
    """``detections`` (vector files with a CRS), ``coco`` (COCO JSON) or ``masks`` (rasters)."""
    exts = {pred.suffix.lower(), truth.suffix.lower()}
    if exts <= RASTER:
        return "masks"
    if exts == {".json"} and _is_coco(truth):
        return "coco"
    if exts <= VECTOR:
        return "detections"
    raise EvaluationError(f"cannot compare {pred} with {truth}: give two vector files "
                          "(GeoPackage/GeoJSON), two COCO JSON files or two rasters")


def _is_coco(path: Path) -> bool:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "images" in data and "annotations" in data


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def markdown(result: dict[str, Any]) -> str:
    """A short summary table of the headline numbers."""
    keys = [k for k in ("precision", "recall", "f1", "f1_shore", "length_error", "best_f1",
                        "best_f1_threshold", "ap", "ap50", "ap75", "miou", "tp", "fp", "fn",
                        "n_pred", "n_truth", "median_distance_m") if k in result]
    lines = [f"# Evaluation: {result['kind']}", "",
             f"- predictions: `{result['pred']}`", f"- truth: `{result['truth']}`", ""]
    if result["kind"] == "detections":
        lines += [f"Matched one to one within {result['max_distance_m']:g} m (Hungarian); "
                  f"shore objects within {result.get('shore_distance_m', 2000):g} m.", ""]
    lines += ["| metric | value |", "|---|---|"] + [f"| {k} | {_fmt(result[k])} |" for k in keys]
    if "iou" in result and isinstance(result["iou"], dict):
        lines += ["", "| class | IoU |", "|---|---|"]
        lines += [f"| {c} | {_fmt(v)} |" for c, v in result["iou"].items()]
    return "\n".join(lines) + "\n"


def plot_pr_curve(curve: list[dict[str, Any]], best: float | None, path: Path,
                  title: str) -> None:
    """Precision against recall over score thresholds, the best-F1 point marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.5), dpi=100)
    pts = [(c["recall"], c["precision"], c["threshold"], c["f1"]) for c in curve
           if c["recall"] is not None and c["precision"] is not None]
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "-", color="tab:blue", lw=1.5)
        top = max(pts, key=lambda p: p[3] or 0.0)
        ax.plot(top[0], top[1], "o", color="tab:red",
                label=f"best F1 {top[3]:.3f} at score >= {top[2]:.3g}")
        ax.legend(loc="lower left")
    ax.set_xlim(0, 1.02), ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall"), ax.set_ylabel("precision"), ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def evaluate(pred: str | Path, truth: str | Path, out: str | Path | None = None, *,
             max_distance_m: float = 200.0, score_threshold: float | None = None,
             shore_distance_m: float = 2000.0, land: Any = None, ignore_value: int | None = -1,
             background: int = 0, pred_layer: str | None = None,
             truth_layer: str | None = None, overwrite: bool = True) -> dict[str, Any]:
    """Score ``pred`` against ``truth`` (kind chosen by the files); with ``out``, write
    ``out`` (JSON), ``out`` with ``.md`` and, for detections, ``.png`` (precision-recall)."""
    pred, truth = Path(pred), Path(truth)
    kind = kind_of(pred, truth)
    if kind == "detections":
        from sargeo.evaluation.detections import evaluate_detections

        result = evaluate_detections(pred, truth, max_distance_m=max_distance_m,
                                     score_threshold=score_threshold,
                                     shore_distance_m=shore_distance_m, land=land,
                                     pred_layer=pred_layer, truth_layer=truth_layer).to_dict()
        result["shore_distance_m"] = shore_distance_m
    elif kind == "coco":
        from sargeo.evaluation.coco import coco_box_scores

        result = coco_box_scores(pred, truth, score_threshold=score_threshold)
    else:
        from sargeo.evaluation.masks import mask_scores

        result = mask_scores(pred, truth, background=background, ignore_value=ignore_value)
    result = {"kind": kind, **result}
    if out is not None:
        out = Path(out)
        with atomic_path(out, overwrite=overwrite) as tmp:
            tmp.write_text(json.dumps(result, indent=2) + "\n")
        with atomic_path(out.with_suffix(".md"), overwrite=overwrite) as tmp:
            tmp.write_text(markdown(result))
        if kind == "detections":
            plot_pr_curve(result["pr_curve"], result["best_f1"], out.with_suffix(".png"),
                          f"{pred.name} vs {truth.name}")
    return result
