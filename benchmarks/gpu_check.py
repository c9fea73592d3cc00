"""What only a GPU shows, in one run of at most 8 minutes on one GPU (``make gpu-check``).

Checks, each in its own process (a CUDA error or a time-out in one leaves the others intact):

- ``pretrain_ddp_bf16``: SARMAE pretraining steps with SARE and SARC under Lightning DDP in one
  process (``strategy="ddp"``, one device), with the published ViT-B/16 recipe's settings read
  from ``configs/pretrain/sarmae_vit_b16.yaml`` (model, ``bf16-mixed``, gradient clip 1.0,
  batch size per GPU 512), :class:`~sargeo.pretrain.datamodule.PretrainDataModule` on a
  generated SAR-1M-style index (paired and unpaired images);
- ``perf_pretrain``: :mod:`benchmarks.perf_pretrain` (ViT-B/16; the reference rows when
  ``--reference`` names a facebookresearch/mae checkout);
- ``perf_inference``: :mod:`benchmarks.perf_inference` ``--quick --device cuda`` (its part 3,
  host memory with a CPU baseline, left out);
- ``mmdet_faster_rcnn``, ``mmrotate_oriented_rcnn``, ``mmseg_upernet``: one training step of
  each OpenMMLab task built from sargeo's ``configs/`` (SARMAE ViT-B/16 backbone, the config's
  optimizer wrapper and layer decay) on generated images and labels.

It prints one summary table and writes ``benchmarks/results/gpu_check.json`` (per check: name,
ok, seconds, error, key numbers). ``--device cpu --smoke`` runs the same code at toy sizes on
the CPU (about a minute; the test suite does it); ``--device cuda`` without a GPU stops at once
with a message.

    python -m benchmarks.gpu_check [--device cuda] [--reference MAE_CHECKOUT]
    python -m benchmarks.gpu_check --device cpu --smoke
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "gpu_check.json"
RECIPE = ROOT / "configs" / "pretrain" / "sarmae_vit_b16.yaml"
CPU_DETECTOR = ROOT / "configs" / "mmdet" / "sarmae_vit-t16_centernet_s1-ships_cpu.py"
MM_TASKS = {
    "mmdet_faster_rcnn": ("configs/mmdet/sarmae_vit-b16_faster-rcnn_ssdd.py", "det"),
    "mmrotate_oriented_rcnn": ("configs/mmrotate/sarmae_vit-b16_oriented-rcnn-le90_rsar.py",
                               "rotated"),
    "mmseg_upernet": ("configs/mmseg/sarmae_vit-b16_upernet_air-polsar-seg.py", "seg"),
}
CHECKS = ("pretrain_ddp_bf16", "perf_pretrain", "perf_inference", *MM_TASKS)
#: seconds each check may take on a GPU (8 minutes in all, process starts included)
TIMEOUTS = {"pretrain_ddp_bf16": 110, "perf_pretrain": 150, "perf_inference": 110,
            "mmdet_faster_rcnn": 35, "mmrotate_oriented_rcnn": 35, "mmseg_upernet": 35}
SMOKE_TIMEOUT = 600  #: per check on the CPU: generous, the CPU may be shared


class NoGPUError(RuntimeError):
    """``--device cuda`` on a machine where torch sees no (such) CUDA GPU."""


def require_device(device: str) -> None:
    """Raise :class:`NoGPUError` with the reason when ``device`` is a CUDA device torch cannot
    use here; CPU devices pass."""
    import torch

    dev = torch.device(device)
    if dev.type != "cuda":
        return
    build = torch.version.cuda or "none: a CPU-only build"
    if not torch.cuda.is_available():
        reason = ""
        try:
            torch.cuda.init()
        except Exception as err:  # the driver's own words, e.g. "Found no NVIDIA driver"
            reason = f" ({err})"
        raise NoGPUError(f"--device {device}: no CUDA GPU is visible to torch "
                         f"{torch.__version__} (CUDA build {build}){reason}. Run on a machine "
                         "with a GPU, or check the CPU path with --device cpu --smoke")
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        raise NoGPUError(f"--device {device}: torch sees {torch.cuda.device_count()} CUDA "
                         f"GPU(s), numbered from 0")


def _sync(device: str):
    import torch

    if device.startswith("cuda"):
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def _peak_mb(device: str) -> float | None:
    import torch

    return torch.cuda.max_memory_allocated(device) / 2**20 if device.startswith("cuda") else None


# -- pretraining under DDP ---------------------------------------------------------------------
def write_index(root: Path, n: int, size: int, seed: int = 0) -> Path:
    """A SAR-1M-style folder: ``n`` speckled grayscale SAR PNGs, the first 70 % paired with RGB
    optical PNGs (``paired.json``, SAR-1M's share), the rest alone (``unpaired.json``)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    (root / "sar").mkdir(parents=True, exist_ok=True)
    (root / "opt").mkdir(exist_ok=True)
    paired, unpaired = [], []
    for i in range(n):
        sar = (rng.gamma(4.0, 0.25, (size, size)) * 60).clip(0, 255).astype(np.uint8)
        Image.fromarray(sar).save(root / "sar" / f"{i}.png")
        if i < int(0.7 * n):
            opt = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(opt).save(root / "opt" / f"{i}.png")
            paired.append({"sar": f"sar/{i}.png", "optical": f"opt/{i}.png"})
        else:
            unpaired.append(f"sar/{i}.png")
    (root / "paired.json").write_text(json.dumps(paired))
    (root / "unpaired.json").write_text(json.dumps(unpaired))
    return root


def check_pretrain(device: str, smoke: bool, work: Path) -> dict[str, Any]:
    """Pretraining steps with the recipe's settings under Lightning DDP (one process)."""
    import lightning as L
    import torch
    import yaml

    from sargeo.pretrain.datamodule import PretrainDataModule
    from sargeo.pretrain.module import SARMAEPretrainModule

    recipe = yaml.safe_load(RECIPE.read_text())
    model_kw, trainer_cfg, data_cfg = dict(recipe["model"]), recipe["trainer"], recipe["data"]
    batch, img, steps = int(data_cfg["batch_size"]), int(data_cfg["img_size"]), 4
    workers = min(int(data_cfg["num_workers"]), os.cpu_count() or 1)
    if smoke:  # toy sizes, same code path and settings
        model_kw.update(size="tiny", img_size=32, decoder_dim=32, decoder_depth=1,
                        decoder_heads=2, teacher_model="vit_small_patch16_dinov3")
        batch, img, steps, workers = 4, 32, 2, 0
    if not (model_kw["sare"] and model_kw["sarc"]):
        raise ValueError(f"{RECIPE} no longer turns on SARE and SARC; this check needs both")
    root = write_index(work / "sar1m", batch * steps, img)
    accepted = inspect.signature(PretrainDataModule).parameters
    data_kw = {k: v for k, v in data_cfg.items() if k in accepted and k not in (
        "data_root", "scenes", "img_size", "batch_size", "num_workers")}  # e.g. sampling
    dm = PretrainDataModule(data_root=str(root), img_size=img, batch_size=batch,
                            num_workers=workers, **data_kw)
    module = SARMAEPretrainModule(**model_kw)
    sync, times, losses = _sync(device), [], []

    class Record(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            sync()
            times.append(time.perf_counter())

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            sync()
            times[-1] = time.perf_counter() - times[-1]
            losses.append(float(outputs["loss"]))

    index = torch.device(device).index
    trainer = L.Trainer(
        accelerator="gpu" if device.startswith("cuda") else "cpu",
        devices=[index] if index is not None else 1, strategy="ddp",
        precision=trainer_cfg["precision"], gradient_clip_val=trainer_cfg["gradient_clip_val"],
        accumulate_grad_batches=trainer_cfg.get("accumulate_grad_batches", 1),
        use_distributed_sampler=trainer_cfg.get("use_distributed_sampler", False),
        max_steps=steps, max_epochs=trainer_cfg.get("max_epochs"), logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        callbacks=[Record()], default_root_dir=str(work), num_sanity_val_steps=0)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(device)
    trainer.fit(module, datamodule=dm)
    if len(losses) != steps or not all(map(lambda v: v == v and abs(v) < float("inf"), losses)):
        raise FloatingPointError(f"expected {steps} finite losses, got {losses}")
    model_device = str(next(module.model.parameters()).device)
    if model_device.split(":")[0] != torch.device(device).type:
        raise RuntimeError(f"the model trained on {model_device}, not {device}")
    steady = times[1:] or times
    result = {"steps": steps, "batch_per_device": batch, "img_size": img,
              "size": model_kw["size"], "strategy": type(trainer.strategy).__name__,
              "world_size": trainer.world_size, "precision": trainer_cfg["precision"],
              "gradient_clip_val": trainer_cfg["gradient_clip_val"], "sare": True, "sarc": True,
              "teacher_mode": model_kw["teacher_mode"], "teacher": model_kw["teacher_model"],
              "norm_pix_loss": model_kw["norm_pix_loss"], "data": data_kw,
              "losses": losses, "model_device": model_device,
              "step_seconds": sum(steady) / len(steady),
              "samples_per_s": batch * len(steady) / sum(steady), "peak_mem_mb": _peak_mb(device)}
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return result


# -- the speed benchmarks ----------------------------------------------------------------------
def check_perf_pretrain(device: str, smoke: bool, work: Path, reference: str | None,
                        with_compile: bool = False) -> dict[str, Any]:
    """:mod:`benchmarks.perf_pretrain` on ``device``; every row must succeed."""
    from benchmarks import perf_pretrain

    names = ["sargeo-bf16"] if smoke else [
        n for n, c in perf_pretrain.CONFIGS.items() if c.impl == "sargeo"
        and (with_compile or not c.compile)]
    if reference:
        names = [n for n, c in perf_pretrain.CONFIGS.items() if c.impl == "reference"] + names
    sizes = (["--size", "tiny", "--img-size", "32", "--decoder", "32", "1", "2", "--batch", "2",
              "--iters", "1", "--warmup", "1"] if smoke else
             ["--size", "base", "--batch", "128", "--iters", "8", "--warmup", "2"])
    out = work / "perf_pretrain.json"
    argv = ["--device", device, *sizes, "--timeout", "120", "--out", str(out),
            "--configs", *names] + (["--reference", reference] if reference else [])
    rc = perf_pretrain.main(argv)
    result = json.loads(out.read_text())
    rows = {r["config"]: ({k: r.get(k) for k in ("samples_per_s", "peak_mem_mb", "sare_ms")}
                          if r["ok"] else {"error": r["error"]}) for r in result["rows"]}
    numbers = {"json": str(out), "rows": rows, "pairs": result["pairs"],
               "reference": reference or "not given (--reference): sargeo rows only"}
    if rc != 0:
        failed = [f"{r['config']}: {r['error']}" for r in result["rows"] if not r["ok"]]
        raise _Partial(numbers, "; ".join(failed))
    return numbers


def check_perf_inference(device: str, smoke: bool, work: Path) -> dict[str, Any]:
    """:mod:`benchmarks.perf_inference` ``--quick`` on ``device``."""
    from benchmarks import perf_inference

    out = work / "perf_inference.json"
    sizes = ["--config", str(CPU_DETECTOR), "--tile", "128", "--scene", "200"] if smoke else []
    # part 3 (peak host memory with the CPU CFAR baseline) shows nothing about the GPU: skipped
    perf_inference.main(["--quick", "--device", device, "--work", str(work / "perf_inference"),
                         "--no-memory", "--extra-batch", "0", "--footprint", "0", *sizes,
                         "--out", str(out)])
    result = json.loads(out.read_text())
    bf16 = result.get("engine_bf16") or {}
    return {"json": str(out), "model": result["model"]["name"],
            "engine_tiles_per_s": result["engine"]["best"]["tiles_per_s"],
            "engine_vs_forward": result["ratios"]["engine_vs_forward"],
            "engine_vs_naive": result["ratios"]["engine_vs_naive"],
            "bf16_vs_engine_fp32": bf16.get("vs_engine_fp32"),
            "bf16_agreement_untrained": (bf16.get("agreement_with_fp32") or {}).get(
                "found_again")}


class _Partial(Exception):
    """A failed check that still has numbers to report."""

    def __init__(self, numbers: dict[str, Any], message: str) -> None:
        super().__init__(message)
        self.numbers = numbers


# -- OpenMMLab training steps ------------------------------------------------------------------
def _shrink(cfg: Any, size: int) -> None:
    """ViT-Tiny at ``size`` px, slimmer heads: the same model structure for a CPU smoke run."""
    from sargeo.mm.configs import shrink_image_sizes

    backbone = cfg.model.backbone
    if len(backbone.get("out_indices", (-1,))) == 4:
        backbone.out_indices = (3, 5, 7, 11)
    backbone.update(arch="tiny", img_size=size, drop_path_rate=0.0)
    cfg.model.neck.in_channels = 192
    if "rpn_head" in cfg.model:
        cfg.model.neck.out_channels = 64
        cfg.model.rpn_head.update(in_channels=64, feat_channels=64)
        cfg.model.roi_head.bbox_roi_extractor.out_channels = 64
        cfg.model.roi_head.bbox_head.update(in_channels=64, fc_out_channels=128)
    for head in ("decode_head", "auxiliary_head"):
        if head in cfg.model:
            ch = cfg.model[head].in_channels
            cfg.model[head].in_channels = [192] * len(ch) if isinstance(ch, list) else 192
            cfg.model[head].channels = 32
    shrink_image_sizes(cfg, size)


def _task_batch(kind: str, size: int, num_classes: int, n: int = 2) -> dict[str, Any]:
    """``n`` speckled uint8 images with bright targets and their labels, as the task's
    ``train_step`` takes them (the data preprocessor moves them to the model's device)."""
    import torch
    from mmengine.structures import InstanceData, PixelData

    g = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for _ in range(n):
        image = (torch.distributions.Gamma(4.0, 4.0).sample((size, size)) * 60).clamp(0, 255)
        boxes = []
        for _ in range(2):
            w, h = int(size * 0.2), int(size * 0.08)
            x0 = int(torch.randint(4, size - w - 4, (1,), generator=g))
            y0 = int(torch.randint(4, size - h - 4, (1,), generator=g))
            image[y0:y0 + h, x0:x0 + w] = 240
            boxes.append([x0, y0, x0 + w, y0 + h])
        inputs.append(image.to(torch.uint8).expand(3, -1, -1).contiguous())
        meta = dict(img_shape=(size, size), ori_shape=(size, size), scale_factor=(1.0, 1.0))
        labels = torch.tensor([j % num_classes for j in range(len(boxes))])
        b = torch.tensor(boxes, dtype=torch.float32)
        if kind == "seg":
            from mmseg.structures import SegDataSample

            sample = SegDataSample(metainfo=meta)
            mask = torch.zeros(1, size, size, dtype=torch.long)
            for (x0, y0, x1, y1), label in zip(boxes, labels.tolist(), strict=True):
                mask[:, y0:y1, x0:x1] = 1 + label % max(1, num_classes - 1)
            sample.gt_sem_seg = PixelData(data=mask)
        else:
            from mmdet.structures import DetDataSample

            sample = DetDataSample(metainfo=meta)
            if kind == "rotated":
                from mmrotate.structures.bbox import RotatedBoxes

                centre, wh = (b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]
                b = RotatedBoxes(torch.cat([centre, wh, torch.full((len(b), 1), 0.3)], 1))
            sample.gt_instances = InstanceData(bboxes=b, labels=labels)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def check_mm_step(name: str, device: str, smoke: bool) -> dict[str, Any]:
    """One ``train_step`` (forward, backward, the config's optimizer wrapper) of an OpenMMLab
    task from sargeo's configs, on ``device``."""
    import math

    import torch
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope

    from sargeo.mm.configs import replace_sync_bn
    from sargeo.mm.runner import build_model, load_config

    config, kind = MM_TASKS[name]
    cfg = load_config(ROOT / config)
    cfg.model.backbone.pretrained = None
    size = 128 if smoke else int(cfg.model.backbone.img_size)
    if smoke:
        _shrink(cfg, size)
    replace_sync_bn(cfg.model)  # one process: no SyncBN group
    head = cfg.model.get("decode_head") or cfg.model.roi_head.bbox_head
    num_classes = int(head.num_classes)
    torch.manual_seed(0)
    scope = cfg.get("default_scope", "mmdet")
    model = build_model(cfg).to(device)
    model.train()
    with DefaultScope.overwrite_default_scope(scope):
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        data = _task_batch(kind, size, num_classes)
        before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats(device)
        sync = _sync(device)
        sync()
        t0 = time.perf_counter()
        log = model.train_step(data, wrapper)
        sync()
        seconds = time.perf_counter() - t0
    losses = {k: float(v) for k, v in log.items() if "loss" in k}
    if not losses or not all(math.isfinite(v) for v in losses.values()):
        raise FloatingPointError(f"{config}: losses {losses}")
    changed = sum(not torch.equal(before[n], p.detach()) for n, p in model.named_parameters()
                  if p.requires_grad)
    if changed < 0.5 * len(before):
        raise RuntimeError(f"{config}: the optimizer step changed only {changed} of "
                           f"{len(before)} weight tensors")
    device_seen = str(next(model.backbone.parameters()).device)
    return {"config": config, "image_size": size, "batch": 2,
            "backbone": f"SARMAEViT {cfg.model.backbone.arch}", "loss": losses.get("loss"),
            "losses": losses, "step_seconds": seconds, "weights_updated": changed,
            "weight_tensors": len(before), "model_device": device_seen,
            "peak_mem_mb": _peak_mb(device)}


# -- running and reporting ---------------------------------------------------------------------
def run_child(name: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Run check ``name`` in this process; its outcome as a dict (never raises)."""
    t0 = time.perf_counter()
    numbers: dict[str, Any] = {}
    error = None
    try:
        require_device(args.device)
        if name == "pretrain_ddp_bf16":
            numbers = check_pretrain(args.device, args.smoke, work)
        elif name == "perf_pretrain":
            numbers = check_perf_pretrain(args.device, args.smoke, work, args.reference,
                                          args.with_compile)
        elif name == "perf_inference":
            numbers = check_perf_inference(args.device, args.smoke, work)
        else:
            numbers = check_mm_step(name, args.device, args.smoke)
    except _Partial as err:
        numbers, error = err.numbers, str(err)
    except Exception as err:  # every failure is the check's error
        import traceback

        traceback.print_exc()
        error = f"{type(err).__name__}: {err}"
    return {"name": name, "ok": error is None, "seconds": time.perf_counter() - t0,
            "error": error, "numbers": numbers}


def run_check(name: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Check ``name`` in a fresh interpreter with its time limit; a crash or a time-out is the
    check's error."""
    limit = SMOKE_TIMEOUT if args.smoke else TIMEOUTS[name]
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    result_path = folder / "result.json"
    cmd = [sys.executable, "-m", "benchmarks.gpu_check", "--child", name, "--device",
           args.device, "--work", str(folder)] + (["--smoke"] if args.smoke else []) + (
        ["--reference", args.reference] if args.reference else []) + (
        ["--with-compile"] if args.with_compile else [])
    t0 = time.perf_counter()
    log = folder / "log.txt"
    with log.open("w") as out:
        try:
            proc = subprocess.run(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=limit)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = None
    seconds = time.perf_counter() - t0
    if result_path.is_file():
        result = json.loads(result_path.read_text())
    else:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        why = f"no result within {limit} s" if rc is None else f"the process exited with {rc}"
        result = {"name": name, "ok": False, "error": f"{why}; last lines of {log}: "
                  + " | ".join(tail), "numbers": {}}
    result["seconds"] = seconds  # wall time of the check, its process start included
    result["log"] = str(log)
    return result


def _key(numbers: dict[str, Any]) -> str:
    keys = ("samples_per_s", "step_seconds", "loss", "engine_vs_naive", "peak_mem_mb")
    parts = []
    for k in keys:
        v = numbers.get(k)
        if isinstance(v, int | float):
            parts.append(f"{k} {v:.3g}")
    if "rows" in numbers:
        ok = [n for n, r in numbers["rows"].items() if "error" not in r]
        parts.append(f"{len(ok)}/{len(numbers['rows'])} rows")
    return ", ".join(parts)


def table(checks: list[dict[str, Any]]) -> str:
    lines = ["| check | ok | seconds | key numbers / error |", "|---|---|---|---|"]
    for c in checks:
        what = _key(c["numbers"]) if c["ok"] else str(c["error"])[:300]
        lines.append(f"| {c['name']} | {'yes' if c['ok'] else 'NO'} | {c['seconds']:.1f} | "
                     f"{what} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the checks, print the table, write the JSON; 0 when all pass, 1 when one fails, 2
    when the device is unusable."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N, or cpu (with --smoke)")
    parser.add_argument("--smoke", action="store_true", help="toy sizes, a few steps")
    parser.add_argument("--reference", help="facebookresearch/mae checkout for perf_pretrain")
    parser.add_argument("--with-compile", action="store_true",
                        help="also the torch.compile rows of perf_pretrain (slow to compile)")
    parser.add_argument("--checks", nargs="*", default=list(CHECKS), choices=CHECKS)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (temporary)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", choices=CHECKS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.work.mkdir(parents=True, exist_ok=True)
        result = run_child(args.child, args, args.work)
        (args.work / "result.json").write_text(json.dumps(result, indent=2, default=str))
        return 0 if result["ok"] else 1
    try:
        require_device(args.device)
    except NoGPUError as err:
        print(f"gpu_check: {err}", file=sys.stderr)
        return 2
    import torch

    command = "python -m benchmarks.gpu_check " + " ".join(
        argv if argv is not None else sys.argv[1:])
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sargeo_gpu_check_") as tmp:
        work = args.work or Path(tmp)
        checks = []
        for name in args.checks:
            checks.append(run_check(name, args, work))
            c = checks[-1]
            print(f"{name:<24} {'ok' if c['ok'] else 'FAILED'} in {c['seconds']:.1f} s"
                  + ("" if c["ok"] else f": {c['error']}"), flush=True)
        for c in checks:  # the sub-benchmarks' JSON lives in the scratch folder: keep it here
            path = c["numbers"].pop("json", None)
            if path and Path(path).is_file():
                c["numbers"]["details"] = json.loads(Path(path).read_text())
    result = {"command": command.strip(), "device": args.device,
              "device_name": torch.cuda.get_device_name(args.device)
              if args.device.startswith("cuda") else platform.processor() or platform.machine(),
              "smoke": args.smoke, "torch": torch.__version__, "cuda": torch.version.cuda,
              "python": platform.python_version(), "ok": all(c["ok"] for c in checks),
              "seconds": time.perf_counter() - t0, "checks": checks}
    from sargeo.io import atomic_path

    with atomic_path(args.out, overwrite=True) as tmp_out:
        tmp_out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print()
    print(table(checks))
    print(f"\n{'all checks passed' if result['ok'] else 'SOME CHECKS FAILED'} in "
          f"{result['seconds']:.0f} s; wrote {args.out}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
