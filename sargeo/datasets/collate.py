"""Batching georeferenced samples.

torchgeo's ``stack_samples`` fails on a variable number of boxes per tile, and detection collate
functions drop ``crs``, ``bounds`` and ``transform``, which are needed to put predictions back
on the map. :func:`collate_geo` stacks the dense tensors and keeps everything else per sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

#: keys stacked into one tensor; every other key becomes a list with one entry per sample
STACKED = ("image", "mask")


def collate_geo(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch samples: ``image`` (and ``mask``) stacked to ``(B, ...)`` tensors; ``crs``,
    ``bounds``, ``transform``, ``hboxes``, ``rboxes``, ``labels`` and any other key as lists."""
    if not samples:
        raise ValueError("collate_geo got no samples")
    keys = list(samples[0])
    for i, sample in enumerate(samples[1:], start=1):
        if set(sample) != set(keys):
            raise ValueError(f"sample {i} has keys {sorted(sample)}, sample 0 has {sorted(keys)}")
    batch: dict[str, Any] = {}
    for key in keys:
        values = [s[key] for s in samples]
        if key in STACKED:
            tensors = [torch.as_tensor(v) for v in values]
            shapes = {tuple(t.shape) for t in tensors}
            if len(shapes) > 1:
                raise ValueError(f"cannot stack {key!r} of different shapes {sorted(shapes)}; "
                                 "sample tiles of one size")
            batch[key] = torch.stack(tensors)
        else:
            batch[key] = values
    return batch
