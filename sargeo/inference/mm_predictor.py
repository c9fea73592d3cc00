"""An OpenMMLab detector, rotated detector or segmenter as a tiled-inference predictor.

:func:`load_predictor` builds the model from its config, loads the trained checkpoint (strictly:
keys that do not match the config are an error naming the file), and takes everything it needs
from the config rather than from the user: the task (mmdet / mmrotate / mmseg), the class names,
the input channels, the tile size and, above all, the input normalisation, which is the
config's own ``SARNormalize`` step (:mod:`sargeo.mm.transforms`), the same one training used.
That step also says what units the model expects (``input_units``: sigma0 as linear power when
it converts to dB, else sigma0 in dB, with the polarisations of the config's ``bands``), so the
engine converts every scene to them or refuses it (:mod:`sargeo.inference.inputs`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from sargeo.models.vit import CheckpointError
from sargeo.precision import autocast
from sargeo.units import POLARISATIONS


def _autocast_floats(forward: Any, precision: str, device_type: str) -> Any:
    """``forward`` run in ``precision`` (:mod:`sargeo.precision`), its tensors (alone or in
    a tuple/list) returned as float32, so that what follows (box decoding, NMS) stays float32."""

    def to_float(out: Any) -> Any:
        if isinstance(out, torch.Tensor):
            return out.float()
        if isinstance(out, (tuple, list)):
            return type(out)(to_float(o) for o in out)
        return out

    def run(*args: Any, **kwargs: Any) -> Any:
        with autocast(precision, device_type):
            return to_float(forward(*args, **kwargs))

    return run


def reduced_precision_parts(model: torch.nn.Module) -> list[tuple[Any, str]]:
    """The parts of ``model`` a reduced ``precision`` covers, as (owner, method): the feature
    extractor (backbone and neck: nearly all of a ViT's compute) and, in a two-stage detector,
    the RoI box head's layers (fully connected layers on every proposal: on a ViT-B/16 Faster
    R-CNN with 1000 proposals a tile, more time than its backbone in bfloat16). Proposal
    decoding, box decoding and NMS stay float32."""
    parts: list[tuple[Any, str]] = [(model, "extract_feat")]
    bbox_head = getattr(getattr(model, "roi_head", None), "bbox_head", None)
    if isinstance(bbox_head, torch.nn.Module):
        parts.append((bbox_head, "forward"))
    return parts


def _find_transform(pipeline: list[dict], name: str) -> dict | None:
    for step in pipeline or []:
        if str(step.get("type", "")).split(".")[-1] == name:
            return dict(step)
    return None


def _test_dataset_cfg(cfg: Any) -> dict:
    for key in ("test_dataloader", "val_dataloader", "train_dataloader"):
        loader = cfg.get(key)
        if loader and "dataset" in loader:
            return loader["dataset"]
    return {}


class MMPredictor:
    """Runs a built OpenMMLab model on batches of raw scene tiles (see module docstring)."""

    def __init__(self, model: torch.nn.Module, cfg: Any, *, task: str,
                 classes: tuple[str, ...], in_channels: int, tile_size: int,
                 normalize: dict, device: str = "cpu", precision: str = "fp32",
                 polarisations: tuple[str, ...] | None = None, runtime: str = "torch") -> None:
        from sargeo.inference.runtimes import check_runtime
        from sargeo.mm.transforms import SARNormalize

        self.model, self.cfg = model.eval().to(device), cfg
        check_runtime(runtime, precision)
        self.precision, self.runtime = precision, runtime
        #: what the torch parts run in (with OpenVINO: the neck and heads)
        torch_precision = "fp32" if precision == "fp32" else "bf16"
        if torch_precision != "fp32":  # on these instances only: the model classes untouched
            for owner, attr in reduced_precision_parts(self.model):
                setattr(owner, attr, _autocast_floats(getattr(owner, attr), torch_precision,
                                                      torch.device(device).type))
        self.task, self.classes = task, classes
        self.in_channels, self.tile_size = in_channels, tile_size
        self.normalize, self.device = normalize, device
        #: what the model expects (its SARNormalize step and the config's bands)
        self.input_units = SARNormalize(**normalize).input_units.with_polarisations(
            polarisations)
        #: changes when the model does, so a resumed run never mixes two models' outputs
        self.fingerprint = ""

    def _samples(self, batch: int, h: int, w: int) -> list:
        from sargeo.mm.border import input_border

        # border: the tile lies at the network input's origin, as InputBorder says in pipelines
        meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w),
                    scale_factor=(1.0, 1.0), batch_input_shape=(h, w),
                    border=input_border(h, w))
        if self.task == "segmentation":
            from mmseg.structures import SegDataSample

            sample_cls = SegDataSample
        else:
            from mmdet.structures import DetDataSample

            sample_cls = DetDataSample
        return [sample_cls(metainfo=dict(meta)) for _ in range(batch)]

    def _preprocess(self, images: torch.Tensor) -> dict[str, Any]:
        """The model's ``inputs`` and ``data_samples`` for raw scene tiles (B, C, H, W): the
        config's SARNormalize, then the model's data preprocessor."""
        from sargeo.mm.transforms import normalize_sar

        if images.shape[1] != self.in_channels:
            raise ValueError(f"the model expects {self.in_channels} bands, the scene has "
                             f"{images.shape[1]}")
        x = normalize_sar(images.cpu().numpy(), channel_axis=1, **self.normalize)
        inputs = [t for t in torch.from_numpy(np.ascontiguousarray(x))]
        b, _, h, w = images.shape
        return self.model.data_preprocessor(
            {"inputs": inputs, "data_samples": self._samples(b, h, w)}, False)

    @torch.no_grad()
    def network_inputs(self, images: torch.Tensor) -> torch.Tensor:
        """What the backbone gets for raw scene tiles ``images`` (B, C, H, W)."""
        return self._preprocess(images)["inputs"]

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, valid: torch.Tensor | None = None) -> list[dict]:
        """``images``: (B, C, H, W) raw scene values -> per image ``boxes``/``rboxes``,
        ``scores``, ``labels`` (detection) or ``probs`` (K, H, W) (segmentation)."""
        data = self._preprocess(images)
        h, w = images.shape[-2:]
        results = self.model(data["inputs"], data["data_samples"], mode="predict")
        out = []
        for result in results:
            if self.task == "segmentation":
                logits = result.seg_logits.data[:, :h, :w]
                out.append({"probs": logits.softmax(0).float().cpu()})
                continue
            pred = result.pred_instances
            boxes = pred.bboxes
            boxes = getattr(boxes, "tensor", boxes).float().cpu()
            key = "rboxes" if self.task == "rotated_detection" else "boxes"
            out.append({key: boxes, "scores": pred.scores.float().cpu(),
                        "labels": pred.labels.long().cpu()})
        return out


def set_proposals(cfg: Any, proposals: int, config: str | Path) -> None:
    """Keep at most ``proposals`` region proposals a tile at inference (``test_cfg.rpn
    .max_per_img``; the RoI head's time grows with it), or a ValueError naming ``config`` when
    its model has no region proposal network."""
    if isinstance(proposals, bool) or not isinstance(proposals, int) or proposals < 1:
        raise ValueError(f"proposals must be a whole number >= 1, got {proposals!r}")
    rpn = (cfg.model.get("test_cfg") or {}).get("rpn")
    if not rpn or "rpn_head" not in cfg.model:
        raise ValueError(f"{config}: its model has no region proposal network (rpn_head and "
                         "test_cfg.rpn), so --proposals does not apply")
    rpn.max_per_img = proposals


def load_predictor(config: str | Path, checkpoint: str | Path | None,
                   device: str = "cpu", precision: str = "fp32",
                   proposals: int | None = None, runtime: str = "torch",
                   calibration: str | Path | None = None,
                   calibration_read: dict[str, Any] | None = None) -> MMPredictor:
    """Build the config's model, load ``checkpoint`` (an mmengine ``.pth`` from ``sargeo mm
    train``) and wrap it for tiled inference. ``precision``: one of
    :data:`sargeo.precision.PRECISIONS`, or with ``runtime="openvino"`` (the backbone compiled
    by OpenVINO, :mod:`sargeo.inference.runtimes`) also ``int8``, calibrated on tiles of the
    scene ``calibration`` (read with ``calibration_read``: ``predict_scene``'s ``bands``,
    ``units``, ``nodata``); ``proposals``: :func:`set_proposals`, default the config's."""
    from sargeo.inference.runtimes import check_calibration, check_runtime

    check_runtime(runtime, precision)
    check_calibration(precision, calibration)
    if runtime != "torch" and torch.device(device).type != "cpu":
        raise ValueError(f"runtime {runtime!r} runs on the CPU, not on device {device!r}")
    from mmengine.registry import init_default_scope

    from sargeo.mm.runner import build_model, load_config
    from sargeo.models.vit import read_checkpoint

    cfg = load_config(config)
    init_default_scope(cfg.get("default_scope", "mmdet"))
    dataset = _test_dataset_cfg(cfg)
    pipeline = dataset.get("pipeline") or cfg.get("test_pipeline") or []
    norm = _find_transform(pipeline, "SARNormalize")
    if norm is None:
        raise ValueError(f"{config}: its test pipeline has no SARNormalize step, so sargeo "
                         "cannot normalise scene pixels as in training; use a scene config "
                         "(e.g. configs/mmdet/sarmae_vit-b16_faster-rcnn_s1-ships.py)")
    norm.pop("type")
    if proposals is not None:
        set_proposals(cfg, proposals, config)
    backbone = cfg.model.backbone
    backbone.pretrained = None  # the trained checkpoint holds the backbone too
    model = build_model(cfg)
    if checkpoint is not None:
        state = read_checkpoint(checkpoint)
        state = state.get("state_dict", state)
        state = {k.removeprefix("module."): v for k, v in state.items()}
        result = model.load_state_dict(state, strict=False)
        if result.missing_keys or result.unexpected_keys:
            raise CheckpointError(
                f"{checkpoint} does not match {config}: missing "
                f"{result.missing_keys[:8]}{'...' if len(result.missing_keys) > 8 else ''}, "
                f"unexpected {result.unexpected_keys[:8]}")
    scope = cfg.get("default_scope", "mmdet")
    if scope == "mmseg" or "decode_head" in cfg.model:
        task = "segmentation"
    elif scope == "mmrotate":
        task = "rotated_detection"
    else:
        task = "detection"
    classes = tuple(dataset.get("classes") or dataset.get("metainfo", {}).get("classes") or ())
    if not classes:
        raise ValueError(f"{config}: no class names in its test dataset (classes / metainfo)")
    tile = int(dataset.get("tile_size") or backbone.get("img_size", 512))
    in_channels = int(backbone.get("in_channels", 3))
    bands = tuple(str(b).upper() for b in dataset.get("bands") or ())
    pols = bands if len(bands) == in_channels and set(bands) <= set(POLARISATIONS) else None
    predictor = MMPredictor(model, cfg, task=task, classes=classes, in_channels=in_channels,
                            tile_size=tile, normalize=norm, device=device, precision=precision,
                            polarisations=pols, runtime=runtime)
    if runtime == "openvino":
        _compile_backbone(predictor, calibration, calibration_read or {})
    stats = [(str(Path(p).resolve()), Path(p).stat().st_size, Path(p).stat().st_mtime_ns)
             for p in (config, checkpoint) if p is not None]
    predictor.fingerprint = repr(stats)
    return predictor


def _compile_backbone(predictor: MMPredictor, calibration: str | Path | None,
                      read: dict[str, Any]) -> None:
    """Replace ``predictor``'s backbone by OpenVINO's compilation of it in its precision
    (int8: calibrated on tiles of ``calibration``, read with ``read``); record what OpenVINO
    reports."""
    from sargeo.inference.runtimes import calibration_tiles, compile_backbone

    tiles = [] if calibration is None else calibration_tiles(predictor, calibration, **read)
    size = predictor.tile_size
    example = predictor.network_inputs(torch.zeros(1, predictor.in_channels, size, size))
    predictor.model.backbone, got = compile_backbone(
        predictor.model.backbone, example.float().numpy(), precision=predictor.precision,
        threads=torch.get_num_threads(), calibration=tiles)
    predictor.runtime_precision = got
    if calibration is not None:
        predictor.calibration = f"{calibration} ({len(tiles)} tiles)"
