"""A model's backbone compiled by OpenVINO for CPU inference, in place of torch eager.

``runtime="openvino"`` (``sargeo infer --runtime openvino``) exports the backbone to ONNX
(opset 17, the batch axis dynamic) and compiles it for the CPU with OpenVINO; the rest of the
model (neck, heads, box decoding, NMS) stays in torch. The backbone's ``precision``:

- ``fp32``: OpenVINO in float32 (features within 1e-6 relative L2 of torch's);
- ``bf16``: OpenVINO's bfloat16 inference precision (CPUs with AVX512-BF16 or AMX);
- ``int8``: quantised by NNCF (post-training, calibrated on tiles of a scene the user names,
  read through the predictor's own units, normalisation and data preprocessor).

With ``bf16`` and ``int8`` the torch parts run as ``precision="bf16"`` does (neck and RoI box
head in bfloat16 autocast). Measured on this 2-core CPU (``benchmarks/perf_runtimes.py``;
backbone speed-up over torch float32, CenterNet ViT-Tiny / ViT-B/16): torch bf16 2.0 / 3.0x,
OpenVINO fp32 1.06 / 2.0x, bf16 2.7 / 3.6x, int8 4.7 / 6.3x (the trained detector's detections
found again at IoU 0.9 both ways: bf16 and int8 agree, 99.2 % for int8).
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sargeo.precision import PRECISIONS

RUNTIMES = ("torch", "openvino")
#: the precisions each runtime runs a backbone in
RUNTIME_PRECISIONS = {"torch": PRECISIONS, "openvino": (*PRECISIONS, "int8")}
#: OpenVINO's inference precision hint per precision (int8: the quantised model's own)
OPENVINO_HINTS = {"fp32": "f32", "bf16": "bf16", "int8": None}
#: int8 calibration: tiles drawn from the calibration scene (NNCF's default subset is 300)
CALIBRATION_TILES = 128

#: a compiled backbone: a batch (B, C, H, W) float32 -> its feature maps, float32
Runner = Callable[[np.ndarray], list[np.ndarray]]


def check_runtime(runtime: str, precision: str) -> None:
    """A ValueError naming an unknown runtime or a precision the runtime lacks."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
    if precision not in RUNTIME_PRECISIONS[runtime]:
        hint = "; int8 needs runtime='openvino' (--runtime openvino)" if precision == "int8" else ""
        raise ValueError(f"precision must be one of {RUNTIME_PRECISIONS[runtime]} with runtime "
                         f"{runtime!r}, got {precision!r}{hint}")


def check_calibration(precision: str, calibration: Any) -> None:
    """A ValueError for int8 without a calibration scene, or one given without int8."""
    if precision == "int8" and calibration is None:
        raise ValueError("int8 needs a calibration scene (calibration= / --calibrate SCENE): "
                         "a scene like those to be run, in the same units")
    if precision != "int8" and calibration is not None:
        raise ValueError(f"a calibration scene is only used for int8, not {precision}")


def export_onnx(backbone: Any, example: np.ndarray, path: Path) -> Path:
    """``backbone`` as ONNX (opset 17, the batch axis dynamic) at ``path``."""
    import torch

    with torch.no_grad():
        names = [f"feat{i}" for i in range(len(backbone(torch.from_numpy(example))))]
    axes = {"tiles": {0: "batch"}, **{n: {0: "batch"} for n in names}}
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(backbone, (torch.from_numpy(example),), str(path), dynamo=False,
                          input_names=["tiles"], output_names=names, dynamic_axes=axes,
                          opset_version=17)
    return path


def openvino_runner(model: Any, threads: int, hint: str | None) -> tuple[Runner, str]:
    """``model`` (an ``openvino.Model`` or a model file) compiled for the CPU with ``threads``
    threads, one stream, and the inference precision ``hint`` (``f32``, ``bf16``; None:
    OpenVINO's default). Returns the runner and the precision the compiled model reports."""
    import openvino as ov

    config: dict[str, Any] = {"INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1,
                              "PERFORMANCE_HINT": "LATENCY"}
    if hint is not None:
        config["INFERENCE_PRECISION_HINT"] = hint
    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(model)) if isinstance(model, str | Path)
                                  else model, "CPU", config)
    request = compiled.create_infer_request()

    def run(x: np.ndarray) -> list[np.ndarray]:
        result = request.infer({0: x})
        return [np.array(result[o]) for o in compiled.outputs]

    got = compiled.get_property("INFERENCE_PRECISION_HINT")
    return run, got.to_string() if hasattr(got, "to_string") else str(got)


def openvino_int8_model(onnx_path: Path, calibration: Sequence[np.ndarray]) -> Any:
    """The ONNX backbone quantised to int8 by NNCF, calibrated on ``calibration`` (network
    inputs of shape (C, H, W), one per calibration step)."""
    import nncf
    import openvino as ov

    model = ov.Core().read_model(str(onnx_path))
    data = nncf.Dataset([t[None] for t in calibration])
    return nncf.quantize(model, data, model_type=nncf.ModelType.TRANSFORMER,
                         subset_size=len(calibration))


def runtime_backbone(runner: Runner, tile_shape: tuple[int, ...] | None = None) -> Any:
    """A ``torch.nn.Module`` whose forward runs ``runner`` (a compiled backbone) and returns
    its feature maps as the tuple of float32 tensors an OpenMMLab backbone returns;
    ``tile_shape``: the (C, H, W) it was compiled for, any other input a named ValueError."""
    import torch

    class RuntimeBackbone(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            if tile_shape is not None and tuple(x.shape[1:]) != tuple(tile_shape):
                raise ValueError(f"the compiled backbone takes tiles of {tuple(tile_shape)} "
                                 f"(channels, height, width), got {tuple(x.shape[1:])}: run "
                                 "with the model's own tile size (no --tile), or with "
                                 "runtime='torch'")
            outs = runner(np.ascontiguousarray(x.detach().float().cpu().numpy()))
            return tuple(torch.from_numpy(np.asarray(o, dtype=np.float32)) for o in outs)

    return RuntimeBackbone()


def compile_backbone(backbone: Any, example: np.ndarray, *, precision: str, threads: int,
                     calibration: Sequence[np.ndarray] = ()) -> tuple[Any, str]:
    """``backbone`` compiled by OpenVINO in ``precision`` (``calibration``: network inputs
    for int8), as a module standing in for it; and the precision OpenVINO reports."""
    check_runtime("openvino", precision)
    if precision == "int8" and not len(calibration):
        raise ValueError("int8 calibration needs at least one tile, got none")
    backbone.eval()
    with tempfile.TemporaryDirectory(prefix="sargeo_openvino_") as work:
        onnx_path = export_onnx(backbone, np.ascontiguousarray(example, np.float32),
                                Path(work) / "backbone.onnx")
        model = (openvino_int8_model(onnx_path, calibration) if precision == "int8"
                 else str(onnx_path))
        runner, got = openvino_runner(model, threads, OPENVINO_HINTS[precision])
    return runtime_backbone(runner, example.shape[1:]), got


def calibration_tiles(predictor: Any, scene: str | Path, n: int = CALIBRATION_TILES,
                      seed: int = 0, **read: Any) -> list[np.ndarray]:
    """``n`` network inputs (C, H, W) drawn evenly (a seeded reservoir sample) from the windows
    of ``scene`` that hold data, as ``predictor`` would feed them to its backbone: the scene
    read and converted to the predictor's units by the inference engine (``read``: its
    ``bands``, ``units``, ``nodata``, as for the scenes to be run), then normalised by the
    predictor's :meth:`network_inputs`. The model itself does not run."""
    from sargeo.inference.engine import predict_scene

    recorder = _CalibrationRecorder(predictor, n, seed)
    with tempfile.TemporaryDirectory(prefix="sargeo_calibration_") as out:
        result = predict_scene(scene, recorder, Path(out) / "calibration", overlap=0,
                               progress=False, **read)
    if result.status != "done":
        raise ValueError(f"{scene}: cannot read calibration tiles: {result.error}")
    if not recorder.tiles:
        raise ValueError(f"{scene}: no window holds data to calibrate int8 on")
    return recorder.tiles


class _CalibrationRecorder:
    """A predictor that keeps a reservoir sample of another's network inputs, predicts nothing."""

    def __init__(self, predictor: Any, n: int, seed: int) -> None:
        self.inner, self.n = predictor, n
        self.task, self.classes = predictor.task, predictor.classes
        self.in_channels, self.tile_size = predictor.in_channels, predictor.tile_size
        self.input_units = predictor.input_units
        self.tiles: list[np.ndarray] = []
        self._seen, self._rng = 0, np.random.default_rng(seed)

    def __call__(self, images: Any, valid: Any) -> list[dict[str, Any]]:
        import torch

        inputs = self.inner.network_inputs(images).float().cpu().numpy()
        for tile, ok in zip(inputs, valid.reshape(len(valid), -1).any(1).tolist(), strict=True):
            if not ok:
                continue
            self._seen += 1
            if len(self.tiles) < self.n:
                self.tiles.append(tile.copy())
            elif (j := int(self._rng.integers(self._seen))) < self.n:
                self.tiles[j] = tile.copy()
        if self.task == "segmentation":
            k, (h, w) = len(self.classes), images.shape[-2:]
            return [{"probs": torch.full((k, h, w), 1.0 / k)} for _ in images]
        key, width = ("rboxes", 5) if self.task == "rotated_detection" else ("boxes", 4)
        return [{key: torch.zeros(0, width), "scores": torch.zeros(0),
                 "labels": torch.zeros(0, dtype=torch.long)} for _ in images]
