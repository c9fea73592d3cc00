"""Sentinel1Product refuses broken products with a ProductError naming the file, what is wrong,
what to do, and the underlying parser's text."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import pytest
import rasterio

from sargeo.datasets.safe import ProductError, Sentinel1Product


@pytest.fixture
def product(safe_products, tmp_path):
    """A fresh copy of a built product folder, to break."""
    return shutil.copytree(safe_products[0].folder, tmp_path / safe_products[0].folder.name)


def one(folder, pattern):
    return next(folder.glob(pattern))


def edit_xml(path, change):
    root = ET.parse(path).getroot()
    change(root)
    path.write_bytes(ET.tostring(root, encoding="UTF-8", xml_declaration=True))


def _first_value(root, path, value):
    """Replace the first number of the first ``path`` element by ``value``."""
    elem = root.find(path)
    elem.text = " ".join([value, *elem.text.split()[1:]])


def test_product_error_is_a_value_error():
    assert issubclass(ProductError, ValueError)


def test_missing_calibration_file(product):
    path = one(product, "annotation/calibration/calibration-*-vh-*.xml")
    path.unlink()
    with pytest.raises(ProductError, match=re.escape(f"{path} is missing: the calibration file "
                                                     "of ") + ".*download it again"):
        Sentinel1Product(product)


def test_truncated_annotation_shows_the_parser_error(product):
    path = one(product, "annotation/s1a-*-vv-*.xml")
    path.write_bytes(path.read_bytes()[:50_000])
    with pytest.raises(ProductError, match=re.escape(f"{path} is not readable XML (")
                       + r"(unclosed token|no element found): line \d+, column \d+\); the "
                       "product is probably truncated or damaged: download it again"):
        Sentinel1Product(product)


def test_missing_measurement_listed_in_the_manifest(product):
    path = one(product, "measurement/*-vh-*.tiff")
    path.unlink()
    with pytest.raises(ProductError, match=re.escape(f"{path} is listed in manifest.safe but "
                                                     "missing")):
        Sentinel1Product(product)


def test_no_measurement_tiff_at_all(product):
    shutil.rmtree(product / "measurement")
    (product / "manifest.safe").unlink()
    with pytest.raises(ProductError, match=re.escape(f"{product / 'measurement/'}: no "
                                                     "measurement TIFF") + ".*incomplete"):
        Sentinel1Product(product)


def test_polarisation_files_from_another_product(product, safe_products):
    other = one(safe_products[1].folder, "annotation/s1a-*-vh-*.xml")
    target = one(product, "annotation/s1a-*-vh-*.xml")
    shutil.copyfile(other, target)
    with pytest.raises(ProductError, match=re.escape(f"{target} (1570 x 1218 px) and ")
                       + ".*do not describe the same image and tie points"):
        Sentinel1Product(product)


def test_annotation_of_the_wrong_polarisation(product):
    vv, vh = one(product, "annotation/s1a-*-vv-*.xml"), one(product, "annotation/s1a-*-vh-*.xml")
    shutil.copyfile(vv, vh)
    with pytest.raises(ProductError, match=re.escape(f"{vh} is for VV, but its name and "
                                                     "measurement ") + ".* say VH"):
        Sentinel1Product(product)


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_measurement_of_another_size(product):
    path = one(product, "measurement/*-vh-*.tiff")
    with rasterio.open(path, "w", driver="GTiff", width=100, height=80, count=1,
                       dtype="uint16") as dst:
        dst.write(np.ones((1, 80, 100), dtype=np.uint16))
    with pytest.raises(ProductError, match=re.escape(f"{path} is 100 x 80 px with 1 band(s); "
                                                     "its annotation says 1570 x 1219")):
        Sentinel1Product(product)


def test_measurement_that_is_not_a_tiff(product):
    path = one(product, "measurement/*-vv-*.tiff")
    path.write_bytes(b"not a tiff" * 100)
    with pytest.raises(ProductError, match=re.escape(f"{path} is not a readable TIFF (")
                       + ".*not recognized"):
        Sentinel1Product(product)


@pytest.mark.parametrize(("kind", "change", "message"), [
    ("annotation/s1a-*-vv-*.xml",
     lambda r: r.find("imageAnnotation/imageInformation").remove(
         r.find("imageAnnotation/imageInformation/numberOfSamples")),
     "has no <numberOfSamples> under <imageInformation>"),
    ("annotation/calibration/calibration-*-vv-*.xml",
     lambda r: setattr(r.find(".//calibrationVector/sigmaNought"), "text", "nan 1 2"),
     "<sigmaNought> holds NaN or infinite values"),
    ("annotation/calibration/calibration-*-vv-*.xml",
     lambda r: setattr(r.find(".//calibrationVector/gamma"), "text", "1 abc"),
     "<gamma> holds a value that is not a number (could not convert string to float: 'abc')"),
    ("annotation/calibration/calibration-*-vv-*.xml",
     lambda r: setattr(r.find(".//calibrationVector/pixel"), "text", "0 40"),
     "the vector at line 0 has 2 pixels but 629 sigmaNought values"),
    ("annotation/calibration/noise-*-vh-*.xml",
     lambda r: setattr(r.find(".//noiseRangeVector/noiseRangeLut"), "text",
                       " ".join(["-1"] * 632)),
     "noise power below 0"),
    ("annotation/calibration/calibration-*-vv-*.xml",  # 1/A^2 overflows float32: inf sigma0
     lambda r: _first_value(r, ".//calibrationVector/sigmaNought", "1e-30"),
     "sigmaNought holds values outside [1e-12, 1e+12], which no Sentinel-1 calibration table "
     "holds (calibrated values would overflow)"),
    ("annotation/calibration/calibration-*-vv-*.xml",  # A^2 overflows float32: sigma0 0
     lambda r: _first_value(r, ".//calibrationVector/betaNought", "1e30"),
     "betaNought holds values outside [1e-12, 1e+12]"),
    ("annotation/calibration/noise-*-vh-*.xml",  # inf in float32: NaN where interpolated
     lambda r: _first_value(r, ".//noiseRangeVector/noiseRangeLut", "1e300"),
     "noise values above 1e+12, which no Sentinel-1 noise table holds (noise removal would "
     "overflow)"),
    ("annotation/calibration/noise-*-vh-*.xml",
     lambda r: _first_value(r, ".//noiseAzimuthVector/noiseAzimuthLut", "1e40"),
     "noise values above 1e+12"),
    ("annotation/calibration/noise-*-vh-*.xml",
     lambda r: [r.remove(e) for e in list(r) if e.tag != "adsHeader"],
     "has neither <noiseRangeVectorList> (IPF >= 2.9) nor <noiseVectorList>"),
])
def test_malformed_xml_is_named(product, kind, change, message):
    path = one(product, kind)
    edit_xml(path, change)
    with pytest.raises(ProductError, match=re.escape(f"{path}") + ".*" + re.escape(message)):
        Sentinel1Product(product)


def test_calibration_file_holding_noise(product):
    cal = one(product, "annotation/calibration/calibration-*-vv-*.xml")
    shutil.copyfile(one(product, "annotation/calibration/noise-*-vv-*.xml"), cal)
    with pytest.raises(ProductError, match=re.escape(f"{cal} is a <noise> file, not a "
                                                     "calibration file")):
        Sentinel1Product(product)


def test_broken_and_foreign_zips(product, tmp_path):
    archive = tmp_path / "p.zip"
    archive.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ProductError, match=re.escape(
            f"{archive} is neither a SAFE folder nor a readable zip (File is not a zip file); "
            "pass the NAME.SAFE folder")):
        Sentinel1Product(archive)
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("data/readme.txt", "hello")
    with pytest.raises(ProductError, match=re.escape(f"{archive} should hold one NAME.SAFE/ "
                                                     "folder, holds none")):
        Sentinel1Product(archive)
    with pytest.raises(FileNotFoundError, match="Sentinel-1 product not found: "):
        Sentinel1Product(tmp_path / "absent.zip")


def test_zip_member_whose_deflate_stream_is_broken(safe_products, tmp_path):
    """A corrupt deflate stream (test_safe_fuzz overwrites zip bytes): zlib.error escaped
    unnamed."""
    archive = tmp_path / safe_products[0].zip.name
    data = bytearray(safe_products[0].zip.read_bytes())
    with zipfile.ZipFile(safe_products[0].zip) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith("/manifest.safe"))
    at = info.header_offset  # local header: 30 bytes, then the name and the extra field
    start = at + 30 + int.from_bytes(data[at + 26:at + 28], "little") + int.from_bytes(
        data[at + 28:at + 30], "little")
    data[start:start + 4] = b"\xff" * 4  # deflate block type 3: reserved, invalid
    archive.write_bytes(bytes(data))
    with pytest.raises(ProductError, match=re.escape(
            f"cannot read {archive}!/{info.filename} (Error -3 while decompressing data: "
            "invalid block type); the product is probably truncated or damaged")):
        Sentinel1Product(archive)


def test_slc_products_are_refused(product):
    path = one(product, "measurement/*-vv-*.tiff")
    path.rename(path.with_name(path.name.replace("-grd-", "-slc-")))
    (product / "manifest.safe").unlink()
    with pytest.raises(ProductError, match="is a SLC measurement; sargeo reads GRD products "
                                           "only"):
        Sentinel1Product(product)


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
def test_truncated_measurement_fails_on_read_with_gdal_text(product, parallel):
    path = one(product, "measurement/*-vh-*.tiff")
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    with Sentinel1Product(product, parallel=parallel) as opened:
        opened.read(((0, 64), (0, 64)))  # the first half is intact
        with pytest.raises(ProductError, match=re.escape(f"cannot read Window(col_off=0, "
                                                         f"row_off=1100, width=64, height=64) "
                                                         f"of {path} (Read failed")
                           + ".*Read error at scanline.*download it again"):
            opened.read(((1100, 1164), (0, 64)))


def test_geolocation_grid_that_cannot_be_fitted(product):
    """Every tie point on one line: no spline or polynomial maps the image."""
    def flatten(root):
        for point in root.findall(".//geolocationGridPoint"):
            point.find("line").text = "0"

    path = one(product, "annotation/s1a-*-vv-*.xml")
    edit_xml(path, flatten)
    edit_xml(one(product, "annotation/s1a-*-vh-*.xml"), flatten)
    with pytest.raises(ProductError, match=re.escape(f"{path}: its geolocation grid cannot be "
                                                     "fitted (")):
        Sentinel1Product(product)
