"""Statistics over runs and initialisations: means and spreads, the gaps between the three
small-budget initialisations, a cell filled from a task's runs, repeats pooled."""

from __future__ import annotations

import copy
import statistics
from typing import Any

#: labels of the three small-budget initialisations
RANDOM, MAE, SARMAE = ("random init", "MAE, no SARE (sargeo, small)",
                       "SARMAE, SARE (sargeo, small)")
#: the gaps between them: (markdown label, JSON key)
GAPS = (("gap SARMAE - random", "gap_sarmae_vs_random"), ("gap MAE - random", "gap_mae_vs_random"),
        ("gap SARMAE - MAE", "gap_sarmae_vs_mae"))


def mean_std(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation (0 for one value) of ``values``, to 2 decimals."""
    return {"mean": round(statistics.fmean(values), 2),
            "std": round(statistics.stdev(values), 2) if len(values) > 1 else 0.0}


def run_stats(values: list[float]) -> dict[str, Any]:
    """Mean and sample standard deviation (0 for one run) of runs' ``values``, with them."""
    return mean_std(values) | {"runs": len(values), "values": values}


def init_gaps(values: dict[str, float]) -> dict[str, float]:
    """The gaps SARMAE - random, MAE - random and SARMAE - MAE of one measure (empty unless
    all three initialisations are in ``values``)."""
    if not {RANDOM, MAE, SARMAE} <= values.keys():
        return {}
    return {"gap_sarmae_vs_random": values[SARMAE] - values[RANDOM],
            "gap_mae_vs_random": values[MAE] - values[RANDOM],
            "gap_sarmae_vs_mae": values[SARMAE] - values[MAE]}


def probe_entry(metric: str, values: dict[str, float]) -> dict[str, Any]:
    """A cell's frozen-encoder linear probe: ``values`` per initialisation and the gaps."""
    return {"metric": metric, "values": values} | {
        key: round(gap, 2) for key, gap in init_gaps(values).items()}


def fill_cell(cell: dict[str, Any], run: dict[str, Any], metric: str,
              details: tuple[str, ...] = (), comparable: bool = True) -> None:
    """Put one metric of a task run into ``cell`` (mean and sample standard deviation over
    its seeds, each seed's value) with the small-budget gaps."""

    def stats(runs: list[dict[str, float]]) -> dict[str, Any]:
        keys = [d for d in (*details, "train loss") if d in runs[0]]
        return run_stats([r[metric] for r in runs]) | {
            "details": {d: round(statistics.fmean(r[d] for r in runs), 4) for d in keys}}

    cell["measured"] = {init: stats(runs) for init, runs in run["measured"].items()}
    if run.get("pretraining"):
        cell["pretraining_loss"] = run["pretraining"]
    if run.get("token_diversity"):
        cell["token_diversity"] = run["token_diversity"]
    if run.get("linear_probe"):
        cell["linear_probe"] = run["linear_probe"]
    if not comparable:
        cell["comparable"] = False
    means = {init: stats["mean"] for init, stats in cell["measured"].items()}
    if SARMAE in means:
        cell.update({key: round(gap, 2) for key, gap in init_gaps(means).items()})
        cell["not_run_inits"] = {
            "published SARMAE checkpoint": "ViT-B/16: beyond the small budget (see --budget "
                                           "full --checkpoint)"}


def _mean_of(parts: list[dict[str, Any]], key: str, label: str, digits: int) -> float:
    return round(statistics.fmean(p[key][label] for p in parts), digits)


def merge_repeats(results: list[dict[str, Any]], seeds: list[int]) -> dict[str, Any]:
    """One table from ``results``, the same small-budget table repeated with the base seeds
    ``seeds`` (pretraining and fine-tuning): each initialisation's runs pooled (mean, sample
    standard deviation, every value), probes and token diversity averaged, gaps from the pooled
    means, and each repeat's gaps kept in ``cell["repeats"]`` to show whether the order holds."""
    merged = copy.deepcopy(results[0])
    for i, cell in enumerate(merged["cells"]):
        if "measured" not in cell:
            continue
        repeats = [result["cells"][i] for result in results]
        for label, stats in cell["measured"].items():
            parts = [rep["measured"][label] for rep in repeats]
            stats.update(run_stats([v for part in parts for v in part["values"]]))
            if "details" in stats:
                stats["details"] = {key: _mean_of(parts, "details", key, 4)
                                    for key in stats["details"]}
            if "seconds" in stats:
                stats["seconds"] = round(sum(p["seconds"] for p in parts), 1)
        cell.update({key: round(gap, 2) for key, gap in init_gaps(
            {label: stats["mean"] for label, stats in cell["measured"].items()}).items()})
        cell["repeats"] = {"seeds": seeds} | {key: [round(rep[key], 2) for rep in repeats]
                                              for _, key in GAPS if key in cell}
        if cell.get("linear_probe"):
            probes = [rep["linear_probe"] for rep in repeats]
            cell["linear_probe"] = probe_entry(cell["linear_probe"]["metric"], {
                label: _mean_of(probes, "values", label, 2)
                for label in cell["linear_probe"]["values"]}) | {
                "per_repeat": [p["values"] for p in probes]}
        if cell.get("token_diversity"):
            cell["token_diversity"] = {label: _mean_of(repeats, "token_diversity", label, 4)
                                       for label in cell["token_diversity"]}
        if cell.get("pretraining_loss"):
            cell["pretraining_loss_per_repeat"] = [rep["pretraining_loss"] for rep in repeats]
    if merged.get("small_budget_protocol"):
        merged["small_budget_protocol"]["repeats"] = seeds
    return merged
