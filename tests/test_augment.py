"""The training input pipeline on real faces: epochs, shuffling, and what the basic and strong augmentations do."""

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


def test_training_pipeline_serves_every_face_once_per_epoch_reshuffled_without_autotuning(sample_csv):
    data = load_fer_csv(sample_csv)
    original = to_model_input(data.images)
    ds = make_dataset(data.images, data.labels, 7, batch_size=16, shuffle=True, seed=3)
    # Autotuning stays off: its thread stalled every other epoch's iterator teardown for up to 40 s.
    assert ds.options().autotune.enabled is False
    epochs = [np.concatenate([np.asarray(x) for x, _ in ds]) for _ in range(2)]

    def rows(x):
        return sorted(face.tobytes() for face in x)

    for epoch in epochs:
        assert rows(epoch) == rows(original)  # a permutation: nothing dropped or repeated
    assert not np.array_equal(epochs[0], epochs[1])  # and a new order each epoch
