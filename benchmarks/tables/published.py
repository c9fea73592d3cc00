"""Where the data sets and the published figures are: folder names under ``--data-root``,
``benchmarks/paper_tables.yaml`` and the benchmark configs."""

from __future__ import annotations

from pathlib import Path

import yaml

BENCHMARKS = Path(__file__).resolve().parents[1]
RESULTS = BENCHMARKS / "results"
PAPER = BENCHMARKS / "paper_tables.yaml"
CONFIGS = BENCHMARKS.parent / "configs"

#: Table 1 column -> (dataset key, folder names, split)
TABLE1 = {
    "fusar_ship_40shot": ("fusar_ship", ("fusar_ship", "FUSAR-Ship", "FUSAR_Ship"), "40shot"),
    "fusar_ship_30pct": ("fusar_ship", ("fusar_ship", "FUSAR-Ship", "FUSAR_Ship"), "30pct"),
    "mstar_40shot": ("mstar", ("mstar", "mstar_soc10", "MSTAR"), "40shot"),
    "mstar_30pct": ("mstar", ("mstar", "mstar_soc10", "MSTAR"), "30pct"),
    "sar_acd_30pct": ("sar_acd", ("sar_acd", "SAR-ACD", "SAR_ACD"), "30pct"),
}
FOLDERS = {
    "ssdd": ("ssdd", "ssdd_coco", "SSDD"),
    "sardet_100k": ("sardet_100k", "SARDet_100K", "SARDet-100K", "sardet100k"),
    "rsar": ("rsar", "RSAR"),
    "air_polsar_seg": ("air_polsar_seg", "AIR-PolSAR-Seg", "AIR_PolSAR_Seg"),
    "sen1floods11": ("sen1floods11", "Sen1Floods11"),
}


def published(table: str, row: str = "SARMAE ViT-B") -> dict[str, float | None]:
    """The published figures of one row of ``table`` by column."""
    data = yaml.safe_load(PAPER.read_text())[table]
    return dict(zip(data["columns"], data["rows"][row], strict=True))


def find_folder(root: Path, names: tuple[str, ...]) -> Path | None:
    """The first of ``names`` that is a folder under ``root``."""
    return next((root / n for n in names if (root / n).is_dir()), None)
