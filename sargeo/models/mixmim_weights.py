"""SAR-W-MixMAE's MixMIM-Base encoder as a torchgeo model and a timm model.

- ``torchgeo.models.get_model("sar_w_mixmae_base", weights=None)`` (or
  ``weights=SARWMixMAE_Base_Weights.BENV2_S1``) builds a
  :class:`~sargeo.models.swin.MixMIMSwin` (registered through
  :data:`sargeo.models.weights.TORCHGEO_MODELS`);
- ``timm.create_model("sar_w_mixmae_base_patch4_128", pretrained=True,
  pretrained_cfg_overlay=dict(file=PATH), num_classes=19)`` loads any MixMAE / MixMIM checkpoint
  (published pretraining or fine-tuning file, sargeo export, Lightning checkpoint);
  ``features_only=True`` gives the four stage maps.

The authors have not published a download URL for their weights (their README: "Release
artifacts ... will be added as GitHub Releases"): the weights enum finds the file locally only
(``$SARGEO_WEIGHTS_DIR/<file name>`` or torch's hub checkpoint folder; see
:func:`sargeo.models.weights.weights_file`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from torch import nn
from torchvision.models._api import Weights, WeightsEnum

if TYPE_CHECKING:
    from sargeo.models.swin import MixMIMSwin

# the model modules are imported inside the functions: this module is imported by
# sargeo.models.weights from timm's import hook, while sargeo.models.mae may still be importing

PUBLICATION = "https://arxiv.org/abs/2503.01181"
REPO = "https://github.com/acaglayan/SAR-W-MixMAE"
#: BigEarthNet v2 Sentinel-1 statistics in dB, channel order (VH, VV) as released
BENV2_S1_MEAN, BENV2_S1_STD = (-19.1966, -12.5144), (5.4501, 5.0019)
BANDS = ("VH", "VV")
#: file name the weights enum looks for locally (the release's checkpoint_64.pth, renamed)
FILE_NAME = "sar_w_mixmae_base_checkpoint_64.pth"


def _transforms() -> nn.Module:
    """dB inputs (VH, VV) -> the published normalisation."""
    import kornia.augmentation as K

    return K.Normalize(mean=torch.tensor(BENV2_S1_MEAN), std=torch.tensor(BENV2_S1_STD))


class SARWMixMAE_Base_Weights(WeightsEnum):  # noqa: N801 (torchgeo naming)
    """SAR-W-MixMAE MixMIM-Base pretrained on BigEarthNet v2 Sentinel-1 (64 epochs)."""

    BENV2_S1 = Weights(url="", transforms=_transforms, meta={
        "dataset": "BigEarthNet v2 (Sentinel-1)", "in_chans": 2, "model": "mixmim_base",
        "publication": PUBLICATION, "repo": REPO, "ssl_method": "sar-w-mixmae",
        "bands": list(BANDS), "license": "see the repository", "file_name": FILE_NAME,
        "mean": BENV2_S1_MEAN, "std": BENV2_S1_STD, "img_size": 128,
        "units": "sigma0-dB"})


def local_weights(weights: WeightsEnum) -> Path:
    """The local file of weights without a download URL: ``$SARGEO_WEIGHTS_DIR/<file name>``
    or torch's hub checkpoint folder; FileNotFoundError naming both and what to do."""
    name = weights.meta["file_name"]
    candidates = [Path(torch.hub.get_dir()) / "checkpoints" / name]
    if os.environ.get("SARGEO_WEIGHTS_DIR"):
        candidates.insert(0, Path(os.environ["SARGEO_WEIGHTS_DIR"]) / name)
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"weights {weights} are not released for download; looked for {name} in "
        f"{[str(c) for c in candidates]}. Copy the authors' checkpoint there under that name "
        "(or set SARGEO_WEIGHTS_DIR), or build without weights: weights=None (torchgeo), "
        "pretrained=False (timm), model.backbone.pretrained=None (OpenMMLab)")


def sar_w_mixmae_base(weights: SARWMixMAE_Base_Weights | str | None = None, *args: Any,
                      **kwargs: Any) -> MixMIMSwin:
    """SAR-W-MixMAE MixMIM-Base (torchgeo-style builder); ``kwargs`` go to
    :func:`~sargeo.models.swin.create_mixmim` (``num_classes``, ``img_size``, ...)."""
    from sargeo.models.mixmae_export import load_mixmim_encoder
    from sargeo.models.swin import create_mixmim

    model = create_mixmim("base", **kwargs)
    if weights is not None:
        weights = SARWMixMAE_Base_Weights.verify(weights)  # also takes the member's name
        load_mixmim_encoder(model, local_weights(weights))
    return model


#: torchgeo model names -> (builder, weights enum), merged into sargeo's registration
TORCHGEO_MODELS = {"sar_w_mixmae_base": (sar_w_mixmae_base, SARWMixMAE_Base_Weights)}


def checkpoint_filter_fn(state_dict: dict[str, Any], model: MixMIMSwin
                         ) -> dict[str, torch.Tensor]:
    """timm filter: any MixMAE / MixMIM checkpoint -> ``model``'s keys. The head and the fixed
    position embedding are the model's own where the checkpoint has none or another shape."""
    from sargeo.models.mixmae_export import mixmim_encoder_state_dict

    state = mixmim_encoder_state_dict(state_dict)
    for key, value in model.state_dict().items():
        theirs = state.get(key)
        if (key.startswith("head.") or key == "absolute_pos_embed") and (
                theirs is None or theirs.shape != value.shape):
            state[key] = value
    return state


default_cfgs = generate_default_cfgs({
    "sar_w_mixmae_base_patch4_128.benv2_s1": {
        "url": "", "num_classes": 0, "input_size": (2, 128, 128), "mean": BENV2_S1_MEAN,
        "std": BENV2_S1_STD, "paper_ids": "arXiv:2503.01181", "first_conv": "patch_embed.proj",
        "classifier": "head", "license": "see https://github.com/acaglayan/SAR-W-MixMAE"},
})


@register_model
def sar_w_mixmae_base_patch4_128(pretrained: bool = False, **kwargs: Any) -> MixMIMSwin:
    """SAR-W-MixMAE MixMIM-Base (128 px, patch 4, VH + VV) as a timm model."""
    from sargeo.models.swin import MIXMIM_SIZES, MixMIMSwin

    args = dict(img_size=128, patch_size=4, in_chans=2, **MIXMIM_SIZES["base"])
    # features_only: the four stages; feature_cfg=dict(norm=True) puts the final norm on the
    # last one (timm's default leaves it off)
    feature_cfg = dict(feature_cls="getter", out_indices=(0, 1, 2, 3),
                       **kwargs.pop("feature_cfg", None) or {})
    return build_model_with_cfg(MixMIMSwin, "sar_w_mixmae_base_patch4_128", pretrained,
                                pretrained_filter_fn=checkpoint_filter_fn,
                                feature_cfg=feature_cfg, **dict(args, **kwargs))
