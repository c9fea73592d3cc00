"""``SARMAELayerDecayConstructor``: layer-wise learning-rate decay for SARMAE ViT backbones in
mmdet, mmrotate and mmseg (mmseg's own constructor only recognises class names containing
MAE/BEiT with ``layers.<i>`` parameters; mmdet's supports ConvNeXt only).

Layer ids follow :mod:`sargeo.models.layer_decay` (the published SARMAE det/seg constructor):
patch embedding, position embedding and class token 0; backbone block ``i`` is ``i + 1``;
everything else (neck, heads) ``L + 1``. A parameter of layer ``j`` learns at
``lr * decay_rate ** (L + 1 - j)``, so heads keep the base lr. 1-D parameters (biases, norms),
position embeddings and tokens get no weight decay. Not timm.optim.param_groups_layer_decay: it
groups a timm ViT by its own group_matcher (no neck or heads under a prefix) and puts the final
norm below the head (see :mod:`sargeo.models.layer_decay`).

Config::

    optim_wrapper = dict(
        type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
        constructor='SARMAELayerDecayConstructor',
        paramwise_cfg=dict(decay_rate=0.9))  # num_layers: read from the backbone if omitted
"""

from __future__ import annotations

import logging

from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn

from sargeo.models.layer_decay import layer_decay_param_groups

logger = logging.getLogger(__name__)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class SARMAELayerDecayConstructor(DefaultOptimWrapperConstructor):
    """Optimizer-wrapper constructor with ViT layer-wise lr decay (see module docstring).

    ``paramwise_cfg`` keys: ``decay_rate`` (required), ``num_layers`` (blocks of the backbone;
    default: the backbone's ``num_layers``), ``prefix`` (default ``backbone.vit.``).
    """

    def add_params(self, params: list[dict], module: nn.Module, **kwargs) -> None:
        cfg = dict(self.paramwise_cfg or {})
        if "decay_rate" not in cfg:
            raise ValueError("SARMAELayerDecayConstructor needs paramwise_cfg.decay_rate")
        decay = float(cfg["decay_rate"])
        prefix = cfg.get("prefix", "backbone.vit.")
        num_layers = cfg.get("num_layers")
        if num_layers is None:
            backbone = getattr(module, "backbone", None)
            num_layers = getattr(backbone, "num_layers", None)
            if num_layers is None:
                raise ValueError("SARMAELayerDecayConstructor: set paramwise_cfg.num_layers "
                                 "(the model has no backbone.num_layers)")
        groups = layer_decay_param_groups(module, self.base_lr, self.base_wd, decay,
                                          num_layers, prefix)
        params.extend(groups)
        logger.info("layer decay %.3g over %d blocks: %d parameter groups", decay, num_layers,
                    len(groups))
