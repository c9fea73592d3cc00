"""Fuzz: the shared real GeoTIFFs, corrupted byte by byte (truncated, header/IFD entries and
pixel data overwritten, bits flipped, blocks zeroed or set to NaN), run through
``predict_scene`` with the CFAR baseline: each case ends in a result or a named sargeo error
that names the file, and leaves no partial output (see tests/fuzzing.py to replay a case)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sargeo.inference import predict_scene
from sargeo.inference.cfar import CFARShipDetector
from sargeo.inference.reader import SceneError
from sargeo.units import Units
from tests.fuzzing import Case, case_indices, case_rng, corrupt_tiff, outcome, scene_failure

#: the shared SAR GeoTIFFs and the units to state for them (None: the file states them)
SOURCES = {"s1_small_geotiffs/scikit-eo_*.tif": "sigma0-db",
           "s1_small_geotiffs/*_norm_db.tif": None,
           "sen1floods11/S1/*.tif": "sigma0-db",
           "terramind_s1rtc/S1RTC/*.tif": "gamma0-db",
           "bigearthnet_s1/*/*.tif": "sigma0-db"}
CASES = 160


def _sources(shared_data: Path) -> list[tuple[Path, str | None]]:
    found = [(p, units) for pattern, units in SOURCES.items()
             for p in sorted(shared_data.glob(pattern))]
    assert len(found) >= 20, f"shared GeoTIFFs missing under {shared_data}"
    return found


@pytest.mark.slow
def test_corrupt_geotiffs_end_in_a_result_or_a_named_error(shared_data, tmp_path):
    sources = _sources(shared_data)
    failures = []
    for index in case_indices(CASES):
        rng = case_rng(index)
        source, units = sources[int(rng.integers(len(sources)))]
        data, mutation = corrupt_tiff(source.read_bytes(), rng)
        folder = tmp_path / f"case{index}"
        folder.mkdir()
        scene = folder / source.name
        scene.write_bytes(data)
        sidecar = source.with_name(source.name + ".aux.xml")
        if sidecar.is_file():
            shutil.copyfile(sidecar, folder / sidecar.name)
        out = folder / "out"
        case = Case(index, source, mutation)

        failure = scene_failure(case, lambda scene=scene, out=out, units=units: predict_scene(
            scene, CFARShipDetector(tile_size=128, overlap=16), out, progress=False,
            units=None if units is None else Units.parse(units)), scene, out)
        if failure:
            failures.append(failure)
        shutil.rmtree(folder)
    assert not failures, f"{len(failures)} of {len(case_indices(CASES))} cases:\n" + "\n".join(
        failures[:15])


def test_the_fuzz_reports_crashes_unnamed_errors_and_bad_results(tmp_path):
    scene = tmp_path / "scene.tif"
    case = Case(7, scene, "bytes 1..2 overwritten")

    def crash():
        return {}["band"]

    def unnamed():
        raise SceneError("cannot read it")

    def named():
        raise SceneError(f"{scene}: cannot read it")

    report = outcome(case, crash, (str(scene),))
    assert report.startswith("case 7 (seed [20261201, 7]; replay with SARGEO_FUZZ_CASES=7): "
                             "scene.tif: bytes 1..2 overwritten\n  builtins.KeyError: 'band'")
    assert "SceneError does not name the file: cannot read it" in outcome(
        case, unnamed, (str(scene),))
    assert outcome(case, named, (str(scene),)) is None
    assert outcome(case, lambda: 1, (str(scene),), lambda r: f"got {r}").endswith("\n  got 1")
