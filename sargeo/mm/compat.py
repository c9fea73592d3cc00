"""Every fix sargeo needs to run OpenMMLab 2.x (mmengine 0.10.7, mmcv 2.1.0, mmdet 3.3.0,
mmsegmentation 1.2.2, mmrotate_dev 1.0.1) on torch >= 2.6 and numpy 2, in one place.

:func:`apply` is called when :mod:`sargeo.mm` is imported; it is idempotent and edits no file.

1. **Checkpoints under ``torch.load(weights_only=True)``** (the default since torch 2.6).
   mmengine 0.10.7 calls ``torch.load`` without ``weights_only``, so its own checkpoints fail
   to load (resume, ``load_from``): their message hub holds ``HistoryBuffer`` objects and numpy
   arrays. We do not turn the check off. Instead
   (a) ``HistoryBuffer`` pickles only its data (it used to pickle its bound statistics methods
   through ``builtins.getattr``, a global that must never be allow-listed) and rebuilds the
   methods when loaded; (b) ``HistoryBuffer`` and the numpy reconstruction globals are
   registered with ``torch.serialization.add_safe_globals``. Checkpoints written by vanilla
   mmengine still contain ``getattr``: load them once with ``allow_pickle`` (trusted files only)
   and save again.
2. **numpy 2**: the removed aliases (``np.float``, ``np.long``) occur only in code paths sargeo
   does not use (mmcv pixel_group, mmdet ytviseval and text transforms); nothing is patched.
3. **Version asserts**: the pinned set passes mmdet's and mmrotate's asserts as is.
4. **mmseg cross-entropy with class weights and ignored pixels** (mmseg 1.2.2): the weighted
   mean looks up ``class_weight[label]`` for every pixel, so any ignore-index pixel (255, e.g.
   outside a scene's footprint) raises ``IndexError``. sargeo computes that normaliser with
   ignored pixels weighted 0 (``torch.nn.functional.cross_entropy``'s own weighted mean) and
   passes it in; everything else is mmseg's function.
"""

from __future__ import annotations

import numpy as np
import torch

_applied = False


def _history_buffer_getstate(self) -> dict:
    """Pickle the data only; the statistics methods live on the class (``register_statistics``
    is a classmethod), so nothing is lost."""
    state = dict(self.__dict__)
    state.pop("statistics_methods", None)
    return state


def _history_buffer_setstate(self, state: dict) -> None:
    state = dict(state)
    state.pop("statistics_methods", None)  # written by vanilla mmengine; class-level anyway
    self._set_default_statistics()
    self.__dict__.update(state)


def safe_globals() -> list:
    """Globals that mmengine checkpoints need and that are safe to unpickle."""
    from mmengine.logging import HistoryBuffer

    core = getattr(np, "_core", None) or np.core
    dtype_classes = [type(np.dtype(c)) for c in "?bhilqBHILQefdgFDG"]
    return [HistoryBuffer, np.ndarray, np.dtype, core.multiarray._reconstruct,
            core.multiarray.scalar, *dtype_classes]


def _weighted_mean_safe(original):
    def cross_entropy(pred, label, weight=None, class_weight=None, reduction="mean",
                      avg_factor=None, ignore_index=-100, avg_non_ignore=False):
        if class_weight is not None and avg_factor is None and reduction == "mean":
            cw = torch.as_tensor(class_weight, dtype=pred.dtype, device=pred.device)
            valid = label != ignore_index
            avg_factor = (cw[label.clamp(0, len(cw) - 1)] * valid).sum()
        return original(pred, label, weight=weight, class_weight=class_weight,
                        reduction=reduction, avg_factor=avg_factor, ignore_index=ignore_index,
                        avg_non_ignore=avg_non_ignore)

    cross_entropy.sargeo_fixed = True
    return cross_entropy


def _fix_mmseg_cross_entropy() -> None:
    try:
        from mmseg.models.losses import cross_entropy_loss
    except ImportError:  # mmseg not installed: nothing to fix
        return
    if not getattr(cross_entropy_loss.cross_entropy, "sargeo_fixed", False):
        cross_entropy_loss.cross_entropy = _weighted_mean_safe(cross_entropy_loss.cross_entropy)


def apply() -> None:
    """Apply the fixes above (once)."""
    global _applied
    if _applied:
        return
    from mmengine.logging import HistoryBuffer

    HistoryBuffer.__getstate__ = _history_buffer_getstate
    HistoryBuffer.__setstate__ = _history_buffer_setstate
    torch.serialization.add_safe_globals(safe_globals())
    _fix_mmseg_cross_entropy()
    _applied = True
