"""Classification layouts and deterministic, disjoint few-shot / percentage splits."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from PIL import Image

from sargeo.datasets.classification import Split, load_classification, split_indices


def make_folder(root, counts, size=24, bits=8):
    rng = np.random.default_rng(0)
    for c, n in counts.items():
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            if bits == 16:
                arr = rng.integers(0, 65535, (size, size), dtype=np.uint16)
            else:
                arr = rng.integers(0, 255, (size, size), dtype=np.uint8)
            Image.fromarray(arr).save(root / c / f"{c}_{i}.png")


def test_split_parsing():
    assert Split.parse("40shot") == Split("shot", 40)
    assert Split.parse("30pct") == Split.parse("30%") == Split("percent", 30.0)
    assert Split.parse("predefined").kind == "predefined"
    for bad in ("forty", "0pct", "150%"):
        with pytest.raises(ValueError):
            Split.parse(bad)


def test_kshot_is_exact_deterministic_and_disjoint():
    labels = [0] * 50 + [1] * 45 + [2] * 60
    a_train, a_test = split_indices(labels, Split("shot", 40), seed=3)
    b_train, b_test = split_indices(labels, Split("shot", 40), seed=3)
    c_train, _ = split_indices(labels, Split("shot", 40), seed=4)
    assert (a_train, a_test) == (b_train, b_test) and a_train != c_train
    assert set(a_train).isdisjoint(a_test) and len(a_train) + len(a_test) == len(labels)
    assert Counter(labels[i] for i in a_train) == {0: 40, 1: 40, 2: 40}
    with pytest.raises(ValueError, match="class 1 has 45 images, fewer than the 50"):
        split_indices(labels, Split("shot", 50), seed=0)


def test_percentage_split_takes_that_share_of_each_class():
    labels = [0] * 100 + [1] * 10
    train, test = split_indices(labels, Split("percent", 30), seed=0)
    assert Counter(labels[i] for i in train) == {0: 30, 1: 3}
    assert set(train).isdisjoint(test)


def test_layouts_and_bit_depths(tmp_path):
    make_folder(tmp_path / "flat", {"a": 6, "b": 5}, bits=16)
    train, test, classes = load_classification(tmp_path / "flat", "2shot", img_size=16)
    assert classes == ["a", "b"] and len(train) == 4 and len(test) == 7
    x, y = train[0]
    assert x.shape == (3, 16, 16) and 0 <= float(x.min()) and float(x.max()) <= 1
    make_folder(tmp_path / "pre" / "Train", {"a": 4, "b": 4})
    make_folder(tmp_path / "pre" / "Val", {"a": 2, "b": 3})
    train, test, _ = load_classification(tmp_path / "pre", "predefined")
    assert (len(train), len(test)) == (8, 5)
    with pytest.raises(ValueError, match="no train/test folders"):
        load_classification(tmp_path / "flat", "predefined")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_classification(tmp_path / "nowhere", "2shot")
    (tmp_path / "flat" / "c").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no images"):
        load_classification(tmp_path / "flat", "2shot")


def test_real_mstar_soc_layout(shared_data):
    train, test, classes = load_classification(shared_data / "mstar_soc10", "40shot",
                                               img_size=32)
    assert len(classes) == 10 and "T72" in classes
    assert len(train) == 400 and len(test) == 2425  # 15-degree test set kept whole
    assert Counter(train.labels) == dict.fromkeys(range(10), 40)
