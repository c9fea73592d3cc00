"""Error text that keeps the underlying cause.

Libraries often re-raise with a generic message and chain the real one: rasterio's
``RasterioIOError("Read failed. See previous exception for details.")`` carries GDAL's
``TIFFReadEncodedTile:Read error ...`` only as ``__cause__``. :func:`error_text` joins the
messages of the whole chain, so a message built from it shows what actually went wrong.
"""

from __future__ import annotations

import re

#: sentences that only point at the chained cause (shown instead)
POINTER = re.compile(r"\s*See (the )?previous exception for details\.?", re.IGNORECASE)


def error_chain(err: BaseException) -> list[BaseException]:
    """``err`` followed by its causes (``__cause__``, else ``__context__``), without cycles."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__
                                        else current.__context__)
    return chain


def error_text(err: BaseException) -> str:
    """The messages of ``err`` and its causes, outermost first, joined by ``: `` (full stops
    before a cause dropped, a message already contained in an earlier one skipped, a cause
    without a message shown by its type)."""
    chain = error_chain(err)
    parts: list[str] = []
    for i, item in enumerate(chain):
        text = str(item).strip()
        if i + 1 < len(chain):  # the cause follows: drop pointers to it, and the full stop
            text = POINTER.sub("", text).strip().rstrip(".")
        text = text or type(item).__name__
        if not any(text in part for part in parts):  # GDAL repeats itself down the chain
            parts.append(text)
    return ": ".join(parts)
