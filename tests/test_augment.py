"""Training-time augmentation on real faces: what the basic and the strong (--strong-augment) pipelines do."""

from __future__ import annotations

import numpy as np

from ferdesk.preprocess import to_model_input
from training.data import load_fer_csv
from training.fit import make_dataset


def _one_pass(images, labels, strong: bool) -> np.ndarray:
    ds = make_dataset(images, labels, 7, batch_size=len(labels), augment=True, seed=5, strong_augment=strong)
    return np.concatenate([np.asarray(x) for x, _ in ds])


def test_strong_augmentation_changes_light_and_hides_patches_but_keeps_faces_valid(sample_csv):
    data = load_fer_csv(sample_csv)
    images, labels = data.images, data.labels
    original = to_model_input(images)
    basic, strong = _one_pass(images, labels, False), _one_pass(images, labels, True)
    for out in (basic, strong):
        assert out.shape == original.shape and out.dtype == np.float32
        assert np.isfinite(out).all()
    assert strong.min() >= 0.0 and strong.max() <= 1.0  # brightness/contrast jitter stays in the input range
    # Geometry alone keeps each face's mean brightness; the strong pipeline moves it face by face.
    basic_shift = np.abs(basic.mean(axis=(1, 2, 3)) - original.mean(axis=(1, 2, 3)))
    strong_shift = np.abs(strong.mean(axis=(1, 2, 3)) - original.mean(axis=(1, 2, 3)))
    assert np.median(strong_shift) > 2 * np.median(basic_shift)
    # Erasing fills patches with noise: jumps between neighbouring pixels that faces (shifted or not) rarely have.
    def jumps(x):
        return (np.abs(np.diff(x, axis=2)) > 0.5).mean()

    assert jumps(strong) > 10 * max(jumps(basic), 1e-3)
    # Labels pass through untouched and in order (no shuffling was asked for).
    ds = make_dataset(images, labels, 7, batch_size=32, augment=True, strong_augment=True)
    assert np.concatenate([np.argmax(np.asarray(y), axis=1) for _, y in ds]).tolist() == labels.tolist()
