"""One pretraining step (data on the host -> device, forward, backward, AdamW step) of SARMAE side
by side with the reference MAE implementation (facebookresearch/mae ``models_mae.py``, which
SARMAE builds on), ViT-B/16 by default.

Both sides compute the same loss settings: ``norm_pix_loss`` off (the released default), mask
ratio 0.75, inputs normalised with 0.5 / 0.5. Each timed step starts from a batch of [0, 1]
images on the host, as the DataLoader delivers it. sargeo's rows run
:meth:`SARMAEPretrainModule.compute_losses`, the training path itself, so SARE speckle is inside
the timed step exactly as training runs it (drawn per image on the CPU, both noise branches
computed); its share is reported as ``sare_ms``. The reference has no SARE.

Rows (each in its own process, so its peak memory is its own):

- ``reference``: ``models_mae`` with explicit attention, as the timm 0.3.2 it pins computes it;
- ``reference-sdpa``: the same with timm's fused ``scaled_dot_product_attention``;
- ``reference-amp``: explicit attention under fp16 autocast as its engine runs it
  (``engine_pretrain.py``: ``torch.cuda.amp.autocast()``, which only acts on CUDA tensors: on
  the CPU this row runs in fp32, as the reference's own training would; ``autocast_active``
  says which);
- ``reference-sdpa-bf16``: fused attention under bf16 autocast (the precision sargeo's recipes
  use);
- ``sargeo`` (fused attention, fp32), ``sargeo-unfused`` (explicit attention), ``sargeo-bf16``
  (bf16 autocast, the recipes' ``bf16-mixed``), ``sargeo-compile`` and ``sargeo-bf16-compile``
  (``torch.compile``), ``sargeo-sarc`` (SARC with the released teacher on paired inputs, fp32).

Rows that fail stay in the JSON with ``ok: false`` and their error. Ratios are reported both
ways (sargeo / reference and reference / sargeo) for each like-for-like pair (:data:`PAIRS`).

The reference is read at run time from a local checkout (``--reference DIR`` holding
``models_mae.py`` and ``util/pos_embed.py``, https://github.com/facebookresearch/mae); nothing
of it is part of sargeo. Without it, the reference rows are recorded as failed.

    python -m benchmarks.perf_pretrain --reference /path/to/mae [--device cuda] [--batch 8]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import queue as queue_mod
import resource
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "perf_pretrain.json"


@dataclass(frozen=True)
class Config:
    """One benchmark row: which implementation, attention kernel, autocast, compile, SARC."""

    impl: str  #: ``reference`` or ``sargeo``
    fused: bool  #: scaled_dot_product_attention (True) or explicit softmax(QK^T)V
    autocast: str | None = None  #: None (fp32), ``bf16`` or ``fp16``
    cuda_autocast_only: bool = False  #: autocast as ``torch.cuda.amp.autocast`` (CUDA only)
    compile: bool = False
    sarc: bool = False


CONFIGS: dict[str, Config] = {
    "reference": Config("reference", fused=False),
    "reference-sdpa": Config("reference", fused=True),
    "reference-amp": Config("reference", fused=False, autocast="fp16", cuda_autocast_only=True),
    "reference-sdpa-bf16": Config("reference", fused=True, autocast="bf16"),
    "sargeo": Config("sargeo", fused=True),
    "sargeo-unfused": Config("sargeo", fused=False),
    "sargeo-bf16": Config("sargeo", fused=True, autocast="bf16"),
    "sargeo-compile": Config("sargeo", fused=True, compile=True),
    "sargeo-bf16-compile": Config("sargeo", fused=True, autocast="bf16", compile=True),
    "sargeo-sarc": Config("sargeo", fused=True, sarc=True),
}
#: like-for-like pairs (label, sargeo row, reference row) whose ratios are reported both ways
PAIRS = (
    ("explicit attention, fp32", "sargeo-unfused", "reference"),
    ("fused SDPA attention, fp32", "sargeo", "reference-sdpa"),
    ("fused SDPA attention, bf16 autocast", "sargeo-bf16", "reference-sdpa-bf16"),
    ("as each trains on GPUs: sargeo bf16 vs the reference's fp16 autocast", "sargeo-bf16",
     "reference-amp"),
)
NO_REFERENCE = ("no models_mae.py in {folder}: pass --reference with a checkout of "
                "https://github.com/facebookresearch/mae (its models_mae.py and util/ are read "
                "at run time)")


def _reference_model(folder: str | None, size: dict[str, int], img_size: int,
                     decoder: tuple[int, int, int], fused: bool):
    """facebookresearch/mae's MAE at ``size``, made importable on timm 1.x and numpy 2 without
    changing its computation; ``fused`` picks timm's attention kernel."""
    if folder is None or not (Path(folder) / "models_mae.py").is_file():
        raise FileNotFoundError(NO_REFERENCE.format(folder=folder))
    import numpy as np
    import timm.models.vision_transformer as tvt
    from torch import nn

    if not hasattr(np, "float"):
        np.float = float  # removed alias used by its util/pos_embed.py
    original = tvt.Block

    class Block(original):  # timm 0.3.2 signature (qk_scale); the attention kernel chosen here
        def __init__(self, *args, qk_scale=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.attn.fused_attn = fused

    tvt.Block = Block
    sys.path.insert(0, folder)
    try:
        import models_mae

        dim, depth, heads = decoder
        return models_mae.MaskedAutoencoderViT(
            img_size=img_size, patch_size=16, embed_dim=size["embed_dim"], depth=size["depth"],
            num_heads=size["num_heads"], decoder_embed_dim=dim, decoder_depth=depth,
            decoder_num_heads=heads, mlp_ratio=4, norm_layer=partial(nn.LayerNorm, eps=1e-6),
            norm_pix_loss=False)  # the settings of its mae_vit_*_dec512d8b factories
    finally:
        tvt.Block = original
        sys.path.remove(folder)


class _TimedNoise:
    """SARE noise that adds up the seconds spent in it (it stays inside the timed step)."""

    def __init__(self, inner: Any, sync: Any) -> None:
        self.inner, self.sync, self.seconds = inner, sync, 0.0

    def __call__(self, images, generator=None):
        self.sync()
        t0 = time.perf_counter()
        out = self.inner(images, generator)
        self.sync()
        self.seconds += time.perf_counter() - t0
        return out


def _sargeo_module(cfg: Config, size: str, img_size: int, decoder: tuple[int, int, int]):
    from sargeo.pretrain.module import SARMAEPretrainModule

    dim, depth, heads = decoder
    module = SARMAEPretrainModule(
        size=size, img_size=img_size, decoder_dim=dim, decoder_depth=depth,
        decoder_heads=heads, norm_pix_loss=False, mean=0.5, std=0.5, sare=True,
        noise_mode="released", sarc=cfg.sarc, teacher_mode="released",
        loss_schedule="released", mae_loss_weight=1.0, alignment_loss_weight=0.8, seed=0)
    if module.noise is None:
        raise RuntimeError("SARMAEPretrainModule(sare=True) has no noise: SARE moved out of "
                           "compute_losses; update benchmarks/perf_pretrain.py to time it there")
    for m in module.model.modules():
        if hasattr(m, "fused_attn"):
            m.fused_attn = cfg.fused
    return module


def measure(name: str, *, reference: str | None, device: str, size: str, img_size: int,
            decoder: tuple[int, int, int], batch: int, iters: int, warmup: int,
            threads: int | None) -> dict[str, Any]:
    """Build row ``name`` and time ``iters`` steps after ``warmup`` (raises on any failure)."""
    import torch

    from sargeo.models.vit import VIT_SIZES

    cfg = CONFIGS[name]
    dev = torch.device(device)
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    cuda = dev.type == "cuda"
    sync = (lambda: torch.cuda.synchronize(dev)) if cuda else (lambda: None)
    dtype = {None: None, "bf16": torch.bfloat16, "fp16": torch.float16}[cfg.autocast]
    if cfg.cuda_autocast_only and not cuda:
        dtype = None  # torch.cuda.amp.autocast leaves CPU tensors alone
    # the host-side batches a DataLoader would deliver: [0, 1] SAR (grayscale repeated to 3
    # channels, as published) and, for SARC, optical partners
    pool = [torch.rand(batch, 1, img_size, img_size).expand(-1, 3, -1, -1).contiguous()
            for _ in range(2)]
    optical = torch.rand(batch, 3, img_size, img_size)
    noise = None
    if cfg.impl == "reference":
        model = _reference_model(reference, VIT_SIZES[size], img_size, decoder, cfg.fused)
        model = model.to(dev)

        def loss_of(images):
            x = (images.to(dev, non_blocking=True) - 0.5) / 0.5
            return model(x, mask_ratio=0.75)[0]
        params = model.parameters()
    else:
        module = _sargeo_module(cfg, size, img_size, decoder).to(dev)
        if module.teacher is not None:
            module.teacher.to(dev)
        noise = module.noise = _TimedNoise(module.noise, sync)
        if cfg.compile:
            module.model = torch.compile(module.model)
        generator = torch.Generator()  # CPU, as the module's own (noise and masks)
        step_no = [0]

        def loss_of(images):
            b = {"image": images.to(dev, non_blocking=True)}
            if cfg.sarc:
                b["optical"] = optical.to(dev, non_blocking=True)
                b["paired"] = torch.ones(batch, dtype=torch.bool, device=dev)
            generator.manual_seed(step_no[0])
            step_no[0] += 1
            return module.compute_losses(b, generator)["loss"]
        model = module
        params = module.model.parameters()
    opt = torch.optim.AdamW([p for p in params if p.requires_grad], lr=1e-4, betas=(0.9, 0.95),
                            weight_decay=0.05)
    model.train()

    def train_step(i: int):
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=dev.type, dtype=dtype or torch.float32,
                            enabled=dtype is not None):
            loss = loss_of(pool[i % len(pool)])
        loss.backward()
        opt.step()
        return loss

    for i in range(warmup):
        train_step(i)
    sync()
    if noise is not None:
        noise.seconds = 0.0
    if cuda:
        torch.cuda.reset_peak_memory_stats(dev)
    start = time.perf_counter()
    for i in range(iters):
        loss = train_step(i)
    sync()
    seconds = (time.perf_counter() - start) / iters
    if cuda:
        peak_mb = torch.cuda.max_memory_allocated(dev) / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    value = float(loss.detach())
    if value != value:  # NaN
        raise FloatingPointError(f"{name}: the loss is NaN after {warmup + iters} steps")
    row = dict(step_ms=1000 * seconds, samples_per_s=batch / seconds, peak_mem_mb=peak_mb,
               loss=value, threads=torch.get_num_threads(), autocast_active=dtype is not None)
    if noise is not None:
        row["sare_ms"] = 1000 * noise.seconds / iters
    return row


def _child(name: str, kwargs: dict[str, Any], queue) -> None:
    try:
        queue.put({"ok": True, **measure(name, **kwargs)})
    except BaseException as err:  # every failure becomes the row's error
        traceback.print_exc()
        queue.put({"ok": False, "error": f"{type(err).__name__}: {err}"})


def run_config(name: str, kwargs: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Row ``name`` measured in a fresh process; failures, crashes and time-outs are kept as
    ``ok: false`` with their error."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(name, kwargs, queue))
    t0 = time.perf_counter()
    proc.start()
    result = None
    try:
        result = queue.get(timeout=timeout)
    except queue_mod.Empty:
        pass
    proc.join(timeout=30)
    if proc.is_alive():
        proc.kill()
        proc.join()
    if result is None:
        waited = time.perf_counter() - t0
        result = {"ok": False, "error": (
            f"no result after {waited:.0f} s (limit {timeout:.0f} s)" if proc.exitcode is None
            or waited >= timeout else f"the process died with exit code {proc.exitcode} "
            "without a result (killed for memory?)")}
    return {"config": name, **asdict(CONFIGS[name]), **result,
            "wall_seconds": time.perf_counter() - t0}


def best_of_rounds(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row from its rounds: the fastest round's numbers when every round ran, else the
    first failure's error; every round's step time kept."""
    failed = [r for r in runs if not r["ok"]]
    row = dict(failed[0] if failed else min(runs, key=lambda r: r["step_ms"]))
    row["rounds"] = [{"step_ms": r["step_ms"]} if r["ok"] else {"error": r["error"]}
                     for r in runs]
    row["wall_seconds"] = sum(r["wall_seconds"] for r in runs)
    return row


def pair_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Throughput and peak-memory ratios both ways for each of :data:`PAIRS` measured here."""
    by_name = {r["config"]: r for r in rows}
    out = []
    for label, ours, ref in PAIRS:
        if ours not in by_name or ref not in by_name:
            continue
        a, b = by_name[ours], by_name[ref]
        entry: dict[str, Any] = {"pair": label, "sargeo": ours, "reference": ref}
        if a["ok"] and b["ok"]:
            entry.update(
                throughput_sargeo_over_reference=a["samples_per_s"] / b["samples_per_s"],
                throughput_reference_over_sargeo=b["samples_per_s"] / a["samples_per_s"],
                memory_sargeo_over_reference=a["peak_mem_mb"] / b["peak_mem_mb"],
                memory_reference_over_sargeo=b["peak_mem_mb"] / a["peak_mem_mb"])
        else:
            entry["not_compared"] = "; ".join(f"{r['config']} failed" for r in (a, b)
                                              if not r["ok"])
        out.append(entry)
    return out


def _print_row(r: dict[str, Any]) -> None:
    if r["ok"]:
        sare = f"  SARE {r['sare_ms']:7.1f} ms" if "sare_ms" in r else ""
        print(f"{r['config']:<20} {r['step_ms']:9.1f} ms/step {r['samples_per_s']:9.2f} "
              f"samples/s  peak {r['peak_mem_mb']:8.0f} MiB{sare}", flush=True)
    else:
        print(f"{r['config']:<20} FAILED: {r['error']}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the rows, write the JSON (every row, failed ones with their error); 1 if any
    failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", default=None,
                        help="folder with facebookresearch/mae's models_mae.py and util/")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", default="base", choices=("tiny", "small", "base", "large"))
    parser.add_argument("--img-size", type=int, default=224)
    parser.add_argument("--decoder", type=int, nargs=3, default=(512, 8, 16),
                        metavar=("DIM", "DEPTH", "HEADS"), help="MAE decoder (512 8 16)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads per row")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per row")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds over the rows, the order rotating; a row keeps its fastest "
                             "round (a shared machine's load drifts)")
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    kwargs = dict(reference=args.reference, device=args.device, size=args.size,
                  img_size=args.img_size, decoder=tuple(args.decoder), batch=args.batch,
                  iters=args.iters, warmup=args.warmup, threads=args.threads)
    t0 = time.perf_counter()
    rows = []
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in args.configs}
    order = list(args.configs)
    for i in range(args.rounds):  # the order rotates: no row always runs first or last
        k = i % len(order)
        for name in order[k:] + order[:k]:
            runs[name].append(run_config(name, kwargs, args.timeout))
            print(f"round {i + 1}: ", end="")
            _print_row(runs[name][-1])
    rows = [best_of_rounds(name, runs[name]) for name in args.configs]
    print("best of the rounds:")
    for row in rows:
        _print_row(row)
    pairs = pair_ratios(rows)
    for p in pairs:
        if "throughput_sargeo_over_reference" in p:
            print(f"{p['pair']}: sargeo/reference {p['throughput_sargeo_over_reference']:.2f}x "
                  f"throughput, {p['memory_sargeo_over_reference']:.2f}x memory; "
                  f"reference/sargeo {p['throughput_reference_over_sargeo']:.2f}x, "
                  f"{p['memory_reference_over_sargeo']:.2f}x")
    import torch

    from sargeo.io import atomic_path

    command = "python -m benchmarks.perf_pretrain " + " ".join(
        argv if argv is not None else sys.argv[1:])
    result = dict(
        command=command.strip(), device=args.device,
        device_name=(torch.cuda.get_device_name(args.device) if args.device.startswith("cuda")
                     and torch.cuda.is_available() else platform.processor()
                     or platform.machine()),
        torch=torch.__version__, size=args.size, img_size=args.img_size,
        decoder=list(args.decoder), batch=args.batch, iters=args.iters, warmup=args.warmup,
        rounds=args.rounds,
        loss="MAE, norm_pix_loss off on both sides, mask ratio 0.75, inputs (x - 0.5) / 0.5",
        step="host batch -> device, forward, backward, AdamW step; sargeo rows include SARE "
             "(sare_ms) through SARMAEPretrainModule.compute_losses",
        rows=rows, pairs=pairs, run_seconds=time.perf_counter() - t0)
    with atomic_path(args.out, overwrite=True) as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
