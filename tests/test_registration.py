"""sargeo's models in torchgeo's and timm's registries, whatever the import order; each order
runs in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys

import pytest

import sargeo

TIMM = "import timm"
TORCHGEO = "from torchgeo.models import get_model, list_models"
SARGEO = "import sargeo"
#: after the imports: both registries list and build sargeo's models
CHECK = ("from torchgeo.models import get_model, get_weight, list_models; import timm; "
         "assert {'sarmae_vit_b16', 'sarmae_vit_l16'} <= set(list_models()), list_models(); "
         "assert timm.list_models('sarmae*') == ['sarmae_vit_base_patch16', "
         "'sarmae_vit_large_patch16']; "
         "m = get_model('sarmae_vit_b16', img_size=32); "
         "t = timm.create_model('sarmae_vit_base_patch16', img_size=32); "
         "print(type(m).__name__, m.embed_dim, t.embed_dim, "
         "get_weight('SARMAE_ViTL16_Weights.SAR1M'))")
EXPECTED = "VisionTransformer 768 768 SARMAE_ViTL16_Weights.SAR1M"


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("order", [
    (TIMM, SARGEO, TORCHGEO),  # failed before: KeyError 'sarmae_vit_b16'
    (TORCHGEO, SARGEO, TIMM),
    (SARGEO, TORCHGEO, TIMM),
    (SARGEO, TIMM, TORCHGEO),
    (TORCHGEO, TIMM, SARGEO),
    (TIMM, TORCHGEO, SARGEO),
], ids=lambda order: " > ".join(s.split()[1].split(".")[0] for s in order))
def test_every_import_order_registers_with_timm_and_torchgeo(order):
    result = _run("; ".join(order) + "; " + CHECK)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == EXPECTED


@pytest.mark.slow
def test_without_sargeo_torchgeo_does_not_know_the_models():
    """What the registration is for: torchgeo alone raises KeyError for sargeo's names."""
    result = _run(f"{TORCHGEO}; get_model('sarmae_vit_b16')")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == "KeyError: 'sarmae_vit_b16'"


def test_explicit_register_is_idempotent_and_returns_the_torchgeo_names():
    import torchgeo.models as tgm

    assert sargeo.register() == ["sarmae_vit_b16", "sarmae_vit_l16", "sar_w_mixmae_base"]
    count = len(tgm.list_models())
    assert sargeo.register() == ["sarmae_vit_b16", "sarmae_vit_l16", "sar_w_mixmae_base"]
    assert len(tgm.list_models()) == count
    assert tgm.get_model_weights("sarmae_vit_b16").SAR1M.meta["file_name"] == (
        "SARMAE_vitb_checkpoint-last")


@pytest.mark.slow
def test_explicit_register_in_a_fresh_interpreter():
    result = _run(f"import sargeo; print(sargeo.register()); {CHECK}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == [
        "['sarmae_vit_b16', 'sarmae_vit_l16', 'sar_w_mixmae_base']", EXPECTED]
