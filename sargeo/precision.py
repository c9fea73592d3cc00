"""Reduced-precision execution: the one place that knows the ``precision`` names.

``"fp32"`` runs as is; ``"bf16"`` runs under ``torch.autocast`` in bfloat16 (about 1.4-1.8x
on CPUs with AVX512-BF16 or AMX, and on GPUs). Used by fine-tuning (forward and loss) and by
tiled inference (backbone, neck and a two-stage detector's RoI box head, see
:mod:`sargeo.inference.mm_predictor`).
"""

from __future__ import annotations

import contextlib
from typing import Any

PRECISIONS = ("fp32", "bf16")


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else a ValueError naming it."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


def autocast(precision: str, device_type: str = "cpu") -> Any:
    """The context ``precision`` runs in on ``device_type`` ("cpu", "cuda")."""
    import torch  # here: the command line reads PRECISIONS without loading torch

    if check_precision(precision) == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type, dtype=torch.bfloat16)
