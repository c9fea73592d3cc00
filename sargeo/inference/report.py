"""``sargeo infer --report``: one self-contained HTML page per scene for a person to look at.

The page holds the quick-look with the detections drawn (embedded PNG), counts and timings, a
histogram of the scores (inline SVG) and a table of the detections as the GeoPackage holds them
(lon, lat, score, class, length, width, heading, distance to shore where present). It loads
nothing from the network: no scripts, no fonts, no links to fetch.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sargeo.io import atomic_path

#: columns shown in the table, in order, when the GeoPackage has them
COLUMNS = ("lon", "lat", "score", "class_name", "length_m", "width_m", "heading_deg",
           "distance_to_shore_m")
#: table rows at most (the GeoPackage holds them all)
MAX_ROWS = 2000
STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.05em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.85em; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
th { background: #eee; } td.text { text-align: left; }
.facts td:first-child { text-align: left; font-weight: bold; }
img.quicklook { max-width: min(100%, 960px); border: 1px solid #999; }
"""


def _fmt(value: Any, name: str) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if name in ("lon", "lat"):
        return f"{float(value):.6f}"
    if isinstance(value, float | np.floating):
        return f"{float(value):.3f}" if name == "score" else f"{float(value):.1f}"
    return html.escape(str(value))


def score_histogram_svg(scores: Sequence[float], bins: int = 20, width: int = 480,
                        height: int = 160) -> str:
    """An inline SVG bar chart of scores in [0, 1]."""
    counts, edges = np.histogram(np.asarray(scores, dtype=float), bins=bins, range=(0.0, 1.0))
    top = max(int(counts.max()) if len(counts) else 0, 1)
    bar_w = (width - 40) / bins
    bars = []
    for i, c in enumerate(counts):
        h = (height - 30) * c / top
        x = 30 + i * bar_w
        bars.append(f'<rect x="{x:.1f}" y="{height - 20 - h:.1f}" width="{bar_w - 1:.1f}" '
                    f'height="{h:.1f}" fill="#3a7bd5"><title>{edges[i]:.2f}-{edges[i + 1]:.2f}:'
                    f' {c}</title></rect>')
    axis = (f'<line x1="30" y1="{height - 20}" x2="{width - 10}" y2="{height - 20}" '
            f'stroke="#333"/><text x="30" y="{height - 5}" font-size="10">0</text>'
            f'<text x="{width - 20}" y="{height - 5}" font-size="10">1</text>'
            f'<text x="2" y="12" font-size="10">{top}</text>'
            f'<text x="{width / 2 - 20:.0f}" y="{height - 5}" font-size="10">score</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'role="img" aria-label="score histogram">{"".join(bars)}{axis}</svg>')


def write_report(path: str | Path, *, scene: str | Path, detections: str | Path,
                 quicklook: str | Path | None, facts: dict[str, Any],
                 overwrite: bool = True) -> Path:
    """Write the HTML page for one scene's detections (GeoPackage) atomically."""
    import geopandas as gpd

    frame = gpd.read_file(detections)
    shown = [c for c in COLUMNS if c in frame.columns]
    if "score" in frame.columns:
        frame = frame.sort_values("score", ascending=False)
    rows = []
    for i, rec in enumerate(frame[shown].head(MAX_ROWS).itertuples(index=False), start=1):
        cells = "".join(f'<td class="{"text" if n == "class_name" else "num"}">'
                        f"{_fmt(v, n)}</td>" for n, v in zip(shown, rec, strict=True))
        rows.append(f"<tr><td>{i}</td>{cells}</tr>")
    more = (f"<p>First {MAX_ROWS} of {len(frame)} detections by score; all are in "
            f"{html.escape(str(detections))}.</p>" if len(frame) > MAX_ROWS else "")
    image = ""
    if quicklook is not None and Path(quicklook).is_file():
        data = base64.b64encode(Path(quicklook).read_bytes()).decode("ascii")
        image = (f'<img class="quicklook" alt="quick-look with detections" '
                 f'src="data:image/png;base64,{data}">')
    fact_rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
                        for k, v in {"scene": scene, "detections": len(frame), **facts}.items())
    scores = frame["score"].to_numpy() if "score" in frame.columns else np.zeros(0)
    header = "".join(f"<th>{html.escape(c)}</th>" for c in ("#", *shown))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>sargeo: {html.escape(Path(scene).name)}</title><style>{STYLE}</style></head>
<body>
<h1>sargeo detections: {html.escape(Path(scene).name)}</h1>
<table class="facts">{fact_rows}</table>
<h2>Quick-look</h2>
{image or "<p>(no quick-look)</p>"}
<h2>Scores</h2>
{score_histogram_svg(scores)}
<h2>Detections</h2>
{more}
<table class="detections"><thead><tr>{header}</tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
</body></html>
"""
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return Path(path)


def report_for(result: Any) -> Path | None:
    """Write ``NAME.html`` beside the detections of a finished :class:`InferenceResult`;
    None for a scene without detections output (segmentation) or not done."""
    det = result.outputs.get("detections")
    if result.status != "done" or det is None:
        return None
    facts = {"windows": result.n_windows, "windows run": result.n_predicted,
             "nodata-only windows": result.n_nodata, "seconds": f"{result.seconds:.1f}",
             **{k.replace("_", " "): v for k, v in result.land.items()}}
    return write_report(Path(det).with_suffix(".html"), scene=result.scene, detections=det,
                        quicklook=result.outputs.get("preview"), facts=facts)
