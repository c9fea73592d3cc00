"""One SARMAE pretraining step (forward, backward, AdamW step) for ViT-B/16, side by side with the
reference MAE implementation (facebookresearch/mae ``models_mae.py``, which SARMAE builds on).

Every configuration runs in its own process, so its peak memory is its own:

- ``reference``: ``models_mae.mae_vit_base_patch16_dec512d8b``, with timm blocks that compute
  attention explicitly, as the timm 0.3.2 it pins does;
- ``reference-amp``: the same under fp16 autocast, as its training engine runs it on GPUs
  (``engine_pretrain.py``: ``torch.cuda.amp.autocast()``);
- ``sargeo``: SARMAE without SARC, fused attention (``scaled_dot_product_attention``), fp32;
- ``sargeo-unfused``: the same with explicit attention (isolates the attention kernel);
- ``sargeo-bf16``: bf16 autocast (the recipes' ``precision: bf16-mixed``); ``sargeo-compile``:
  ``torch.compile``; ``sargeo-bf16-compile``: both;
- ``sargeo-sarc``: with SARC (released teacher: DINOv3 patch embedding + norm) on paired inputs.

The reference is read at run time from a local checkout (``--reference DIR`` holding
``models_mae.py`` and ``util/pos_embed.py``); nothing of it is part of sargeo.

    python -m benchmarks.perf_pretrain --reference /path/to/mae [--device cuda] [--batch 8]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import resource
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "perf_pretrain.json"
CONFIGS = ("reference", "reference-amp", "sargeo", "sargeo-unfused", "sargeo-bf16",
           "sargeo-compile", "sargeo-bf16-compile", "sargeo-sarc")


def _reference_model(folder: str):
    """facebookresearch/mae's ViT-B MAE, made importable on timm 1.x and numpy 2 without
    changing its computation."""
    import numpy as np
    import timm.models.vision_transformer as tvt

    if not hasattr(np, "float"):
        np.float = float  # removed alias used by its util/pos_embed.py
    original = tvt.Block

    class Block(original):  # timm 0.3.2 signature (qk_scale) and explicit attention
        def __init__(self, *args, qk_scale=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.attn.fused_attn = False

    tvt.Block = Block
    sys.path.insert(0, folder)
    try:
        import models_mae

        return models_mae.mae_vit_base_patch16_dec512d8b(norm_pix_loss=False)
    finally:
        tvt.Block = original
        sys.path.remove(folder)


def _measure(config: str, reference: str | None, device: str, batch: int, iters: int,
             warmup: int, queue) -> None:
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(torch.get_num_threads())
    x = torch.rand(batch, 3, 224, 224, device=device)
    teacher = None
    if config.startswith("reference"):
        model = _reference_model(reference).to(device)
        amp = config == "reference-amp"

        def step():
            with torch.autocast(device_type=device.split(":")[0], dtype=torch.float16,
                                enabled=amp):
                loss, _, _ = model(x, mask_ratio=0.75)
            return loss
    else:
        from sargeo.models.sarmae import SARMAE

        sarc = config == "sargeo-sarc"
        if sarc:
            from sargeo.models.teacher import OpticalTeacher

            teacher = OpticalTeacher("released").to(device)
        model = SARMAE("base", teacher_dim=teacher.dim if sarc else None).to(device)
        if config == "sargeo-unfused":
            for m in model.modules():
                if hasattr(m, "fused_attn"):
                    m.fused_attn = False
        forward = torch.compile(model) if config.endswith("compile") else model
        optical = torch.rand(batch, 3, 224, 224, device=device)
        paired = torch.ones(batch, dtype=torch.bool, device=device)

        def step():
            with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16,
                                enabled="bf16" in config):
                tokens = teacher(optical) if teacher is not None else None
                return forward(x, teacher_tokens=tokens, paired=paired if sarc else None,
                               align_weight=0.8).loss
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4,
                            betas=(0.9, 0.95), weight_decay=0.05)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = step()
        loss.backward()
        opt.step()
        return loss

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    for _ in range(warmup):
        train_step()
    sync()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(iters):
        loss = train_step()
    sync()
    seconds = (time.perf_counter() - start) / iters
    if device.startswith("cuda"):
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(dict(config=config, step_ms=1000 * seconds, samples_per_s=batch / seconds,
                   peak_mem_mb=peak_mb, loss=float(loss.detach())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True,
                        help="folder with facebookresearch/mae's models_mae.py and util/")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=CONFIGS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not (Path(args.reference) / "models_mae.py").is_file():
        parser.error(f"no models_mae.py in {args.reference}")
    ctx = mp.get_context("spawn")
    rows = []
    for config in args.configs:
        queue = ctx.Queue()
        proc = ctx.Process(target=_measure, args=(config, args.reference, args.device,
                                                  args.batch, args.iters, args.warmup, queue))
        proc.start()
        proc.join()
        if proc.exitcode != 0:
            print(f"{config}: failed (exit {proc.exitcode})", flush=True)
            continue
        row = queue.get()
        rows.append(row)
        print(f"{config:<16} {row['step_ms']:9.1f} ms/step {row['samples_per_s']:8.2f} "
              f"samples/s  peak {row['peak_mem_mb']:8.0f} MiB", flush=True)
    base = next((r for r in rows if r["config"] == "reference"), None)
    if base:
        for r in rows:
            r["throughput_vs_reference"] = r["samples_per_s"] / base["samples_per_s"]
            r["memory_vs_reference"] = r["peak_mem_mb"] / base["peak_mem_mb"]
    import torch

    result = dict(command="python -m benchmarks.perf_pretrain " + " ".join(
        argv if argv is not None else sys.argv[1:]), device=args.device,
        machine=platform.processor() or platform.machine(), torch=torch.__version__,
        threads=torch.get_num_threads(), batch=args.batch, iters=args.iters, rows=rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
