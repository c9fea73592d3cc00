"""The SARMAE encoder: a plain timm ``VisionTransformer``, plus the one key mapping that turns
SARMAE, MAE and sargeo checkpoints into its weights.

Every home of the encoder (pretraining model, torchgeo/timm models, OpenMMLab backbone,
classifier) loads weights through :func:`encoder_state_dict` and :func:`load_encoder_weights`.
"""

from __future__ import annotations

import argparse
import logging
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from timm.layers import resample_abs_pos_embed
from timm.models.vision_transformer import VisionTransformer
from torch import nn

logger = logging.getLogger(__name__)
#: encoder sizes: ViT-B/16 and ViT-L/16 as published; tiny/small for tests and CPU work
VIT_SIZES: dict[str, dict[str, int]] = {
    "tiny": dict(embed_dim=192, depth=12, num_heads=3),
    "small": dict(embed_dim=384, depth=12, num_heads=6),
    "base": dict(embed_dim=768, depth=12, num_heads=12),
    "large": dict(embed_dim=1024, depth=24, num_heads=16),
}
#: key prefixes stripped from foreign checkpoints (DDP wrapper, SARMAE's SAR branch, ...)
WRAPPER_PREFIXES = ("module.", "sar_encoder.", "encoder.", "backbone.", "model.", "vit.")
#: keys of MAE/SARMAE checkpoints that are not part of the encoder
NON_ENCODER_PREFIXES = ("decoder_", "decoder.", "mask_token", "projector", "align", "optical",
                        "teacher", "head.", "sar_alignment_ffn")


class CheckpointError(ValueError):
    """A checkpoint cannot be read, or does not fit the model; the message says why."""


def create_vit(size: str = "base", *, img_size: int | tuple[int, int] = 224,
               patch_size: int = 16, in_chans: int = 3, num_classes: int = 0,
               global_pool: str = "token", drop_path_rate: float = 0.0,
               dynamic_img_size: bool = False, **kwargs: Any) -> VisionTransformer:
    """A timm ViT of one of :data:`VIT_SIZES` with MAE's settings (qkv bias, LayerNorm 1e-6)."""
    if size not in VIT_SIZES:
        raise ValueError(f"unknown ViT size {size!r}; choose one of {sorted(VIT_SIZES)}")
    return VisionTransformer(img_size=img_size, patch_size=patch_size, in_chans=in_chans,
                             num_classes=num_classes, global_pool=global_pool, qkv_bias=True,
                             drop_path_rate=drop_path_rate, dynamic_img_size=dynamic_img_size,
                             **VIT_SIZES[size], **kwargs)


def read_checkpoint(path: str | Path, *, allow_pickle: bool = False) -> dict[str, Any]:
    """Load a checkpoint file safely (``torch.load(weights_only=True)``).

    A file that needs arbitrary pickled objects is refused, with a message naming the file and
    ``--allow-pickle``, unless ``allow_pickle=True``: only opt in for files you trust. Lightning
    ``.ckpt`` files whose content is plain (tensors, numbers, strings, containers) load
    without it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        # MAE-style training scripts store their argparse.Namespace beside the weights: a plain
        # attribute bag, safe to allow
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(path, map_location="cpu", weights_only=not allow_pickle)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{path} needs pickle: it holds Python objects that safe loading "
            f"(torch.load(weights_only=True)) refuses ({_pickle_detail(err)}). Unpickling can "
            "run arbitrary code: only if you trust the file, load it with --allow-pickle "
            "(Python: allow_pickle=True)."
        ) from err
    except (RuntimeError, EOFError, OSError) as err:
        raise CheckpointError(f"{path} is not a readable torch checkpoint: {err}") from err
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, not a state dict")
    return dict(obj)


def _pickle_detail(err: BaseException) -> str:
    """The line of torch's long weights_only message that names the refused object."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    named = [line for line in lines if "Unsupported global" in line or "GLOBAL" in line]
    return (named or lines or [type(err).__name__])[0]


def unwrap_state_dict(checkpoint: Mapping[str, Any],
                      keys: tuple[str, ...] = ("model", "state_dict", "model_state", "encoder")
                      ) -> Mapping[str, Any]:
    """The first of ``checkpoint[key]`` for ``key`` in ``keys`` that holds tensors, else
    ``checkpoint`` itself."""
    for key in keys:
        inner = checkpoint.get(key)
        if isinstance(inner, Mapping) and any(isinstance(v, torch.Tensor) for v in inner.values()):
            return inner
    return checkpoint


def strip_prefixes(key: str, prefixes: tuple[str, ...]) -> str:
    """``key`` without the ``prefixes`` it starts with, however nested (``module.model.x`` with
    ``("module.", "model.")``: ``x``)."""
    stripped = True
    while stripped:
        stripped = False
        for prefix in prefixes:
            if key.startswith(prefix):
                key, stripped = key[len(prefix):], True
    return key


def encoder_state_dict(checkpoint: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The encoder weights of a SARMAE / MAE / sargeo / timm checkpoint, in timm's key names.

    Unwraps ``model`` / ``state_dict``, strips ``module.`` and ``sar_encoder.`` style prefixes and
    drops decoder, mask-token and alignment-head keys; of an OpenMMLab model (keys
    ``backbone.vit.*``, e.g. a detector trained by ``sargeo mm train`` or a ``sargeo convert
    --to mmdet`` file) it keeps the backbone.
    """
    out: dict[str, torch.Tensor] = {}
    items = unwrap_state_dict(checkpoint).items()
    if any(k.startswith(("backbone.", "module.backbone.")) for k, _ in items):
        # an OpenMMLab model (detector, segmentor): its encoder is the backbone
        items = [(k, v) for k, v in items if k.startswith(("backbone.", "module.backbone."))]
    for key, value in items:
        if not isinstance(value, torch.Tensor):
            continue
        key = strip_prefixes(key, WRAPPER_PREFIXES)
        if key.startswith(NON_ENCODER_PREFIXES):
            continue
        out[key] = value
    if not any(k.startswith("blocks.") for k in out):
        raise CheckpointError("no ViT encoder weights (blocks.N.*) found in the checkpoint; "
                              f"its keys start with {sorted({k.split('.')[0] for k in out})[:8]}")
    return out


@dataclass
class LoadReport:
    """What :func:`load_encoder_weights` did not load, and what it adapted."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    adapted: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  #: how keys were adapted, for the log

    def __str__(self) -> str:
        parts = [f"missing={self.missing}", f"unexpected={self.unexpected}"]
        if self.adapted:
            parts.append(f"adapted={self.adapted}")
        if self.dropped:
            parts.append(f"dropped={self.dropped}")
        return "LoadReport(" + ", ".join(parts) + ")"


#: display names of :data:`VIT_SIZES`
SIZE_NAMES = {"tiny": "ViT-Tiny", "small": "ViT-Small", "base": "ViT-Base", "large": "ViT-Large"}


@dataclass(frozen=True)
class EncoderShape:
    """The architecture of an encoder as its weights show it."""

    embed_dim: int | None
    depth: int
    patch_size: tuple[int, ...] | None

    @classmethod
    def of(cls, state: Mapping[str, torch.Tensor]) -> EncoderShape:
        depth = 1 + max((int(k.split(".")[1]) for k in state if k.startswith("blocks.")),
                        default=-1)
        weight = state.get("patch_embed.proj.weight")
        if weight is None:
            return cls(None, depth, None)
        return cls(int(weight.shape[0]), depth, tuple(int(n) for n in weight.shape[2:]))

    @property
    def size(self) -> str | None:
        """The :data:`VIT_SIZES` key with this embed dim and depth (None if none has)."""
        return next((name for name, cfg in VIT_SIZES.items()
                     if (cfg["embed_dim"], cfg["depth"]) == (self.embed_dim, self.depth)), None)

    @property
    def patch(self) -> str:
        """``16`` for 16 x 16 patches, ``16x8`` for others, ``?`` when unknown."""
        if not self.patch_size:
            return "?"
        if len(set(self.patch_size)) == 1:
            return str(self.patch_size[0])
        return "x".join(str(p) for p in self.patch_size)

    @property
    def name(self) -> str:
        """e.g. ``ViT-Base/16``, or the bare numbers for a size sargeo does not know."""
        if self.size is None:
            return f"ViT (embed dim {self.embed_dim}, depth {self.depth})/{self.patch}"
        return f"{SIZE_NAMES[self.size]}/{self.patch}"

    def __str__(self) -> str:
        return f"embed dim {self.embed_dim}, depth {self.depth}, patch {self.patch}: {self.name}"

    def fitting_models(self) -> str:
        """How to build a model these weights fit."""
        if self.size is None:
            return ("no sargeo size has this embed dim and depth; build a timm "
                    f"VisionTransformer(embed_dim={self.embed_dim}, depth={self.depth}, ...)")
        patch = self.patch_size[0] if self.patch_size else 16
        timm_name = f"vit_{self.size}_patch{patch}_224"
        return (f"load them into a {self.name} model: sargeo create_vit({self.size!r}, "
                f"patch_size={patch}), SARMAEViT(arch={self.size!r}, patch_size={patch}) or "
                f"timm {timm_name!r}")


def check_architecture(state: Mapping[str, torch.Tensor], model: VisionTransformer) -> None:
    """Raise :class:`CheckpointError` naming both architectures (embed dim, depth, patch size)
    and the model that fits, when ``state`` is not an encoder of ``model``'s architecture."""
    found, expected = EncoderShape.of(state), EncoderShape.of(model.state_dict())
    if found != expected:
        raise CheckpointError(f"checkpoint encoder ({found}) does not fit the model "
                              f"({expected}); {found.fitting_models()}")


def adapt_patch_embed(weight: torch.Tensor, in_chans: int) -> torch.Tensor:
    """Patch-embedding weights for ``in_chans`` input channels.

    SARMAE was pretrained on grayscale SAR repeated to three channels, so only the sum of the
    weights over input channels carries meaning; each new channel gets ``sum / in_chans``. Then
    ``in_chans`` identical channels (e.g. VV twice) reproduce the pretrained response exactly.
    """
    total = weight.sum(dim=1, keepdim=True)
    return (total / in_chans).repeat(1, in_chans, 1, 1)


def pos_embed_prefix_rows(rows: int, has_class_token: bool) -> int:
    """Rows of a checkpoint's position embedding that belong to prefix tokens: 0 if the rest is
    a square grid, 1 if all but the first row are (the class token's), else (a non-square
    grid) 1 with a class token, 0 without."""
    def square(n: int) -> bool:
        return n > 0 and round(n ** 0.5) ** 2 == n

    if square(rows):
        return 0
    if square(rows - 1):
        return 1
    return int(has_class_token)


def resize_pos_embed(pos: torch.Tensor, grid: Sequence[int], *, prefix_rows: int = 1,
                     keep_prefix_rows: int | None = None) -> torch.Tensor:
    """A ``(1, prefix + h * w, C)`` position embedding on a square ``h x w`` grid, resized
    (bicubic, as timm) to ``grid``, keeping the last ``keep_prefix_rows`` of its prefix rows
    (default all; 0 drops the class-token row for a model without class token)."""
    keep = prefix_rows if keep_prefix_rows is None else keep_prefix_rows
    if keep > prefix_rows:
        raise CheckpointError(f"the position embedding has {prefix_rows} prefix row(s), the "
                              f"model needs {keep}")
    pos = pos[:, prefix_rows - keep:]
    if pos.shape[1] - keep == int(grid[0]) * int(grid[1]):
        old = round((pos.shape[1] - keep) ** 0.5)
        if (old, old) == tuple(int(g) for g in grid):
            return pos
    return resample_abs_pos_embed(pos, new_size=[int(g) for g in grid], num_prefix_tokens=keep)


def fit_embeddings(state: dict[str, torch.Tensor], model: VisionTransformer,
                   report: LoadReport) -> dict[str, torch.Tensor]:
    """Adapt the embeddings of ``state`` (timm key names) to ``model``, in place: drop a class
    token the model has not got (and its position row), resize the position embedding to the
    model's grid and adapt the patch embedding to its input channels."""
    own = model.state_dict()
    if "cls_token" in state and "cls_token" not in own:
        del state["cls_token"]
        report.dropped.append("cls_token")
    pos = state.get("pos_embed")
    if pos is not None and "pos_embed" in own and pos.shape != own["pos_embed"].shape \
            and pos.shape[-1] == own["pos_embed"].shape[-1]:
        has_cls = "cls_token" in state or "cls_token" in report.dropped
        prefix = pos_embed_prefix_rows(pos.shape[1], has_cls)
        keep = 0 if model.no_embed_class else model.num_prefix_tokens
        if prefix < keep:
            raise CheckpointError(
                f"the checkpoint's position embedding has no class-token row ({pos.shape[1]} "
                "rows, no class token: e.g. an OpenMMLab backbone trained with "
                "with_cls_token=False), the model has a class token; build the model without "
                "one (timm: class_token=False, global_pool='avg' or '')")
        grid = list(model.patch_embed.grid_size)
        old = pos.shape[1] - prefix
        state["pos_embed"] = resize_pos_embed(pos, grid, prefix_rows=prefix,
                                              keep_prefix_rows=keep)
        if prefix > keep:
            report.dropped.append("pos_embed[0] (class-token row)")
        side = round(old ** 0.5)
        if old != grid[0] * grid[1]:
            report.adapted.append("pos_embed")
            report.notes.append(f"position embedding resized from {side}x{side} to "
                                f"{grid[0]}x{grid[1]} patches")
    key = "patch_embed.proj.weight"
    if key in state and key in own and state[key].shape[1] != own[key].shape[1] \
            and state[key].shape[2:] == own[key].shape[2:]:
        report.notes.append(f"patch embedding adapted from {state[key].shape[1]} to "
                            f"{own[key].shape[1]} input channel(s)")
        state[key] = adapt_patch_embed(state[key], own[key].shape[1])
        report.adapted.append(key)
    return state


def fit_encoder_state_dict(state: Mapping[str, torch.Tensor], model: VisionTransformer,
                           report: LoadReport | None = None) -> dict[str, torch.Tensor]:
    """Check that ``state`` is an encoder of ``model``'s architecture (else raise
    :class:`CheckpointError` naming both and the model that fits), then fit its embeddings
    (:func:`fit_embeddings`)."""
    report = report if report is not None else LoadReport()
    state = dict(state)
    check_architecture(state, model)
    return fit_embeddings(state, model, report)


def log_load(source: object, state: Mapping[str, torch.Tensor], report: LoadReport,
             target: str = "encoder") -> None:
    """Say at INFO what was loaded: sizes, keys adapted and dropped, position-embedding
    resize."""
    parts = [f"loaded {source} ({EncoderShape.of(state)}) into the {target}"]
    parts += report.notes
    adapted = [k for k in report.adapted if k not in ("pos_embed", "patch_embed.proj.weight")]
    if adapted:
        parts.append(f"adapted {adapted}")
    if report.dropped:
        parts.append(f"dropped {report.dropped}")
    missing = [k for k in report.missing if not k.startswith("head.")]
    if missing:
        parts.append(f"not in the checkpoint (left as initialised) {missing}")
    logger.info("; ".join(parts))


def load_encoder_weights(model: VisionTransformer, checkpoint: Mapping[str, Any] | str | Path,
                         *, allow_pickle: bool = False) -> LoadReport:
    """Load encoder weights from a checkpoint (file or dict) into a timm ViT, and log what was
    loaded (INFO).

    Only classifier-head / final-norm keys may be missing; anything else raises
    :class:`CheckpointError` naming the keys.
    """
    source: object = checkpoint if isinstance(checkpoint, str | Path) else "a state dict"
    if isinstance(checkpoint, str | Path):
        checkpoint = read_checkpoint(checkpoint, allow_pickle=allow_pickle)
    report = LoadReport()
    original = encoder_state_dict(checkpoint)
    state = fit_encoder_state_dict(original, model, report)
    own = model.state_dict()
    for key in [k for k in state if k.startswith("norm.") and k not in own]:
        # global average pooling: timm replaces the final norm by fc_norm (as MAE fine-tuning,
        # which drops the pretrained norm and trains fc_norm from scratch)
        report.dropped.append(key)
        del state[key]
    result = model.load_state_dict(state, strict=False)
    report.missing, report.unexpected = list(result.missing_keys), list(result.unexpected_keys)
    allowed_missing = ("head.", "fc_norm.", "norm.")
    serious = [k for k in report.missing if not k.startswith(allowed_missing)]
    if serious or report.unexpected:
        raise CheckpointError(f"{source}: checkpoint keys do not match the encoder: missing "
                              f"{serious}, unexpected {report.unexpected}")
    log_load(source, original, report)
    return report


def encoder_of(model: nn.Module) -> VisionTransformer:
    """The timm ViT inside a sargeo model (the model itself if it is one)."""
    if isinstance(model, VisionTransformer):
        return model
    for attr in ("encoder", "vit", "model"):
        inner = getattr(model, attr, None)
        if isinstance(inner, VisionTransformer):
            return inner
    raise TypeError(f"{type(model).__name__} holds no timm VisionTransformer")
