"""The precision names and the context each one runs in."""

from __future__ import annotations

import pytest
import torch

from sargeo.precision import PRECISIONS, autocast, check_precision


def test_each_precision_runs_matmuls_in_its_dtype():
    a = torch.randn(4, 8)
    dtypes = {}
    for name in PRECISIONS:
        with autocast(name):
            dtypes[name] = (a @ a.T).dtype
    assert dtypes == {"fp32": torch.float32, "bf16": torch.bfloat16}


def test_unknown_precision_is_named():
    assert check_precision("bf16") == "bf16"
    named = r"precision must be one of \('fp32', 'bf16'\), got 'fp16'"
    with pytest.raises(ValueError, match=named):
        autocast("fp16")
