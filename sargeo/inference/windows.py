"""Window planning: which tiles of a scene the predictor sees.

A scene of any size is cut into square ``tile`` x ``tile`` windows that overlap by ``overlap``
pixels, in row-major order (rows of windows from top to bottom, left to right within a row).
The last window of each row and column is shifted back so it ends on the scene edge instead of
hanging over it: every window but those of a scene smaller than the tile lies fully inside the
scene, so no padding is read and every pixel is seen by a full-size window. A scene smaller than
the tile along an axis gets one window that covers it; the reader pads it to ``tile``.

Row-major order with non-decreasing row offsets is what the streaming segmentation mosaic relies
on: once window ``i`` is reached, every row above ``windows[i].row_off`` is final.
"""

from __future__ import annotations

from rasterio.windows import Window


def axis_offsets(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets along one axis of length ``size``: stride ``tile - overlap``, the last one
    shifted back to ``size - tile`` (one offset 0 when ``size <= tile``)."""
    _check(tile, overlap)
    if size <= 0:
        raise ValueError(f"axis size must be positive, got {size}")
    if size <= tile:
        return [0]
    stride = tile - overlap
    offsets = list(range(0, size - tile + 1, stride))
    if offsets[-1] != size - tile:
        offsets.append(size - tile)
    return offsets


def plan_windows(height: int, width: int, tile: int, overlap: int) -> list[Window]:
    """Windows covering a ``height`` x ``width`` scene, row-major.

    Every window is ``tile`` x ``tile`` except along an axis where the scene is smaller than the
    tile (then it spans the scene; the reader pads it). Neighbouring windows overlap by at least
    ``overlap`` pixels (more for the last row/column, which is shifted back inside the scene).
    """
    rows = axis_offsets(height, tile, overlap)
    cols = axis_offsets(width, tile, overlap)
    h, w = min(tile, height), min(tile, width)
    return [Window(c, r, w, h) for r in rows for c in cols]


def _check(tile: int, overlap: int) -> None:
    if int(tile) != tile or tile < 1:
        raise ValueError(f"tile must be a positive integer, got {tile!r}")
    if int(overlap) != overlap or not 0 <= overlap < tile:
        raise ValueError(f"overlap must be an integer in [0, tile={tile}), got {overlap!r}")
