"""Sentinel1Product: calibrated values against an independent computation from the real XML,
noise removal in both layouts, zip and folder, windows, nodata and the noise floor."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
import rasterio

from sargeo.datasets.safe import NOISE_FLOOR, Sentinel1Product
from tests.datasets.conftest import SCALE
from tests.datasets.safe_factory import build_product

TABLES = {"sigma0": "sigmaNought", "beta0": "betaNought", "gamma0": "gamma"}
BORDER = 2  # the factory's frame of DN == 0


# -- the independent computation: the real (full-size) XML, scalar loops ---------------------
def xml_vectors(path, vector_path, value_tag):
    """[(line, [pixels], [values])] of a calibration or noise file, in file order."""
    root = ET.parse(path).getroot()
    return [(float(v.findtext("line")), [float(x) for x in v.findtext("pixel").split()],
             [float(x) for x in v.findtext(value_tag).split()])
            for v in root.findall(vector_path)]


def along(pixels, values, pixel):
    """Linear between the two nodes around ``pixel`` (held at the ends)."""
    if pixel <= pixels[0]:
        return values[0]
    for j in range(len(pixels) - 1):
        if pixels[j] <= pixel <= pixels[j + 1]:
            t = (pixel - pixels[j]) / (pixels[j + 1] - pixels[j])
            return values[j] + t * (values[j + 1] - values[j])
    return values[-1]


def bilinear(vectors, line, pixel):
    """The 4 nodes around (line, pixel): along pixels in the two vectors around the line, then
    linear between them."""
    lines = [v[0] for v in vectors]
    k = 0
    while k < len(lines) - 2 and lines[k + 1] <= line:
        k += 1
    u = min(max((line - lines[k]) / (lines[k + 1] - lines[k]), 0.0), 1.0)
    a = along(vectors[k][1], vectors[k][2], pixel)
    b = along(vectors[k + 1][1], vectors[k + 1][2], pixel)
    return a + u * (b - a)


def azimuth_factor(path, line, pixel):
    """The azimuth noise vector whose block holds (line, pixel), along its lines; 1 elsewhere."""
    for vec in ET.parse(path).getroot().findall("noiseAzimuthVectorList/noiseAzimuthVector"):
        first, last, near, far = (float(vec.findtext(tag)) for tag in (
            "firstAzimuthLine", "lastAzimuthLine", "firstRangeSample", "lastRangeSample"))
        if first <= line <= last and near <= pixel <= far:
            lines = [float(x) for x in vec.findtext("line").split()]
            lut = [float(x) for x in vec.findtext("noiseAzimuthLut").split()]
            return along(lines, lut, line)
    return 1.0


def xml_files(source, pol):
    cal = next((source / "annotation" / "calibration").glob(f"calibration-*-{pol.lower()}-*.xml"))
    noise = next((source / "annotation" / "calibration").glob(f"noise-*-{pol.lower()}-*.xml"))
    return cal, noise


def expected_values(source, pol, quantity, dn, rows, cols, *, denoise, legacy=False,
                    scale=SCALE):
    """(DN^2 - noise) / A^2 at product pixels (rows, cols) = real pixels (16 rows, 16 cols)."""
    cal_path, noise_path = xml_files(source, pol)
    cal = xml_vectors(cal_path, "calibrationVectorList/calibrationVector", TABLES[quantity])
    rng = xml_vectors(noise_path, "noiseRangeVectorList/noiseRangeVector", "noiseRangeLut")
    out = []
    for d, r, c in zip(dn, rows, cols, strict=True):
        line, pixel = scale * float(r), scale * float(c)
        power = float(d) ** 2
        if denoise:
            az = 1.0 if legacy else azimuth_factor(noise_path, line, pixel)
            power -= bilinear(rng, line, pixel) * az
        out.append(power / bilinear(cal, line, pixel) ** 2)
    return np.array(out)


def sample_points(shape, n, seed):
    rng = np.random.default_rng(seed)
    return (rng.integers(BORDER + 1, shape[0] - BORDER - 1, n),
            rng.integers(BORDER + 1, shape[1] - BORDER - 1, n))


def read_dn(product_folder, pol):
    """The DN of a folder product's measurement TIFF, read with rasterio directly."""
    path = next((product_folder / "measurement").glob(f"*-{pol.lower()}-*.tiff"))
    with rasterio.open(path) as src:
        return src.read(1)


# -- tests ------------------------------------------------------------------------------------
@pytest.mark.parametrize("index", [0, 1])
@pytest.mark.parametrize("quantity", ["sigma0", "beta0", "gamma0"])
@pytest.mark.parametrize("denoise", [False, True], ids=["raw", "denoised"])
def test_calibration_equals_an_independent_computation_from_the_xml(safe_products, index,
                                                                    quantity, denoise):
    built = safe_products[index]
    with Sentinel1Product(built.folder) as product:
        assert product.polarisations == ("VV", "VH")
        assert product.noises["VV"].layout == "range+azimuth"
        assert product.calibrations["VV"].tables[quantity].shared_pixels  # the real layout
        values = product.read(quantity=quantity, denoise=denoise)
    for k, pol in enumerate(("VV", "VH")):
        rows, cols = sample_points(values.shape[1:], 40, seed=index)
        dn = read_dn(built.folder, pol)[rows, cols]
        want = expected_values(built.source, pol, quantity, dn, rows, cols, denoise=denoise)
        assert (want > 100 * NOISE_FLOOR).all()  # DN^2 stays above the noise: no floor here
        np.testing.assert_allclose(values[k, rows, cols], want, rtol=1e-4)


def test_older_range_only_noise_layout(safe_sources, tmp_path):
    folder = build_product(safe_sources[0], tmp_path, scale=SCALE, as_zip=False,
                           legacy_noise=True)
    noise_xml = next((folder / "annotation" / "calibration").glob("noise-*-vv-*.xml"))
    assert ET.parse(noise_xml).getroot().find("noiseVectorList") is not None
    with Sentinel1Product(folder) as product:
        assert product.noises["VV"].layout == "range" and product.noises["VV"].azimuth == ()
        values = product.read(polarisations=["VV"])
    rows, cols = sample_points(values.shape[1:], 40, seed=3)
    dn = read_dn(folder, "VV")[rows, cols]
    want = expected_values(safe_sources[0], "VV", "sigma0", dn, rows, cols, denoise=True,
                           legacy=True)
    np.testing.assert_allclose(values[0, rows, cols], want, rtol=1e-4)
    # the azimuth factor matters: the new layout gives other values at the same pixels
    new = expected_values(safe_sources[0], "VV", "sigma0", dn, rows, cols, denoise=True)
    assert np.abs(new / want - 1).max() > 1e-3


def test_calibration_vectors_with_their_own_pixel_lists(safe_sources, tmp_path):
    """Vectors whose pixel lists differ (one node dropped from every other vector) take the
    per-vector path and still match the independent computation from the edited XML."""
    def drop_nodes(name, root):
        if root.tag != "calibration":
            return
        for i, vec in enumerate(root.findall("calibrationVectorList/calibrationVector")):
            if i % 2:
                for tag in ("pixel", "sigmaNought", "betaNought", "gamma", "dn"):
                    items = vec.findtext(tag).split()
                    vec.find(tag).text = " ".join(items[:100] + items[101 + i % 5:])

    folder = build_product(safe_sources[1], tmp_path, scale=SCALE, as_zip=False,
                           edit=drop_nodes,
                           dn=lambda pol, row, rows, width: np.full((rows, width), 300))
    rows = np.array([2, 44, 187, 206, 625, 1210])
    cols = np.array([250, 251, 252, 256, 262, 1250])
    with Sentinel1Product(folder) as product:
        table = product.calibrations["VH"].tables["sigma0"]
        assert not table.shared_pixels
        got = product.read(polarisations=["VH"], denoise=False)[0, rows, cols]
    cal_path = next((folder / "annotation" / "calibration").glob("calibration-*-vh-*.xml"))
    cal = xml_vectors(cal_path, "calibrationVectorList/calibrationVector", "sigmaNought")
    want = [300.0 ** 2 / bilinear(cal, r, c) ** 2 for r, c in zip(rows, cols, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-4)


def test_a_polarisation_with_its_own_calibration(safe_products, safe_sources, tmp_path):
    """Identical VV/VH tables are shared (one window table for both); a VH table of its own
    (sigmaNought doubled here) is used for VH only."""
    def double_vh(name, root):
        if root.tag == "calibration" and "-vh-" in name:
            for elem in root.findall("calibrationVectorList/calibrationVector/sigmaNought"):
                elem.text = " ".join(repr(2 * float(v)) for v in elem.text.split())

    edited = build_product(safe_sources[0], tmp_path, scale=SCALE, as_zip=False,
                           edit=double_vh)
    with Sentinel1Product(edited) as product, \
            Sentinel1Product(safe_products[0].folder) as original:
        tables = {p: product.calibrations[p].tables for p in ("VV", "VH")}
        same = {p: original.calibrations[p].tables for p in ("VV", "VH")}
        assert same["VH"]["sigma0"] is same["VV"]["sigma0"]
        assert tables["VH"]["sigma0"] is not tables["VV"]["sigma0"]
        assert tables["VH"]["beta0"] is tables["VV"]["beta0"]
        window = ((200, 400), (300, 900))
        got, want = product.read(window, denoise=False), original.read(window, denoise=False)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1] / 4, rtol=1e-6)


def test_zip_and_folder_give_identical_values(safe_products):
    built = safe_products[0]
    with Sentinel1Product(built.folder) as folder, Sentinel1Product(built.zip) as archive:
        assert archive.files["VV"].measurement.startswith(f"{built.zip}!/")
        np.testing.assert_array_equal(archive.read(), folder.read())
        np.testing.assert_array_equal(archive.read(quantity="gamma0", denoise=False),
                                      folder.read(quantity="gamma0", denoise=False))


def test_parallel_reading_gives_the_same_values(safe_products):
    import threading

    with Sentinel1Product(safe_products[1].zip, parallel=True) as threaded, \
            Sentinel1Product(safe_products[1].zip) as serial:
        for window in (((0, 300), (0, 700)), ((300, 600), (0, 700)), ((10, 20), (5, 1570))):
            np.testing.assert_array_equal(threaded.read(window), serial.read(window))
        assert sorted(threaded._pools) == ["VH", "VV"]  # one thread per polarisation
        names = {t.name for t in threading.enumerate()}
        assert any(n.startswith("safe-VV") for n in names)
    assert not any(t.name.startswith("safe-V") for t in threading.enumerate())  # closed


def test_manifest_path_opens_the_folder(safe_products):
    built = safe_products[0]
    product = Sentinel1Product(built.folder / "manifest.safe")
    assert product.name == built.folder.stem and product.manifest.polarisations == ("VV", "VH")


@pytest.mark.parametrize("window", [((0, 64), (0, 64)), ((600, 731), (1000, 1570)),
                                    ((1100, 1218), (7, 20)), ((37, 38), (500, 1400))])
def test_a_window_equals_the_same_pixels_of_a_full_read(safe_products, window):
    with Sentinel1Product(safe_products[1].zip) as product:
        full = product.read(polarisations=["VH", "VV"])
        part = product.read(window, polarisations=["VH", "VV"])
    (r0, r1), (c0, c1) = window
    np.testing.assert_array_equal(part, full[:, r0:r1, c0:c1])


def test_borders_are_nodata_and_dn_is_returned_raw(safe_products):
    built = safe_products[0]
    with Sentinel1Product(built.zip) as product:
        dn = product.read(quantity="dn")
        sigma0 = product.read(denoise=False)
    raw = read_dn(built.folder, "VH").astype(np.float32)
    assert np.isnan(dn[1, :BORDER]).all() and np.isnan(sigma0[:, :, -BORDER:]).all()
    inside = (slice(BORDER, -BORDER), slice(BORDER, -BORDER))
    np.testing.assert_array_equal(dn[1][inside], raw[inside])
    assert np.isfinite(sigma0[(slice(None), *inside)]).all()


def test_noise_removal_floor_or_nan(safe_sources, tmp_path):
    """DN 20 (DN^2 = 400): below the noise over most of the swath, above it where the noise
    table is low. The floor replaces what falls below it; floor=None marks it NaN."""
    folder = build_product(safe_sources[0], tmp_path, scale=SCALE, as_zip=False,
                           dn=lambda pol, row, rows, width: np.full((rows, width), 20))
    with Sentinel1Product(folder) as product:
        floored = product.read(polarisations=["VV"])[0]
        holes = product.read(polarisations=["VV"], floor=None)[0]
        raw = product.read(polarisations=["VV"], denoise=False)[0]
    rows, cols = sample_points(floored.shape, 300, seed=5)
    want = expected_values(safe_sources[0], "VV", "sigma0", np.full(300, 20), rows, cols,
                           denoise=True)
    low, high = want < NOISE_FLOOR, want > 2 * NOISE_FLOOR
    assert low.sum() > 100 and high.sum() > 5  # both cases are sampled
    assert (floored[rows[low], cols[low]] == np.float32(NOISE_FLOOR)).all()
    np.testing.assert_allclose(floored[rows[high], cols[high]], want[high], rtol=1e-3)
    assert np.isnan(holes[rows[want <= 0], cols[want <= 0]]).all()
    np.testing.assert_array_equal(holes[rows[high], cols[high]], floored[rows[high], cols[high]])
    assert (raw[rows, cols] > 0).all()  # without noise removal nothing is clipped


def test_units_and_profile_state_what_read_returns(safe_products):
    from sargeo.units import Units

    with Sentinel1Product(safe_products[0].zip) as product:
        assert product.units() == Units.parse("sigma0-linear:VV,VH")
        assert product.units("gamma0", ["vh"]) == Units("gamma0", "linear", ("VH",))
        assert product.units("dn") == Units.parse("dn:VV,VH")
        profile = product.profile
    assert profile["units"] == "sigma0-linear:VV,VH"
    assert profile["source_units"] == "dn-amplitude:VV,VH"
    assert (profile["width"], profile["height"], profile["count"]) == (1570, 1219, 2)
    assert profile["crs"] is None and profile["gcps_crs"] == "EPSG:4326"
    assert profile["noise_layout"] == "range+azimuth" and profile["mode"] == "IW"
    assert profile["pixel_spacing"] == (160.0, 160.0)  # 10 m x 16


def test_window_luts_are_the_tables_of_the_window(safe_products):
    with Sentinel1Product(safe_products[0].zip) as product:
        a = product.lut(((100, 110), (200, 230)), "VV", "beta0")
        noise = product.noise(((100, 110), (200, 230)), "VV")
        full = product.lut(None, "VV", "beta0")
    assert a.shape == noise.shape == (10, 30) and a.dtype == np.float32
    np.testing.assert_array_equal(a, full[100:110, 200:230])
    assert (noise >= 0).all()


def test_read_refuses_bad_arguments(safe_products):
    with Sentinel1Product(safe_products[0].zip) as product:
        with pytest.raises(ValueError, match=r"has polarisations \('VV', 'VH'\), not \['HH'\]"):
            product.read(((0, 8), (0, 8)), polarisations=["HH"])
        with pytest.raises(ValueError, match="is not inside the image"):
            product.read(((1200, 1300), (0, 8)))
        with pytest.raises(ValueError, match="quantity must be one of"):
            product.read(((0, 8), (0, 8)), quantity="sigma")
        with pytest.raises(ValueError, match=r"has polarisations \('VV', 'VH'\), not \['HV'\]"):
            product.noise(((0, 8), (0, 8)), "HV")
        assert product.read(((0, 8), (0, 8)), polarisations=["vh"]).shape == (1, 8, 8)


def pattern_dn(pol, row, rows, width):
    """DN varied along each row, repeated over 64-row runs: compresses to a few MB."""
    r = np.arange(row, row + rows)[:, None] // 64
    return (100 + (np.arange(width)[None, :] * 37 + r * 11) % 400).astype(np.uint16)


@pytest.mark.slow
def test_a_full_size_product_from_its_zip(safe_sources, tmp_path):
    """The real size (25,117 x 19,488 px): windows far apart in the zip, sigma0 with noise
    removal against the independent computation (about 20 s: the product is written first)."""
    archive = build_product(safe_sources[1], tmp_path, scale=1, dn=pattern_dn,
                            tiff_options=dict(tiled=True, compress="deflate"))
    rng = np.random.default_rng(7)
    with Sentinel1Product(archive) as product:
        assert product.shape == (19488, 25117)
        for r0 in (3, 6000, 12345, 19488 - 131):
            c0 = int(rng.integers(3, 25117 - 131))
            values = product.read(((r0, r0 + 128), (c0, c0 + 128)))
            rows, cols = rng.integers(0, 128, 10), rng.integers(0, 128, 10)
            for k, pol in enumerate(("VV", "VH")):
                dn = np.array([pattern_dn(pol, r0 + r, 1, c0 + c + 1)[0, -1]
                               for r, c in zip(rows, cols, strict=True)])
                want = expected_values(safe_sources[1], pol, "sigma0", dn, rows + r0, cols + c0,
                                       denoise=True, scale=1)
                np.testing.assert_allclose(values[k, rows, cols], want, rtol=1e-4)


def test_noise_already_removed_is_not_removed_again(safe_sources, tmp_path):
    def mark_denoised(name, root):
        if root.tag == "product":
            root.find("imageAnnotation/processingInformation/"
                      "thermalNoiseCorrectionPerformed").text = "true"

    folder = build_product(safe_sources[0], tmp_path, scale=SCALE, as_zip=False,
                           edit=mark_denoised)
    with Sentinel1Product(folder) as product:
        assert product.annotations["VH"].noise_removed
        np.testing.assert_array_equal(product.read(), product.read(denoise=False))


def test_hh_hv_products_in_ew_mode(safe_products, tmp_path):
    """Names and headers turned to an EW HH+HV product: found, ordered, read alike."""
    import shutil

    source = safe_products[0].folder
    folder = tmp_path / source.name.replace("_IW_", "_EW_")
    shutil.copytree(source, folder)
    (folder / "manifest.safe").unlink()
    for path in sorted(folder.rglob("*s1a-iw-grd-*")):
        new = path.name.replace("-iw-", "-ew-").replace("-vv-", "-hh-").replace("-vh-", "-hv-")
        path.rename(path.with_name(new))
        if path.suffix == ".xml" and "rfi" not in path.parts:
            text = (path.with_name(new)).read_text()
            text = text.replace("<polarisation>VV<", "<polarisation>HH<")
            (path.with_name(new)).write_text(text.replace("<polarisation>VH<",
                                                          "<polarisation>HV<"))
    with Sentinel1Product(folder) as ew, Sentinel1Product(source) as iw:
        assert ew.polarisations == ("HH", "HV") and ew.manifest is None
        assert ew.files["HV"].measurement.endswith(".tiff") and "-ew-grd-hv-" in \
            ew.files["HV"].measurement
        np.testing.assert_array_equal(ew.read(((100, 200), (300, 400)), polarisations=["HV"]),
                                      iw.read(((100, 200), (300, 400)), polarisations=["VH"]))
