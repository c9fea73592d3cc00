"""`sargeo infer --report`: a self-contained HTML page that lists the GeoPackage's detections and
renders in a real (headless) browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser

import geopandas as gpd
import numpy as np
import pytest
from PIL import Image

from sargeo.cli import main
from sargeo.inference.report import score_histogram_svg, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Tables(HTMLParser):
    """The table with class ``detections``: its header cells and its rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.header: list[str] = []
        self.rows: list[list[str]] = []
        self._in = False
        self._row: list[str] | None = None
        self._cell: str | None = None
        self._is_header = False

    def handle_starttag(self, tag, attrs):
        if tag == "table" and ("class", "detections") in attrs:
            self._in = True
        elif self._in and tag == "tr":
            self._row, self._is_header = [], False
        elif self._in and tag in ("td", "th"):
            self._cell = ""
            self._is_header |= tag == "th"

    def handle_endtag(self, tag):
        if tag == "table":
            self._in = False
        elif self._in and tag in ("td", "th") and self._row is not None:
            self._row.append(self._cell or "")
            self._cell = None
        elif self._in and tag == "tr" and self._row is not None:
            (self.header.extend if self._is_header else self.rows.append)(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


@pytest.fixture(scope="module")
def report(sim_scene, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    assert main(["infer", str(sim_scene.path), "--baseline", "cfar", "--rotated", "--out",
                 str(out), "--report", "--quiet"]) == 0
    return out / "sim.html", out / "sim.gpkg"


def test_page_lists_the_geopackage_detections_and_fetches_nothing(report):
    page, gpkg = report
    text = page.read_text()
    frame = gpd.read_file(gpkg).sort_values("score", ascending=False)
    assert len(frame) >= 10
    parser = Tables()
    parser.feed(text)
    assert parser.header[:4] == ["#", "lon", "lat", "score"]
    assert "length_m" in parser.header and "heading_deg" in parser.header
    assert len(parser.rows) == len(frame)
    lon = [float(r[1]) for r in parser.rows]
    lat = [float(r[2]) for r in parser.rows]
    np.testing.assert_allclose(lon, frame["lon"].to_numpy(), atol=1e-6)
    np.testing.assert_allclose(lat, frame["lat"].to_numpy(), atol=1e-6)
    # self-contained: the quick-look is embedded; nothing is fetched (the SVG namespace is a name)
    assert 'src="data:image/png;base64,' in text
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', text)
    assert "<script" not in text
    assert f"<td>detections</td><td>{len(frame)}</td>" in text


def test_histogram_counts_the_scores():
    svg = score_histogram_svg([0.05, 0.06, 0.55, 0.99], bins=10)
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    assert len(heights) == 10 and heights[0] == max(heights) and heights[1] == 0.0
    assert heights[5] == heights[9] == pytest.approx(max(heights) / 2)


def test_empty_detections_still_give_a_page(tmp_path):
    empty = tmp_path / "none.gpkg"
    gpd.GeoDataFrame({"score": np.zeros(0)}, geometry=[], crs="EPSG:32631").to_file(empty)
    page = write_report(tmp_path / "none.html", scene="x.tif", detections=empty, quicklook=None,
                        facts={"seconds": 1.0})
    assert "<td>detections</td><td>0</td>" in page.read_text()


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install "
                    "chromium); .ci/run installs it")
def test_page_renders_in_headless_chromium(report, tmp_path):
    page, _ = report
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         "--window-size=1200,1600", f"--screenshot={shot}", page.as_uri()],
        capture_output=True, text=True, timeout=180)
    assert shot.is_file(), proc.stderr[-2000:]
    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.shape == (1600, 1200)
    # not blank: the dark SAR quick-look and the text cover a good part of the page
    assert img.std() > 20 and (img < 128).mean() > 0.05
