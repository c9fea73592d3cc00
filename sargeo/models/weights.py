"""Published SARMAE weights as torchgeo weights enums and timm models.

After ``import sargeo.models`` (or any ``sargeo.models.weights`` import):

- ``torchgeo.models.get_model("sarmae_vit_b16", weights=...)``, ``get_weight(
  "SARMAE_ViTB16_Weights.SAR1M")`` and ``list_models()`` know sargeo's models;
- ``timm.create_model("sarmae_vit_base_patch16", pretrained=True,
  pretrained_cfg_overlay=dict(file=PATH))`` loads a SARMAE/MAE checkpoint.

Weights are read from a local file (``$SARGEO_WEIGHTS_DIR/<file name>``, torch's hub checkpoint
folder, a ``file://`` URL), else from the Hugging Face hub (gated ``Wenquandan777/SARMAE`` at a
pinned revision, current and older file names, the user's token; :mod:`sargeo.models.hub`).
All loading goes through :func:`sargeo.models.vit.
load_encoder_weights` (weights_only, key mapping, position-embedding resize).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models.vision_transformer import VisionTransformer
from torch import nn
from torchvision.models._api import Weights, WeightsEnum

from sargeo import _registration
from sargeo.models import mixmim_weights
from sargeo.models.vit import VIT_SIZES, create_vit, encoder_state_dict, fit_encoder_state_dict

HF_REPO = "Wenquandan777/SARMAE"
#: the revision sargeo was checked against (users pin one; the repository is gated)
HF_REVISION = "88a8d768665e6070464f239dabb9650795ba5f32"
#: published file names: current first, then the older README's names
FILES = {"base": ("SARMAE_vitb_checkpoint-last", "SARMAE_vit_Base.pth"),
         "large": ("SARMAE_vitl_checkpoint-last", "SARMAE_vit_Large.pth")}
PUBLICATION = "https://arxiv.org/abs/2512.16635"
REPO = "https://github.com/MiliLab/SARMAE"
#: published inputs: grayscale SAR in [0, 1] repeated to 3 channels, normalised with 0.5 / 0.5
SARMAE_MEAN, SARMAE_STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


def _url(file_name: str) -> str:
    return f"https://huggingface.co/{HF_REPO}/resolve/{HF_REVISION}/{file_name}"


def _meta(model: str, size: str) -> dict[str, Any]:
    return {"dataset": "SAR-1M", "in_chans": 3, "model": model, "publication": PUBLICATION,
            "repo": REPO, "ssl_method": "sarmae", "bands": ["SAR"], "license": "CC BY-NC 4.0",
            "file_name": FILES[size][0], "file_names": FILES[size], "hf_repo": HF_REPO,
            "hf_revision": HF_REVISION, "sha256": None, "gated": True,
            "mean": SARMAE_MEAN, "std": SARMAE_STD,
            "img_size": 224, "units": "image"}  # sargeo.units: display-scaled SAR-1M images


def _transforms() -> nn.Module:
    """Inputs in [0, 1] -> the published normalisation."""
    import kornia.augmentation as K

    return K.Normalize(mean=torch.tensor(SARMAE_MEAN), std=torch.tensor(SARMAE_STD))


class SARMAE_ViTB16_Weights(WeightsEnum):  # noqa: N801 (torchgeo naming)
    """SARMAE ViT-B/16 pretrained on SAR-1M (CVPR 2026)."""

    SAR1M = Weights(url=_url(FILES["base"][0]), transforms=_transforms,
                    meta=_meta("vit_base_patch16_224", "base"))


class SARMAE_ViTL16_Weights(WeightsEnum):  # noqa: N801
    """SARMAE ViT-L/16 pretrained on SAR-1M (CVPR 2026)."""

    SAR1M = Weights(url=_url(FILES["large"][0]), transforms=_transforms,
                    meta=_meta("vit_large_patch16_224", "large"))


#: how to go without pretrained weights, in every home of the encoder
NO_WEIGHTS_HINT = ("To train without pretrained weights instead: weights=None (torchgeo "
                   "get_model, sarmae_vit_b16), pretrained=False (timm), "
                   "model.backbone.pretrained=None (OpenMMLab configs: `--cfg-options "
                   "model.backbone.pretrained=None`).")


def weights_file(weights: WeightsEnum) -> Path:
    """Local file of ``weights``: by hand (``$SARGEO_WEIGHTS_DIR``, torch's hub checkpoints, a
    file:// URL), else the Hugging Face hub cache or a download at the pinned revision with the
    user's token (:func:`sargeo.models.hub.hub_file`); other weights (torchgeo's) through
    torch's hub as torchgeo loads them."""
    from sargeo.models.hub import WeightsUnavailable, hub_file, local_candidates

    meta = weights.meta
    names = tuple(meta.get("file_names") or (meta.get("file_name") or Path(weights.url).name,))
    if meta.get("hf_repo"):
        return hub_file(meta["hf_repo"], names, meta["hf_revision"], sha256=meta.get("sha256"),
                        url=weights.url, hint=NO_WEIGHTS_HINT)
    for path in local_candidates(names, weights.url):
        if path.is_file():
            return path
    hub = Path(torch.hub.get_dir()) / "checkpoints" / names[0]
    hub.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(weights.url, str(hub), progress=True)
    except Exception as err:  # network errors come in many types
        raise WeightsUnavailable(
            f"weights {weights} not found locally (looked in "
            f"{[str(c) for c in local_candidates(names, weights.url)]}) and the download from "
            f"{weights.url} failed: {err}. Put {names[0]} in one of those folders or set "
            f"SARGEO_WEIGHTS_DIR. {NO_WEIGHTS_HINT}") from err
    return hub


def checkpoint_file(spec: str | Path, weights_named: Callable[[str], Any],
                    weights_path: Callable[[Any], Path], family: str = "torchgeo") -> Path:
    """A checkpoint file from ``spec``: ``torchgeo:NAME`` is ``weights_path(weights_named(NAME))``
    (a name ``weights_named`` rejects: ValueError naming the ``family``), anything else an
    existing file (else FileNotFoundError)."""
    text = str(spec)
    if text.startswith("torchgeo:"):
        try:
            weights = weights_named(text[len("torchgeo:"):])
        except (ValueError, KeyError) as err:
            raise ValueError(f"unknown {family} weights {text!r}: {err}") from err
        return weights_path(weights)
    path = Path(text).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    return path


def resolve_checkpoint(spec: str | Path) -> Path:
    """A checkpoint file from a path or a weights name: ``torchgeo:ViTBase16_Weights.
    SENTINEL1_GRD_MAE`` (torchgeo's SSL4EO-S12 Sentinel-1 MAE, the natural baseline) or
    ``torchgeo:SARMAE_ViTB16_Weights.SAR1M``; files are found as in :func:`weights_file`."""

    def torchgeo_weights(name: str) -> WeightsEnum:
        import torchgeo.models

        register_torchgeo()
        return torchgeo.models.get_weight(name)

    return checkpoint_file(spec, torchgeo_weights, weights_file)


def _build(size: str, weights: WeightsEnum | None, **kwargs: Any) -> VisionTransformer:
    from sargeo.models.vit import load_encoder_weights

    if weights is not None:
        kwargs.setdefault("in_chans", weights.meta["in_chans"])
    model = create_vit(size, **kwargs)
    if weights is not None:
        load_encoder_weights(model, weights_file(weights))
    return model


def sarmae_vit_b16(weights: SARMAE_ViTB16_Weights | None = None, *args: Any,
                   **kwargs: Any) -> VisionTransformer:
    """SARMAE ViT-B/16 (torchgeo-style builder); ``kwargs`` go to timm's VisionTransformer."""
    return _build("base", weights, **kwargs)


def sarmae_vit_l16(weights: SARMAE_ViTL16_Weights | None = None, *args: Any,
                   **kwargs: Any) -> VisionTransformer:
    """SARMAE ViT-L/16 (torchgeo-style builder)."""
    return _build("large", weights, **kwargs)


#: torchgeo model names -> (builder, weights enum)
TORCHGEO_MODELS = {"sarmae_vit_b16": (sarmae_vit_b16, SARMAE_ViTB16_Weights),
                   "sarmae_vit_l16": (sarmae_vit_l16, SARMAE_ViTL16_Weights)}
# SAR-W-MixMAE's MixMIM-Base (its timm model registers when that module is imported)
TORCHGEO_MODELS.update(mixmim_weights.TORCHGEO_MODELS)


def register_torchgeo() -> bool:
    """Make torchgeo's ``get_model``/``get_weight``/``list_models`` know sargeo's models.

    torchgeo (0.8 to 0.10) has no public registration API: its functions read two private dicts
    in ``torchgeo.models.api``, which this function extends (idempotent). Returns False, doing
    nothing, while that module is not (fully) imported; the import hook of
    :mod:`sargeo._registration` (installed below) calls again once it is.
    """
    api = sys.modules.get("torchgeo.models.api")
    if api is None or not hasattr(api, "_model_weights") or not hasattr(api, "_model"):
        return False
    for name, (builder, enum) in TORCHGEO_MODELS.items():
        api._model[name] = builder
        api._model_weights[name] = enum
        api._model_weights[builder] = enum
    return True


# -- timm --------------------------------------------------------------------------------------
def checkpoint_filter_fn(state_dict: dict[str, Any], model: VisionTransformer
                         ) -> dict[str, torch.Tensor]:
    """timm filter: SARMAE / MAE / sargeo checkpoint -> this model's keys (decoder and alignment
    keys dropped, position embedding resized, patch embedding adapted)."""
    return fit_encoder_state_dict(encoder_state_dict(state_dict), model)


def _cfg(file_name: str) -> dict[str, Any]:
    return {"url": _url(file_name),
            "num_classes": 0, "input_size": (3, 224, 224), "mean": SARMAE_MEAN,
            "std": SARMAE_STD, "license": "cc-by-nc-4.0", "paper_ids": "arXiv:2512.16635",
            "first_conv": "patch_embed.proj", "classifier": "head"}


default_cfgs = generate_default_cfgs({
    "sarmae_vit_base_patch16.sar1m": _cfg(FILES["base"][0]),
    "sarmae_vit_large_patch16.sar1m": _cfg(FILES["large"][0]),
})


def _create_timm(variant: str, size: str, pretrained: bool, **kwargs: Any) -> VisionTransformer:
    args = dict(patch_size=16, qkv_bias=True, **VIT_SIZES[size])
    return build_model_with_cfg(VisionTransformer, variant, pretrained,
                                pretrained_filter_fn=checkpoint_filter_fn, **dict(args, **kwargs))


@register_model
def sarmae_vit_base_patch16(pretrained: bool = False, **kwargs: Any) -> VisionTransformer:
    """SARMAE ViT-B/16 as a timm model."""
    return _create_timm("sarmae_vit_base_patch16", "base", pretrained, **kwargs)


@register_model
def sarmae_vit_large_patch16(pretrained: bool = False, **kwargs: Any) -> VisionTransformer:
    """SARMAE ViT-L/16 as a timm model."""
    return _create_timm("sarmae_vit_large_patch16", "large", pretrained, **kwargs)


# importing this module registers with timm (the decorators above) and with torchgeo: now if
# torchgeo's registry is imported, else as soon as it is, whatever the import order
register_torchgeo()
_registration.watch()
