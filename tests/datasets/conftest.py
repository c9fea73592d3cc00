"""Fixtures for the SAFE product tests: small products built from the shared real metadata."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.datasets.safe_factory import ANNOTATIONS, build_product, source_products

#: every 16th line and pixel of the real products (1570 x 1219 px, see safe_factory)
SCALE = 16


@dataclass
class Built:
    source: Path  #: the shared SAFE folder (the real, full-size XML)
    folder: Path  #: the product built from it, as a .SAFE folder
    zip: Path  #: the same product (same DN) as ESA's .zip


class Products:
    """Products built once per test session, on first use."""

    def __init__(self, root: Path) -> None:
        self.root, self._built = root, {}

    def __getitem__(self, index: int) -> Built:
        if index not in self._built:
            source = source_products()[index]
            out = self.root / f"p{index}"
            out.mkdir()
            folder = build_product(source, out / "folder", scale=SCALE, as_zip=False)
            archive = build_product(source, out / "zip", scale=SCALE)
            self._built[index] = Built(source, folder, archive)
        return self._built[index]


@pytest.fixture(scope="session")
def safe_sources() -> list[Path]:
    """The two shared SAFE folders; skip when ../shared/data is absent."""
    sources = source_products()
    if len(sources) < 2:
        pytest.skip(f"real Sentinel-1 product metadata not found at {ANNOTATIONS}")
    return sources


@pytest.fixture(scope="session")
def safe_products(safe_sources, tmp_path_factory) -> Products:
    return Products(tmp_path_factory.mktemp("safe"))
