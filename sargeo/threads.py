"""CPU threads for torch, and a default that holds up when another process shares the cores.

torch runs its CPU kernels on an OpenMP thread pool: the GNU libgomp that its Linux wheels bundle
(``torch.__config__.parallel_info()``: "ATen parallel backend: OpenMP"; :func:`describe`). An
idle libgomp thread spins before it sleeps; when a second process shares the cores, the spinning
threads of each take the CPU from the threads that have work, and a step can take tens of times
longer (measured in ``benchmarks/perf_threads.py``, see ``benchmarks/results/perf_threads.json``).

libgomp reads its environment once, when it is loaded (by ``import torch``), so the wait policy
and the thread count must be in the environment before torch is imported. :func:`configure`
(what every ``sargeo`` command runs before it imports torch) sets

- ``OMP_WAIT_POLICY=PASSIVE``: idle threads sleep at once (libgomp; Intel OpenMP also reads it),
  and ``KMP_BLOCKTIME=0``, the same for Intel OpenMP builds of torch (libgomp ignores it);
  a value the user set already is kept;
- with a thread count (``--threads N``, :func:`set_threads` or ``SARGEO_THREADS=N``):
  ``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS``, and torch's intra-op and inter-op threads.
  Without one, torch keeps its own default (one thread per core).

Whether torch is already loaded when a command starts: no. ``sargeo``'s parser imports no
torch (``tests/test_threads.py`` checks the environment at the moment torch loads), and
``sargeo pretrain`` reads ``--threads`` from the raw arguments before it imports Lightning.

Child processes (DataLoader workers, torchrun ranks) inherit the environment.
"""

from __future__ import annotations

import os
import sys

#: environment variable giving the thread count when no ``--threads`` is given
ENV = "SARGEO_THREADS"
#: OpenMP wait policy applied before torch loads (values already set by the user are kept)
POLICY_ENV = {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}
#: variables that carry an explicit thread count
COUNT_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def parse_threads(value: object, source: str = "--threads") -> int:
    """``value`` as a thread count (an integer >= 1), else a ValueError naming ``source``."""
    text = str(value).strip()
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"{source} must be a whole number of threads >= 1, got {text!r}") \
            from None
    if n < 1:
        raise ValueError(f"{source} must be a whole number of threads >= 1, got {n} (omit it "
                         f"for torch's default of one thread per core)")
    return n


def env_threads() -> int | None:
    """The thread count in ``SARGEO_THREADS``, or None when it is unset or empty."""
    value = os.environ.get(ENV, "").strip()
    return parse_threads(value, ENV) if value else None


def set_threads(n: int) -> int:
    """Run torch's CPU work on ``n`` threads (intra-op, and inter-op while torch still allows
    it), and give child processes the same count. Returns ``n``.

    The wait policy is fixed once torch is loaded: for it, call :func:`configure` (or set
    ``OMP_WAIT_POLICY=PASSIVE``) before ``import torch``."""
    n = parse_threads(n, "threads")
    for key in COUNT_ENV:
        os.environ[key] = str(n)
    os.environ[ENV] = str(n)
    import torch

    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(n)
    except RuntimeError:
        pass  # inter-op pool already started (or set): torch allows setting it only once
    return n


def configure(threads: int | None = None) -> int | None:
    """Apply sargeo's thread policy; call before ``import torch`` for it to take full effect.

    Sets the OpenMP wait policy (:data:`POLICY_ENV`, unless already set) and, given ``threads``
    or ``SARGEO_THREADS``, the thread count: in the environment, then in torch (which it then
    loads). When torch was loaded before, only the count can still change. Returns the count
    applied, or None for torch's default."""
    n = parse_threads(threads) if threads is not None else env_threads()
    for key, value in POLICY_ENV.items():
        os.environ.setdefault(key, value)
    if n is None:
        return None
    if "torch" not in sys.modules:  # the count into the environment before OpenMP starts
        for key in (*COUNT_ENV, ENV):
            os.environ[key] = str(n)
    return set_threads(n)  # loads torch (if needed) and sets intra- and inter-op threads


def describe() -> dict[str, object]:
    """What torch runs on: threads, OpenMP runtime and the thread variables it started with."""
    import torch

    info = torch.__config__.parallel_info()
    runtime = "unknown"
    for line in info.splitlines():
        if line.startswith("ATen parallel backend:"):
            runtime = line.split(":", 1)[1].strip()
    if runtime == "OpenMP":
        lib = os.path.join(os.path.dirname(torch.__file__), "lib")
        names = os.listdir(lib) if os.path.isdir(lib) else []
        if any(name.startswith("libgomp") for name in names):
            runtime = "OpenMP (GNU libgomp, bundled)"
        elif any(name.startswith("libiomp") for name in names):
            runtime = "OpenMP (Intel libiomp5, bundled)"
    return {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads(),
            "runtime": runtime,
            **{key: os.environ.get(key) for key in (*POLICY_ENV, *COUNT_ENV, ENV)}}


__all__ = ["ENV", "POLICY_ENV", "configure", "describe", "env_threads", "parse_threads",
           "set_threads"]
