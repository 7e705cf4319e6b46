"""Stratified folds keep class ratios and never leak held-out faces into training."""

from __future__ import annotations

import numpy as np
import pytest

from training.cv import carve_validation, cv_splits
from training.data import load_fer_csv


def test_folds_preserve_ratios_and_hold_each_face_out_once(full_csv):
    data = load_fer_csv(full_csv, "sad,surprise")
    train_images, labels = data.split("Training")
    splits = cv_splits(labels, folds=5, repeats=2, seed=3)
    assert len(splits) == 10
    overall = np.bincount(labels) / len(labels)
    for repeat in range(2):
        held_out = np.concatenate([test for _, test in splits[repeat * 5 : (repeat + 1) * 5]])
        assert sorted(held_out.tolist()) == list(range(len(labels)))  # every face held out exactly once
    for train, test in splits:
        assert not set(train) & set(test)
        assert len(train) + len(test) == len(labels)
        np.testing.assert_allclose(np.bincount(labels[test]) / len(test), overall, atol=0.002)
        fit, val = carve_validation(train, labels, seed=0)
        assert not set(fit) & set(val) and not (set(fit) | set(val)) & set(test)
        assert set(fit) | set(val) == set(train)
        np.testing.assert_allclose(np.bincount(labels[val]) / len(val), overall, atol=0.01)
    # Repeats reshuffle: the first folds of the two repeats differ.
    assert set(splits[0][1]) != set(splits[5][1])
    assert train_images.shape[0] == len(labels)


def test_too_few_faces_for_folds():
    with pytest.raises(ValueError, match="fewer than the 5 folds"):
        cv_splits(np.array([0] * 10 + [1] * 3), folds=5, repeats=1, seed=0)
