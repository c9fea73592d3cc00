"""Reporting: a table's markdown beside the published figures, the wall-time line, and the
JSON and markdown written atomically (shared with the SAR-W-MixMAE table)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.tables.stats import GAPS


def wall_time(result: dict[str, Any]) -> list[str]:
    """The markdown's closing wall-time line, with the command (none before the run ends)."""
    if result.get("seconds") is None:
        return []
    return ["", f"Wall time: {result['seconds']:.0f} s (`{result.get('command', '')}`)"]


def command(argv: list[str] | None) -> str:
    """The command line that made a result (``argv`` None: this process's)."""
    return "python -m benchmarks.reproduce " + " ".join(
        argv if argv is not None else sys.argv[1:])


def write_table(stem: Path, result: dict[str, Any], text: str) -> None:
    """``stem``.json (``result``) and ``stem``.md (``text``), each written atomically."""
    from sargeo.io import atomic_path

    stem.parent.mkdir(parents=True, exist_ok=True)
    for suffix, content in ((".json", json.dumps(result, indent=2) + "\n"), (".md", text)):
        with atomic_path(stem.with_suffix(suffix), overwrite=True) as tmp:
            tmp.write_text(content)


def markdown(result: dict[str, Any]) -> str:
    lines = [f"# Table {result['table']} ({result['metric']}), budget: "
             f"{result.get('budget', '-')}", "",
             "| cell | published (SARMAE ViT-B) | initialisation | measured | difference | "
             "details |",
             "|---|---|---|---|---|---|"]
    for cell in result["cells"]:
        pub = cell["published"]
        pub_text = "-" if pub is None else f"{pub:.2f}"
        if "not_run" in cell:
            lines.append(f"| {cell['column']} | {pub_text} | | {cell['not_run']} | | |")
            continue
        comparable = cell.get("comparable", True)
        for init, stats in cell["measured"].items():
            if pub is None:
                diff = ""
            elif not comparable:
                diff = "n/a: other data set"
            else:
                diff = f"{stats['mean'] - pub:+.2f}"
            runs = stats.get("runs")
            value = (f"{stats['mean']:.2f} (1 run)" if runs == 1
                     else f"{stats['mean']:.2f} +- {stats['std']:.2f}"
                     + (f" ({runs} runs: {', '.join(f'{v:.2f}' for v in stats['values'])})"
                        if stats.get("values") else ""))
            details = ", ".join(f"{k} {v:.2f}" if k != "train loss" else f"{k} {v:.3f}"
                                for k, v in stats.get("details", {}).items())
            lines.append(f"| {cell['column']} | {pub_text} | {init} | {value} | {diff} | "
                         f"{details} |")
        for init, reason in cell.get("not_run_inits", {}).items():
            lines.append(f"| {cell['column']} | {pub_text} | {init} | not run: {reason} | | |")
        for label, key in GAPS:
            if key in cell:
                lines.append(f"| {cell['column']} | | {label} | {cell[key]:+.2f} | | |")
    probes = [cell for cell in result["cells"] if cell.get("linear_probe")]
    if probes:
        first = probes[0]["linear_probe"]
        gaps = [(label, key) for label, key in GAPS if key in first]
        header = ["cell", "probe", *first["values"], *(label for label, _ in gaps)]
        lines += ["", "Frozen encoders, linear probe (one linear layer on the standardised "
                  "output tokens; no fine-tuning):", "",
                  "| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
        for cell in probes:
            probe = cell["linear_probe"]
            row = [cell["column"], probe["metric"],
                   *(f"{v:.2f}" for v in probe["values"].values()),
                   *(f"{probe[key]:+.2f}" for _, key in gaps)]
            lines.append("| " + " | ".join(row) + " |")
    if result.get("budget") == "small":
        lines += ["", "Small budget: differences to the published ViT-B figures are expected; "
                  "the point is the order of the initialisations at equal budget."]
    if result.get("notes"):
        lines += ["", "Notes:", ""] + [f"- {note}" for note in result["notes"]]
    for cell in result["cells"]:
        if cell.get("repeats"):
            repeats = cell["repeats"]
            gaps = "; ".join(f"{label} {', '.join(f'{g:+.2f}' for g in repeats[key])}"
                             for label, key in GAPS if key in repeats)
            lines.append(f"- {cell['column']}: {len(repeats['seeds'])} repeats of the whole "
                         f"small-budget run (pretraining and fine-tuning, base seeds "
                         f"{', '.join(map(str, repeats['seeds']))}); per repeat: {gaps}")
        if cell.get("pretraining_loss"):
            losses = "; ".join(f"{init} {p['loss_first_step']} -> {p['loss_last_10_steps']} "
                               f"({p['steps']} steps, {p['seconds']:.0f} s)"
                               for init, p in cell["pretraining_loss"].items())
            lines.append(f"- {cell['column']}: pretraining loss, first step -> mean of the "
                         f"last ten: {losses}")
        if cell.get("token_diversity"):
            values = "; ".join(f"{init} {v:.3f}" for init, v in cell["token_diversity"].items())
            lines.append(f"- {cell['column']}: encoder token diversity (spread of patch tokens "
                         f"within an image / over the batch; near 0: collapsed): {values}")
    if result.get("small_budget_protocol"):
        protocol = result["small_budget_protocol"]
        lines += [f"- pretraining: {protocol['pretraining']}",
                  f"- fine-tuning: {protocol['finetuning']}"]
    return "\n".join(lines + wall_time(result)) + "\n"
