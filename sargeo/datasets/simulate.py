"""A Sentinel-1-like SAR scene simulator with known ground truth, for tests, benchmarks and the
demo.

What it models: calibrated backscatter (sigma0, linear power) in VV and VH on a projected grid
(UTM by default, 10 m pixels); open sea (about -20 dB VV / -27 dB VH) with a mild wind-streak
texture in VV; land (about -8 dB VV / -14 dB VH) with a textured mean; inland lakes darker than the
sea; ships as bright oriented rectangles (+5 to +15 dB VV) of known length, width and heading;
and fully developed speckle: intensity times Gamma(L, 1/L) noise with L looks (mean 1,
variance 1/L), drawn independently per pixel and polarisation.

What it does not model: imaging geometry (incidence-angle trends, layover, shadow), azimuth
ambiguities and sidelobes of bright targets, thermal noise floors, or spatially correlated
speckle. Good enough to exercise georeferenced pipelines with known answers, not to validate
physics.

The layout (land, lakes, texture) is a smooth procedural field evaluated per pixel, and each
512 px block draws its speckle from its own generator seeded by (seed, row, col): any block can
be computed alone, the result does not depend on the order, and scenes from 256 px to 20,000 px
wide are written block by block without holding them in memory. The same seed gives the same
bytes.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyproj
from affine import Affine

from sargeo.io import atomic_path, check_writable

SEA_DB = (-20.0, -27.0)  #: VV, VH mean backscatter of open sea
LAND_DB = (-8.0, -14.0)
LAKE_DB = (-24.0, -30.0)
SHIP_DB_RANGE = (5.0, 15.0)  #: VV of ships; VH is 6 dB lower
FIELD_CELL = 96  #: pixels per cell of the coarse layout field
VECTOR_CELL = 4  #: pixels per cell when vectorising water
BLOCK = 512  #: pixels per side of the blocks that are rendered, written and seeded alone


@dataclass
class Ship:
    """A simulated ship: centre in map coordinates, size in metres, heading in degrees
    clockwise from grid north."""

    ship_id: int
    x: float
    y: float
    length_m: float
    width_m: float
    heading_deg: float

    def corners(self) -> np.ndarray:
        """(4, 2) map coordinates of the oriented rectangle."""
        h = math.radians(self.heading_deg)
        along = np.array([math.sin(h), math.cos(h)]) * self.length_m / 2
        across = np.array([math.cos(h), -math.sin(h)]) * self.width_m / 2
        c = np.array([self.x, self.y])
        return np.stack([c + along + across, c + along - across, c - along - across,
                         c - along + across])


@dataclass
class SimulatedScene:
    """Where the simulator wrote a scene, and its ground truth."""

    path: Path
    gpkg: Path | None
    crs: pyproj.CRS
    transform: Affine
    width: int
    height: int
    ships: list[Ship]


class _Layout:
    """Smooth random fields over the scene, evaluated at any pixel coordinates."""

    def __init__(self, seed: int, width: int, height: int, land_fraction: float) -> None:
        rng = np.random.default_rng([seed, 7])
        gh, gw = height // FIELD_CELL + 3, width // FIELD_CELL + 3
        # land: a large-scale field plus a coast gradient so land forms a coherent region
        self.land = rng.normal(size=(gh, gw)) * 0.6 + np.linspace(1.5, -1.5, gw)[None, :]
        self.lake = rng.normal(size=(gh, gw))
        self.texture = rng.normal(size=(gh, gw))
        self.land_threshold = float(np.quantile(self.land, 1 - land_fraction)) \
            if land_fraction > 0 else np.inf
        self.lake_threshold = float(np.quantile(self.lake, 0.93))

    @staticmethod
    def _sample(grid: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Bicubic-smooth (smoothstep-weighted bilinear) interpolation of a coarse grid."""
        r, c = rows / FIELD_CELL + 1, cols / FIELD_CELL + 1
        r0, c0 = np.floor(r).astype(int), np.floor(c).astype(int)
        fr, fc = r - r0, c - c0
        fr, fc = fr * fr * (3 - 2 * fr), fc * fc * (3 - 2 * fc)
        g = grid
        top = g[r0, c0] * (1 - fc) + g[r0, c0 + 1] * fc
        bottom = g[r0 + 1, c0] * (1 - fc) + g[r0 + 1, c0 + 1] * fc
        return top * (1 - fr) + bottom * fr

    def classes(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """0 sea, 1 land, 2 lake, at pixel-centre coordinates."""
        land = self._sample(self.land, rows, cols) > self.land_threshold
        lake = land & (self._sample(self.lake, rows, cols) > self.lake_threshold)
        return np.where(lake, 2, np.where(land, 1, 0)).astype(np.uint8)

    def texture_db(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return self._sample(self.texture, rows, cols) * 2.0


def _validate(width: int, height: int, looks: float, resolution: float, crs: str,
              n_ships: int, land_fraction: float) -> pyproj.CRS:
    if width < 32 or height < 32:
        raise ValueError(f"scene size {width} x {height} px is too small (at least 32 x 32)")
    if looks <= 0:
        raise ValueError(f"looks must be positive, got {looks}")
    if resolution <= 0:
        raise ValueError(f"resolution must be positive, got {resolution}")
    if n_ships < 0:
        raise ValueError(f"number of ships must be >= 0, got {n_ships}")
    if not 0 <= land_fraction < 1:
        raise ValueError(f"land_fraction must be in [0, 1), got {land_fraction}")
    try:
        parsed = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as err:
        raise ValueError(f"unknown CRS {crs!r}: {err}") from err
    if not parsed.is_projected:
        raise ValueError(f"CRS {crs!r} is not projected; the simulator needs metres "
                         "(e.g. a UTM zone such as EPSG:32631)")
    return parsed


def _place_ships(rng: np.random.Generator, layout: _Layout, n: int, width: int, height: int,
                 transform: Affine, resolution: float) -> list[Ship]:
    ships: list[Ship] = []
    margin = min(40, min(width, height) // 4)
    tries = 0
    while len(ships) < n and tries < 200 * max(n, 1):
        tries += 1
        col, row = rng.uniform(margin, width - margin), rng.uniform(margin, height - margin)
        length = float(rng.uniform(50, 300))
        width_m = float(length / rng.uniform(5, 8))
        # the whole hull and a ring of sea around it must be open sea
        radius = length / resolution / 2 + 4
        ring = np.linspace(0, 2 * np.pi, 12, endpoint=False)
        rr = np.concatenate([[row], row + radius * np.sin(ring)])
        cc = np.concatenate([[col], col + radius * np.cos(ring)])
        if np.any(rr < 0) or np.any(cc < 0) or np.any(rr >= height) or np.any(cc >= width):
            continue
        if layout.classes(rr, cc).any():
            continue
        x, y = transform * (col, row)
        if any(math.hypot(x - s.x, y - s.y) < (length + s.length_m) / 2 + 3 * resolution
               for s in ships):
            continue
        ships.append(Ship(len(ships), float(x), float(y), length, width_m,
                          float(rng.uniform(0, 360))))
    return ships


def _ship_mask(ship: Ship, rows: np.ndarray, cols: np.ndarray, transform: Affine) -> np.ndarray:
    x, y = transform * (cols, rows)
    h = math.radians(ship.heading_deg)
    dx, dy = x - ship.x, y - ship.y
    along = dx * math.sin(h) + dy * math.cos(h)
    across = dx * math.cos(h) - dy * math.sin(h)
    return (np.abs(along) <= ship.length_m / 2) & (np.abs(across) <= ship.width_m / 2)


def simulate_scene(out_tif: str | Path, out_gpkg: str | Path | None = None, *, width: int = 1024,
                   height: int = 1024, seed: int = 0, crs: str = "EPSG:32631",
                   origin: tuple[float, float] = (500_000.0, 5_800_000.0),
                   resolution: float = 10.0, n_ships: int | None = None, looks: float = 4.0,
                   land_fraction: float = 0.3, overwrite: bool = False,
                   progress: bool | None = None) -> SimulatedScene:
    """Write a simulated scene (GeoTIFF) and its ground truth (GeoPackage layers ``ships`` and
    ``water``); see the module docstring for what is modelled.

    Args:
        out_tif: output GeoTIFF: float32 linear sigma0, bands "VV" and "VH", nodata 0,
            tiled, DEFLATE-compressed; tag ``SARGEO_UNITS=sigma0-linear:VV,VH``.
        out_gpkg: output GeoPackage, or None for none.
        origin: map coordinates of the upper-left corner.
        n_ships: number of ships (default: about one per 0.25 km^2 of sea... capped at 200).
        looks: equivalent number of looks L of the speckle.
        progress: show a progress bar (default: when there are more than 16 blocks).
    """
    import rasterio
    from rasterio.windows import Window

    parsed_crs = _validate(width, height, looks, resolution, crs, n_ships or 0, land_fraction)
    out_tif = check_writable(out_tif, overwrite)
    if out_gpkg is not None:
        out_gpkg = check_writable(out_gpkg, overwrite)
    transform = Affine.translation(*origin) * Affine.scale(resolution, -resolution)
    layout = _Layout(seed, width, height, land_fraction)
    if n_ships is None:
        n_ships = int(min(200, max(3, width * height * resolution**2 * (1 - land_fraction)
                                   / 2.5e6)))
    ships = _place_ships(np.random.default_rng([seed, 11]), layout, n_ships, width, height,
                         transform, resolution)
    ship_db = np.random.default_rng([seed, 13]).uniform(*SHIP_DB_RANGE, size=max(1, len(ships)))

    profile = dict(driver="GTiff", width=width, height=height, count=2, dtype="float32",
                   crs=parsed_crs.to_wkt(), transform=transform, nodata=0.0, tiled=True,
                   blockxsize=BLOCK, blockysize=BLOCK, compress="deflate", predictor=3,
                   BIGTIFF="IF_SAFER")
    block_size = BLOCK
    blocks = [(r, c) for r in range(0, height, block_size) for c in range(0, width, block_size)]
    show = progress if progress is not None else len(blocks) > 16
    with atomic_path(out_tif, overwrite=overwrite) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.set_band_description(1, "VV")
            dst.set_band_description(2, "VH")
            dst.update_tags(SARGEO_SIMULATED="1", SEED=str(seed), LOOKS=str(looks),
                            UNITS="sigma0 linear power", SARGEO_UNITS="sigma0-linear:VV,VH")
            iterator = blocks
            if show:
                from tqdm import tqdm

                iterator = tqdm(blocks, desc="simulating", unit="block")
            for r0, c0 in iterator:
                h, w = min(block_size, height - r0), min(block_size, width - c0)
                data = _render_block(layout, ships, ship_db, transform, seed, looks,
                                     r0, c0, h, w, resolution)
                dst.write(data, window=Window(c0, r0, w, h))
    if out_gpkg is not None:
        _write_truth(out_gpkg, ships, layout, width, height, transform, parsed_crs, overwrite)
    return SimulatedScene(Path(out_tif), Path(out_gpkg) if out_gpkg else None, parsed_crs,
                          transform, width, height, ships)


def _render_block(layout: _Layout, ships: list[Ship], ship_db: np.ndarray, transform: Affine,
                  seed: int, looks: float, r0: int, c0: int, h: int, w: int,
                  resolution: float) -> np.ndarray:
    rows, cols = np.meshgrid(np.arange(r0, r0 + h) + 0.5, np.arange(c0, c0 + w) + 0.5,
                             indexing="ij")
    cls = layout.classes(rows, cols)
    texture = layout.texture_db(rows, cols)
    streaks = 0.8 * np.sin((cols * 0.7 + rows * 0.3) / 25.0)  # wind streaks on the sea
    out = np.empty((2, h, w), dtype=np.float32)
    for band in range(2):
        sea = SEA_DB[band] + (streaks if band == 0 else 0.0)  # streaks show in co-pol
        db = np.select([cls == 1, cls == 2], [LAND_DB[band] + texture, LAKE_DB[band]],
                       default=sea)
        out[band] = 10.0 ** (db / 10.0)
    x0, y1 = transform * (c0, r0)
    x1, y0 = transform * (c0 + w, r0 + h)
    for ship, level in zip(ships, ship_db, strict=False):
        reach = ship.length_m / 2 + resolution
        if ship.x + reach < x0 or ship.x - reach > x1 or ship.y + reach < y0 or \
                ship.y - reach > y1:
            continue
        mask = _ship_mask(ship, rows, cols, transform)
        out[0][mask] = 10.0 ** (level / 10.0)
        out[1][mask] = 10.0 ** ((level - 6.0) / 10.0)
    rng = np.random.default_rng([seed, r0, c0, 17])
    out *= rng.gamma(looks, 1.0 / looks, size=out.shape).astype(np.float32)
    return np.maximum(out, np.float32(1e-7))  # never the nodata value 0


def _write_truth(path: Path, ships: list[Ship], layout: _Layout, width: int, height: int,
                 transform: Affine, crs: pyproj.CRS, overwrite: bool) -> None:
    import geopandas as gpd
    from rasterio.features import shapes
    from shapely.geometry import Polygon, shape

    ship_frame = gpd.GeoDataFrame(
        {"ship_id": [s.ship_id for s in ships], "length_m": [s.length_m for s in ships],
         "width_m": [s.width_m for s in ships], "heading_deg": [s.heading_deg for s in ships],
         "class_name": ["ship"] * len(ships)},
        geometry=[Polygon(s.corners()) for s in ships], crs=crs)
    # water on a grid of VECTOR_CELL px cells, evaluated from the same field as the raster
    gh, gw = math.ceil(height / VECTOR_CELL), math.ceil(width / VECTOR_CELL)
    rows, cols = np.meshgrid((np.arange(gh) + 0.5) * VECTOR_CELL,
                             (np.arange(gw) + 0.5) * VECTOR_CELL, indexing="ij")
    water = (layout.classes(np.minimum(rows, height - 0.5), np.minimum(cols, width - 0.5))
             != 1).astype(np.uint8)
    cell_transform = transform * Affine.scale(VECTOR_CELL, VECTOR_CELL)
    geoms = [shape(g) for g, v in shapes(water, mask=water.astype(bool),
                                         transform=cell_transform) if v == 1]
    extent = Polygon([transform * (0, 0), transform * (width, 0), transform * (width, height),
                      transform * (0, height)])
    geoms = [g.intersection(extent) for g in geoms]
    water_frame = gpd.GeoDataFrame({"class_name": ["water"] * len(geoms)}, geometry=geoms,
                                   crs=crs)
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.unlink()  # the GeoPackage driver creates the file itself
        ship_frame.to_file(tmp, layer="ships", driver="GPKG", engine="pyogrio")
        water_frame.to_file(tmp, layer="water", driver="GPKG", engine="pyogrio")


# -- command line ------------------------------------------------------------------------------
def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="output GeoTIFF")
    parser.add_argument("--gpkg", type=Path, help="output GeoPackage of true ships and water")
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--crs", default="EPSG:32631", help="projected CRS (default UTM 31N)")
    parser.add_argument("--resolution", type=float, default=10.0, help="metres per pixel")
    parser.add_argument("--ships", type=int, default=None, help="number of ships")
    parser.add_argument("--looks", type=float, default=4.0, help="speckle looks L")
    parser.add_argument("--overwrite", action="store_true")


def run_simulate(args: argparse.Namespace) -> int:
    scene = simulate_scene(args.out, args.gpkg, width=args.width, height=args.height,
                           seed=args.seed, crs=args.crs, resolution=args.resolution,
                           n_ships=args.ships, looks=args.looks, overwrite=args.overwrite)
    print(f"wrote {scene.path} ({scene.width} x {scene.height} px, {scene.crs.name}, "
          f"{len(scene.ships)} ships)" + (f" and {scene.gpkg}" if scene.gpkg else ""))
    return 0
