"""Two torch processes side by side on the same cores: wall time under torch's default threads
and under the thread policies sargeo could default to (issue 16, defect 11).

    python -m benchmarks.perf_threads [--iters-train 30] [--iters-infer 10] [--rounds 2]

Each worker is a fresh process: a ViT-Tiny (12 blocks, width 192) built with plain torch, then
after two warm-up iterations it waits for the parent's "go" and times its loop:

- ``train``: forward, backward and AdamW on 64 px inputs, batch 16 (the demo's pretraining);
- ``infer``: forward without gradients on 224 px inputs, batch 8 (tiled inference).

Each (workload, policy) runs alone ("solo") and as two identical workers started together
("pair"); rounds alternate the policies so background load spreads over them. Policies:

- ``torch-default``: the environment cleared of thread variables; torch's own defaults (one
  thread per core, libgomp's spin-then-sleep wait);
- ``passive``: ``OMP_WAIT_POLICY=PASSIVE`` (and ``KMP_BLOCKTIME=0``), one thread per core;
- ``half``: ``OMP_NUM_THREADS`` = cores // 2 (the cores shared by the two processes);
- ``passive+half``: both;
- ``sargeo``: what every ``sargeo`` command does without ``--threads``
  (:func:`sargeo.threads.configure` before torch loads).

A run that fails or passes ``--timeout`` is kept in the JSON with its error.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "perf_threads.json"
#: thread variables removed from every worker's environment before its policy is applied
CLEARED = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "KMP_BLOCKTIME", "MKL_NUM_THREADS",
           "GOMP_SPINCOUNT", "OMP_PROC_BIND", "SARGEO_THREADS")
PASSIVE = {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}
POLICIES = ("torch-default", "passive", "half", "passive+half", "sargeo")
WORKLOADS = {"train": dict(img=64, batch=16, grad=True), "infer": dict(img=224, batch=8,
                                                                       grad=False)}


def cores() -> int:
    """CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def policy_env(policy: str) -> dict[str, str]:
    """The worker environment for ``policy``."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    if "passive" in policy:
        env.update(PASSIVE)
    if "half" in policy:
        env["OMP_NUM_THREADS"] = str(max(1, cores() // 2))
    return env


def vit_tiny(img: int):
    """ViT-Tiny/16 in plain torch (patch embedding, class token, 12 pre-norm blocks)."""
    import torch
    from torch import nn

    class ViT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.patch = nn.Conv2d(3, 192, 16, 16)
            self.cls = nn.Parameter(torch.zeros(1, 1, 192))
            self.pos = nn.Parameter(torch.zeros(1, (img // 16) ** 2 + 1, 192))
            layer = nn.TransformerEncoderLayer(192, 3, 768, dropout=0.0, activation="gelu",
                                               batch_first=True, norm_first=True)
            self.blocks = nn.TransformerEncoder(layer, 12, enable_nested_tensor=False)
            self.head = nn.Linear(192, 10)

        def forward(self, x):
            t = self.patch(x).flatten(2).transpose(1, 2)
            t = torch.cat([self.cls.expand(len(t), -1, -1), t], 1) + self.pos
            return self.head(self.blocks(t)[:, 0])

    return ViT()


def worker(workload: str, iters: int, policy: str) -> int:
    """Run inside a worker process: report ready, wait for "go", time ``iters`` iterations."""
    if policy == "sargeo":
        from sargeo.threads import configure

        configure()  # before torch loads, as the sargeo command line does
    import torch

    spec = WORKLOADS[workload]
    torch.manual_seed(0)
    model = vit_tiny(spec["img"])
    x = torch.rand(spec["batch"], 3, spec["img"], spec["img"])
    y = torch.randint(0, 10, (spec["batch"],))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step() -> None:
        if spec["grad"]:
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        else:
            with torch.no_grad():
                model(x)

    for _ in range(2):
        step()
    print("ready", flush=True)
    sys.stdin.readline()
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(iters):
        step()
    print(json.dumps({"seconds": time.perf_counter() - start,
                      "cpu_seconds": time.process_time() - cpu,
                      "threads": torch.get_num_threads()}), flush=True)
    return 0


def run_group(workload: str, policy: str, iters: int, n: int, timeout: float) -> dict:
    """Start ``n`` identical workers, release them together, return their timings (or the
    error)."""
    cmd = [sys.executable, "-m", "benchmarks.perf_threads", "--worker", workload,
           "--iters", str(iters), "--policy", policy]
    root = Path(__file__).resolve().parents[1]
    procs = [subprocess.Popen(cmd, cwd=root, env=policy_env(policy), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(n)]
    row: dict = {"workload": workload, "policy": policy, "mode": "solo" if n == 1 else "pair",
                 "processes": n, "iters": iters}
    try:
        for p in procs:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError(f"worker failed before timing: {p.communicate()[1][-800:]}")
        started = time.perf_counter()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        reports = []
        for p in procs:
            left = max(1.0, timeout - (time.perf_counter() - started))
            out, err = p.communicate(timeout=left)
            if p.returncode:
                raise RuntimeError(f"worker exit {p.returncode}: {err[-800:]}")
            reports.append(json.loads(out.strip().splitlines()[-1]))
        row.update(seconds=[r["seconds"] for r in reports],
                   cpu_seconds=[r["cpu_seconds"] for r in reports],
                   threads=reports[0]["threads"], wall=max(r["seconds"] for r in reports),
                   error=None)
    except subprocess.TimeoutExpired:
        row.update(wall=None, error=f"timed out after {timeout:.0f} s")
    except (RuntimeError, ValueError, OSError) as err:
        row.update(wall=None, error=str(err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return row


def summarise(rows: list[dict]) -> dict:
    """Median wall time per (workload, policy, mode), pair / solo, and torch-default's pair
    time / each policy's pair time."""
    out: dict = {}
    for workload in sorted({r["workload"] for r in rows}):
        cells: dict = {}
        for policy in [p for p in POLICIES if any(r["policy"] == p for r in rows)]:
            cell = {}
            for mode in ("solo", "pair"):
                runs = [r for r in rows if (r["workload"], r["policy"], r["mode"]) == (
                    workload, policy, mode)]
                walls = [r["wall"] for r in runs if r["wall"] is not None]
                cell[mode] = statistics.median(walls) if walls else None
                cell[f"{mode}_errors"] = [r["error"] for r in runs if r["error"]]
            if cell["solo"] and cell["pair"]:
                cell["pair_over_solo"] = cell["pair"] / cell["solo"]
            cells[policy] = cell
        default = cells.get("torch-default", {}).get("pair")
        for cell in cells.values():
            if default and cell["pair"]:
                cell["default_pair_over_pair"] = default / cell["pair"]
        out[workload] = cells
    return out


def print_table(summary: dict) -> None:
    print(f"{'workload':<8} {'policy':<14} {'solo s':>8} {'pair s':>8} {'pair/solo':>9} "
          f"{'default/this (pair)':>20}")
    for workload, cells in summary.items():
        for policy, c in cells.items():
            def fmt(v: float | None, spec: str = "8.2f") -> str:
                return format(v, spec) if v is not None else "failed".rjust(int(spec[0]))
            print(f"{workload:<8} {policy:<14} {fmt(c['solo'])} {fmt(c['pair'])} "
                  f"{fmt(c.get('pair_over_solo'), '9.2f')} "
                  f"{fmt(c.get('default_pair_over_pair'), '20.2f')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=sorted(WORKLOADS), help=argparse.SUPPRESS)
    parser.add_argument("--iters", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--policy", choices=POLICIES, default="torch-default",
                        help=argparse.SUPPRESS)
    parser.add_argument("--iters-train", type=int, default=30)
    parser.add_argument("--iters-infer", type=int, default=10)
    parser.add_argument("--workloads", nargs="+", choices=sorted(WORKLOADS),
                        default=["train", "infer"])
    parser.add_argument("--policies", nargs="+", choices=POLICIES, default=list(POLICIES))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds a group of workers may take once released")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.iters, args.policy)

    import torch

    from sargeo.io import atomic_path
    from sargeo.threads import describe

    iters = {"train": args.iters_train, "infer": args.iters_infer}
    rows, started = [], time.perf_counter()
    load_before = os.getloadavg()
    for r in range(args.rounds):
        order = args.policies[r % len(args.policies):] + args.policies[:r % len(args.policies)]
        for workload in args.workloads:
            for policy in order:
                for n in (1, 2):
                    row = run_group(workload, policy, iters[workload], n, args.timeout)
                    row["round"] = r
                    rows.append(row)
                    print(f"round {r} {workload:<5} {policy:<14} {row['mode']}: "
                          + (f"{row['wall']:.2f} s" if row["wall"] is not None
                             else row["error"]), flush=True)
    summary = summarise(rows)
    print_table(summary)
    command = "python -m benchmarks.perf_threads" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    result = {
        "command": command,
        "machine": {"cpu_count": cores(), "platform": platform.platform(),
                    "python": platform.python_version(), "torch": torch.__version__,
                    "parallel_backend": describe()["runtime"],
                    "load_avg_before": list(load_before), "load_avg_after": list(os.getloadavg())},
        "workloads": {k: dict(WORKLOADS[k], iters=iters[k], model="ViT-Tiny/16, plain torch")
                      for k in args.workloads},
        "policies": {"torch-default": "thread variables cleared: torch's defaults",
                     "passive": "OMP_WAIT_POLICY=PASSIVE, KMP_BLOCKTIME=0",
                     "half": f"OMP_NUM_THREADS={max(1, cores() // 2)} (cores // 2)",
                     "passive+half": "both",
                     "sargeo": "sargeo.threads.configure() before torch loads (no --threads)"},
        "timing": "wall seconds of each worker's timed loop (after import and 2 warm-up "
                  "iterations, released together); a pair's wall is its slower worker; "
                  "medians over rounds",
        "rows": rows,
        "summary": summary,
        "seconds": time.perf_counter() - started,
    }
    with atomic_path(args.out, overwrite=True) as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
