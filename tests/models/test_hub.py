"""Published weights through the Hugging Face hub as published: the hub cache at the pinned
revision, current and older file names, gated, offline and checksum messages. No network: a
loopback server stands in for the hub where a server is needed."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from sargeo.models.hub import ChecksumMismatch, check_sha256
from sargeo.models.vit import create_vit
from sargeo.models.weights import FILES, HF_REPO, HF_REVISION, SARMAE_ViTB16_Weights

ROOT = Path(__file__).resolve().parents[2]


def published_checkpoint(path: Path) -> torch.nn.Module:
    """A ViT-B/16 checkpoint in the published SARMAE layout (``model`` with ``sar_encoder.*``,
    ``optical_encoder.*``, ``sar_alignment_ffn.*``), saved at ``path``."""
    torch.manual_seed(1)
    encoder = create_vit("base")
    model = {f"sar_encoder.{k}": v for k, v in encoder.state_dict().items()
             if not k.startswith("head")}
    model["sar_encoder.decoder_embed.weight"] = torch.zeros(512, 768)
    model["sar_encoder.mask_token"] = torch.zeros(1, 1, 512)
    for k in ("0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias"):
        model[f"sar_alignment_ffn.{k}"] = torch.zeros(768)
    for k in ("patch_embed.weight", "patch_embed.bias", "norm.weight", "norm.bias", "cls_token"):
        model[f"optical_encoder.{k}"] = torch.zeros(3)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model, "epoch": 99, "args": {}}, path)
    return encoder


def lay_out_hub_cache(cache: Path, file_name: str, source: Path) -> Path:
    """The hub's own cache layout: blobs/<sha256>, snapshots/<revision>/<file> -> blob."""
    repo = cache / f"models--{HF_REPO.replace('/', '--')}"
    data = source.read_bytes()
    blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True)
    blob.write_bytes(data)
    link = repo / "snapshots" / HF_REVISION / file_name
    link.parent.mkdir(parents=True)
    link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir()
    return link


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    full = {**os.environ, "SARGEO_WEIGHTS_DIR": env.pop("SARGEO_WEIGHTS_DIR", "/nonexistent"),
            "TORCH_HOME": env.pop("TORCH_HOME", "/nonexistent-torch"), **env}
    full.pop("HF_TOKEN", None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full, cwd=ROOT, timeout=300)


LOAD = ("import torch, torchgeo.models as m, sargeo; sargeo.register(); "
        "model = m.get_model('sarmae_vit_b16', weights=m.get_weight("
        "'SARMAE_ViTB16_Weights.SAR1M')).eval(); torch.manual_seed(0); "
        "x = torch.rand(1, 3, 224, 224); "
        "print(float(model.forward_features(x).double().sum()))")


def test_meta_names_the_repository_revision_and_both_file_names():
    meta = SARMAE_ViTB16_Weights.SAR1M.meta
    assert meta["hf_repo"] == "Wenquandan777/SARMAE" and meta["hf_revision"] == HF_REVISION
    assert meta["file_names"] == ("SARMAE_vitb_checkpoint-last", "SARMAE_vit_Base.pth")
    assert HF_REVISION in SARMAE_ViTB16_Weights.SAR1M.url
    assert SARMAE_ViTB16_Weights.SAR1M.url.endswith("/SARMAE_vitb_checkpoint-last")


@pytest.mark.slow
@pytest.mark.parametrize("name", [FILES["base"][0], FILES["base"][1]], ids=["current", "older"])
def test_weights_resolve_from_the_hub_cache_offline(tmp_path, name):
    encoder = published_checkpoint(tmp_path / "src" / name)
    lay_out_hub_cache(tmp_path / "hub", name, tmp_path / "src" / name)
    proc = run_python(LOAD, {"HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    torch.manual_seed(0)
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        expected = float(encoder.eval().forward_features(x).double().sum())
    assert float(proc.stdout.split()[-1]) == pytest.approx(expected, rel=1e-6)


@pytest.mark.slow
def test_offline_without_the_file_says_what_to_do(tmp_path):
    proc = run_python(LOAD, {"HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 1
    err = proc.stderr
    assert "WeightsUnavailable" in err
    assert "SARMAE_vitb_checkpoint-last are not on this machine" in err
    assert f"hf download {HF_REPO} SARMAE_vitb_checkpoint-last --revision {HF_REVISION}" in err
    assert "SARGEO_WEIGHTS_DIR" in err and "model.backbone.pretrained=None" in err


class GatedHub(BaseHTTPRequestHandler):
    """Answers every request as the hub answers for a gated repository without access."""

    requests: list[str] = []

    def _gated(self) -> None:
        type(self).requests.append(f"{self.command} {self.path}")
        body = json.dumps({"error": "Access to model is restricted"}).encode()
        self.send_response(403)
        self.send_header("X-Error-Code", "GatedRepo")
        self.send_header("X-Error-Message", "Access to model Wenquandan777/SARMAE is restricted")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = _gated

    def log_message(self, *args) -> None:  # quiet
        pass


@pytest.mark.slow
def test_gated_repository_says_accept_the_licence(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), GatedHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        proc = run_python(LOAD, {"HF_HUB_CACHE": str(tmp_path / "hub"),
                                 "HF_ENDPOINT": f"http://127.0.0.1:{server.server_port}",
                                 "HF_HUB_DISABLE_TELEMETRY": "1"})
    finally:
        server.shutdown()
    assert proc.returncode == 1, proc.stdout
    err = proc.stderr
    assert "is a gated repository" in err
    assert f"accept its licence at https://huggingface.co/{HF_REPO}" in err
    assert "HF_TOKEN" in err and "hf auth login" in err
    assert any(f"/{HF_REPO}/resolve/{HF_REVISION}/SARMAE_vitb_checkpoint-last" in r
               for r in GatedHub.requests)


def test_checksum_mismatch_is_named(tmp_path):
    path = tmp_path / "SARMAE_vitb_checkpoint-last"
    path.write_bytes(b"a damaged download")
    good = hashlib.sha256(b"a damaged download").hexdigest()
    assert check_sha256(path, good) == path
    with pytest.raises(ChecksumMismatch, match=r"SARMAE_vitb_checkpoint-last: checksum mismatch "
                       r"\(SHA-256 [0-9a-f]{64}, the published file has 00+\).*delete it"):
        check_sha256(path, "0" * 64)


def test_a_local_file_comes_first(tmp_path, monkeypatch):
    from sargeo.models.weights import weights_file

    path = tmp_path / "SARMAE_vit_Base.pth"  # the older name, put there by hand
    path.write_bytes(b"x")
    monkeypatch.setenv("SARGEO_WEIGHTS_DIR", str(tmp_path))
    assert weights_file(SARMAE_ViTB16_Weights.SAR1M) == path
