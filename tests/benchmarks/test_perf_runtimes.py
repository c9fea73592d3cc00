"""benchmarks.perf_runtimes on a tiny random ViT: every runtime recorded, fp32 runtimes agree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks import perf_runtimes as pr


@pytest.fixture(scope="module")
def tiny() -> tuple[torch.nn.Module, list[np.ndarray]]:
    from sargeo.mm.backbone import SARMAEViT

    torch.manual_seed(0)
    backbone = SARMAEViT(arch="tiny", img_size=64, in_channels=2, drop_path_rate=0.0).eval()
    tiles = np.random.default_rng(0).uniform(-1, 1, (2, 2, 2, 64, 64)).astype(np.float32)
    return backbone, list(tiles)  # 2 batches of 2 tiles of 64 px


def test_every_runtime_recorded_and_fp32_runtimes_agree(tiny, tmp_path: Path) -> None:
    backbone, batches = tiny
    records, runners = pr.benchmark_backbone(backbone, batches, [], rounds=2, threads=1,
                                             work=tmp_path)
    assert list(records) == list(pr.RUNTIMES)
    # no calibration tiles: the int8 OpenVINO model cannot be built, and says why
    assert records["openvino_int8"]["ok"] is False
    assert records["openvino_int8"]["error"] == (
        "ValueError: openvino_int8 needs calibration tiles (NNCF), none given")
    assert "openvino_int8" not in runners
    for name in ("torch_fp32", "torch_bf16", "ort_fp32", "ort_int8_dynamic", "openvino_fp32",
                 "openvino_bf16"):
        r = records[name]
        assert r["ok"] is True, r.get("error")
        assert len(r["seconds_per_round"]) == 2
        assert r["images_per_s"] >= r["images_per_s_median"] > 0
    assert records["torch_fp32"]["speedup_vs_torch_fp32"] == 1.0
    assert records["torch_fp32"]["features_vs_torch_fp32"]["max_abs"] == 0.0
    for name in ("ort_fp32", "openvino_fp32"):  # float32 graphs: only summation order differs
        f = records[name]["features_vs_torch_fp32"]
        assert f["rel_l2"] < 1e-5 and f["max_abs"] < 1e-4
        assert records[name]["features_agree"] is True
    assert records["openvino_fp32"]["inference_precision"] == "f32"
    assert records["openvino_bf16"]["inference_precision"] == "bf16"
    # reduced precision differs from float32 measurably, but stays close on these features
    for name in ("torch_bf16", "openvino_bf16", "ort_int8_dynamic"):
        assert 1e-4 < records[name]["features_vs_torch_fp32"]["rel_l2"] < 0.1


def test_runtime_backbone_replaces_a_backbone_inside_torch(tiny, tmp_path: Path) -> None:
    backbone, batches = tiny
    onnx = pr.export_onnx(backbone, batches[0], tmp_path / "b.onnx")
    module = pr.runtime_backbone(pr.ort_runner(onnx, threads=1))
    x = torch.from_numpy(np.concatenate(batches))  # 4 tiles: the exported batch axis is dynamic
    with torch.no_grad():
        want, got = backbone(x), module(x)
    assert isinstance(got, tuple) and len(got) == len(want) == 1
    assert got[0].shape == want[0].shape == (4, 192, 4, 4)
    torch.testing.assert_close(got[0], want[0], rtol=1e-4, atol=1e-4)


def test_recording_backbone_keeps_inputs_and_can_skip_the_work(tiny) -> None:
    backbone, batches = tiny
    rec = pr.recording_backbone(backbone, compute=False)
    first = rec(torch.from_numpy(batches[0]))
    second = rec(torch.from_numpy(batches[1][:1]))
    assert first[0].abs().sum() > 0  # the first batch runs, to learn the output shapes
    assert second[0].shape == (1, 192, 4, 4) and second[0].abs().sum() == 0
    assert [b.shape for b in rec.inputs] == [(2, 2, 64, 64), (1, 2, 64, 64)]
    np.testing.assert_array_equal(rec.inputs[1], batches[1][:1])


def test_feature_agreement_measures() -> None:
    ref = [[np.array([3.0, -4.0], dtype=np.float32)]]
    got = [[np.array([3.0, -4.5], dtype=np.float32)]]
    assert pr.feature_agreement(ref, got) == {"max_abs": 0.5, "max_abs_over_max_ref": 0.125,
                                              "rel_l2": 0.1}


def test_torch_fp32_is_required(tiny, tmp_path: Path) -> None:
    backbone, batches = tiny
    with pytest.raises(ValueError, match="runtimes must include torch_fp32"):
        pr.benchmark_backbone(backbone, batches, [], runtimes=("ort_fp32",), threads=1,
                              work=tmp_path)


def test_setup_installs_the_runtimes_extra_from_the_lock(tmp_path: Path, monkeypatch) -> None:
    """``make setup`` (tools/bootstrap.py) installs the ``runtimes`` extra, every one of its
    packages pinned in requirements/lock.txt, and checks that they import."""
    import importlib.util
    import tomllib
    import zipfile

    root = Path(pr.__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("bootstrap", root / "tools" / "bootstrap.py")
    bootstrap = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bootstrap)
    extra = tomllib.loads((root / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["runtimes"]
    names = [req.split(">=")[0] for req in extra]
    assert names == ["onnx", "onnxruntime", "openvino", "nncf"]
    for name in names:
        bootstrap.locked_version(name)  # raises SetupError when the lock pins none
    # an install with a cached mmcv wheel, recording the commands instead of running them
    monkeypatch.setenv("SARGEO_CACHE", str(tmp_path / "cache"))
    folder = bootstrap.mmcv_wheel_dir(tmp_path / "cache", bootstrap.locked_version("torch"),
                                      "cp312")
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "mmcv-2.1.0-cp312-cp312-linux_x86_64.whl", "w") as zf:
        zf.writestr("mmcv/_ext.cpython-312-x86_64-linux-gnu.so", b"")
    monkeypatch.setattr(bootstrap, "check_disk", lambda *a: None)
    commands: list[list[str]] = []
    monkeypatch.setattr(bootstrap, "run", lambda cmd, **kw: commands.append(cmd))
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    bootstrap.install(venv)
    assert f"{bootstrap.ROOT}[mm,dev,runtimes]" in commands[-2]
    assert "-c" in commands[-2] and str(bootstrap.LOCK_FILE) in commands[-2]
    assert commands[-1][-1].endswith("sargeo, onnxruntime, openvino, nncf")
