"""Quick-look PNGs of pretraining: written atomically with a normal file mode."""

from __future__ import annotations

from sargeo.viz import render_loss_curve
from tests.test_io import mode_of, umask


def test_loss_curve_png_has_a_normal_file_mode(tmp_path):
    with umask(0o022):
        out = render_loss_curve([0, 1, 2], [1.0, 0.5, 0.25], tmp_path / "loss.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and mode_of(out) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["loss.png"]
