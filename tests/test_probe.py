"""Linear probes on frozen encoders (sargeo.probe)."""

from __future__ import annotations

import pytest
import torch

from sargeo.probe import (
    average_precision,
    box_cells,
    dense_probe,
    fit_linear,
    frozen_tokens,
    image_probe,
    mask_cells,
)


def test_average_precision_ranks() -> None:
    labels = torch.tensor([1, 0, 1, 0, 0])
    assert average_precision(torch.tensor([5.0, 4, 3, 2, 1]), labels) == pytest.approx(
        (1 / 1 + 2 / 3) / 2)
    assert average_precision(torch.tensor([5.0, 1, 4, 2, 3]), labels) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no positive"):
        average_precision(torch.tensor([1.0, 2.0]), torch.tensor([0, 0]))


def test_box_cells_marks_overlapped_cells() -> None:
    cells = box_cells([(10, 40, 20, 44)], (64, 64), (4, 4))  # 16 px cells
    assert cells.nonzero().tolist() == [[2, 0], [2, 1]]
    # a box inside one cell, and one past the border, stay on the grid
    assert box_cells([(1, 1, 2, 2)], (64, 64), (4, 4)).sum() == 1
    assert box_cells([(60, 60, 90, 90)], (64, 64), (4, 4)).nonzero().tolist() == [[3, 3]]


def test_mask_cells_majority_and_ignore() -> None:
    mask = torch.zeros(8, 8, dtype=torch.long)
    mask[:4, :4] = 1            # cell (0, 0): all water
    mask[:4, 4:] = -1           # cell (0, 1): no valid pixel
    mask[4:, :4] = -1
    mask[7, 0] = 1              # cell (1, 0): its only valid pixel is water
    mask[4, 4] = 1              # cell (1, 1): 1 of 16 is water
    assert mask_cells(mask, 4).tolist() == [[1, -1], [1, 0]]


def test_dense_probe_finds_informative_features() -> None:
    torch.manual_seed(0)
    cells = (torch.rand(40, 4, 4) < 0.2).long()
    cells[0, 0, 0] = -1  # ignored
    informative = torch.randn(40, 4, 4, 8) + 3.0 * cells.clamp(min=0)[..., None].float()
    noise = torch.randn(40, 4, 4, 8)
    train, test = slice(0, 30), slice(30, 40)
    good = dense_probe(informative[train], cells[train], informative[test], cells[test])
    bad = dense_probe(noise[train], cells[train], noise[test], cells[test])
    assert good > 95.0
    assert bad < 60.0
    with pytest.raises(ValueError, match="tokens"):
        dense_probe(noise[train], cells[train, :2], noise[test], cells[test])


def test_image_probe_separates_classes() -> None:
    torch.manual_seed(0)
    labels = torch.arange(60) % 3
    tokens = torch.randn(60, 2, 2, 6) + 4.0 * torch.nn.functional.one_hot(labels, 6)[
        :, None, None].float()
    assert image_probe(tokens[:45], labels[:45], tokens[45:], labels[45:]) == 100.0
    shuffled = labels[torch.randperm(60)]
    assert image_probe(torch.randn(60, 2, 2, 6)[:45], shuffled[:45],
                       torch.randn(60, 2, 2, 6)[45:], shuffled[45:]) < 70.0


def test_fit_linear_checks_lengths() -> None:
    with pytest.raises(ValueError, match="3 feature rows for 2 targets"):
        fit_linear(torch.zeros(3, 2), torch.zeros(2), 1)


def test_frozen_tokens_shape_and_checkpoint(tmp_path) -> None:
    from sargeo.models.vit import create_vit

    images = torch.randn(3, 3, 32, 48)
    random = frozen_tokens(None, images, patch_size=16, seed=0)
    assert random.shape == (3, 2, 3, 192)
    torch.manual_seed(7)
    model = create_vit("tiny", img_size=(32, 48), patch_size=16).eval()
    torch.save(model.state_dict(), tmp_path / "encoder.pth")
    loaded = frozen_tokens(tmp_path / "encoder.pth", images, patch_size=16, seed=0)
    with torch.no_grad():
        expected = model.forward_features(images)[:, 1:].reshape(3, 2, 3, 192)
    assert torch.allclose(loaded, expected, atol=1e-5)
    assert not torch.allclose(loaded, random, atol=1e-2)
