"""The training input pipeline on real faces: epochs, shuffling, and what the basic and strong augmentations do."""

from __future__ import annotations

import numpy as np

from ferdesk.preprocess import to_model_input
from training.augment import augment_batch
from training.data import load_fer_csv
from training.fit import make_dataset


def _one_pass(images, labels, strong: bool) -> np.ndarray:
    ds = make_dataset(images, labels, 7, batch_size=len(labels), augment=True, seed=5, strong_augment=strong)
    return np.concatenate([np.asarray(x) for x, _ in ds])


def _assert_strong_changes_light_and_hides_patches(original, basic, strong):
    # Geometry alone keeps each face's mean brightness; the strong recipe moves it face by face.
    basic_shift = np.abs(basic.mean(axis=(1, 2, 3)) - original.mean(axis=(1, 2, 3)))
    strong_shift = np.abs(strong.mean(axis=(1, 2, 3)) - original.mean(axis=(1, 2, 3)))
    assert np.median(strong_shift) > 2 * np.median(basic_shift)

    # Erasing fills patches with noise: jumps between neighbouring pixels that faces (shifted or not) rarely have.
    def jumps(x):
        return (np.abs(np.diff(x, axis=2)) > 0.5).mean()

    assert jumps(strong) > 10 * max(jumps(basic), 1e-3)


def test_strong_augmentation_changes_light_and_hides_patches_but_keeps_faces_valid(sample_csv):
    data = load_fer_csv(sample_csv)
    images, labels = data.images, data.labels
    original = to_model_input(images)
    basic, strong = _one_pass(images, labels, False), _one_pass(images, labels, True)
    for out in (basic, strong):
        assert out.shape == original.shape and out.dtype == np.float32
        assert np.isfinite(out).all()
    assert strong.min() >= 0.0 and strong.max() <= 1.0  # brightness/contrast jitter stays in the input range
    _assert_strong_changes_light_and_hides_patches(original, basic, strong)
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


def _sharpness(faces: np.ndarray) -> float:
    """Mean absolute Laplacian: the fine detail (eyes, mouth corners) that blurring removes."""
    import cv2

    return float(np.mean([np.abs(cv2.Laplacian(face[..., 0], cv2.CV_32F)).mean() for face in faces]))


def test_both_pipelines_augment_with_one_warp_that_keeps_faces_sharp(sample_csv):
    """Keras' four augmentation layers resampled each face four times: the tf.data pipeline's faces kept 44% of the
    originals' Laplacian energy (the OpenCV warp keeps 68%), so CPU-trained networks learnt blurred faces."""
    data = load_fer_csv(sample_csv)
    original = to_model_input(data.images)
    kept = original.copy()
    for strong in (False, True):
        pipeline_out = _one_pass(data.images, data.labels, strong)
        host_out = augment_batch(original, np.random.default_rng(5), strong)
        np.testing.assert_array_equal(original, kept)  # a new copy; the training faces stay as loaded
        for out in (pipeline_out, host_out):
            assert out.shape == original.shape and out.dtype == np.float32
            assert 0.0 <= out.min() and out.max() <= 1.0
        pipeline_change, host_change = np.abs(pipeline_out - original).mean(), np.abs(host_out - original).mean()
        assert 0.7 < host_change / pipeline_change < 1.4, (strong, host_change, pipeline_change)
    basic = _one_pass(data.images, data.labels, False)
    assert _sharpness(basic) > 0.6 * _sharpness(original)
    np.testing.assert_array_equal(_one_pass(data.images, data.labels, False), basic)  # reproducible from its seed


def test_host_augmentation_mirrors_about_half_the_faces_and_strong_changes_light(sample_csv):
    data = load_fer_csv(sample_csv)
    original = to_model_input(data.images)
    basic = augment_batch(original, np.random.default_rng(1), strong=False)
    strong = augment_batch(original, np.random.default_rng(1), strong=True)
    _assert_strong_changes_light_and_hides_patches(original, basic, strong)
    # About half the faces come out mirrored: those sit closer to the flipped original than to the original.
    mirrored = (
        np.abs(basic - original[:, :, ::-1]).mean(axis=(1, 2, 3)) < np.abs(basic - original).mean(axis=(1, 2, 3))
    ).mean()
    assert 0.3 < mirrored < 0.7


def test_a_network_trained_on_augmented_faces_still_knows_them_after_augmentation(full_csv):
    """The shipped wide member learnt from OpenCV-augmented faces: it classifies the tf.data pipeline's augmented
    training faces about as well as the faces themselves (the Keras layers' blurred faces cost it 5.6 points)."""
    from ferdesk.model_card import load_keras_model
    from ferdesk.pipeline import DEFAULT_MODEL

    member = load_keras_model(DEFAULT_MODEL / "members" / "gpu-cnn_wide-s22-e89")[1]
    faces, labels = load_fer_csv(full_csv).split("Training")
    rows = np.random.default_rng(0).choice(len(faces), 1500, replace=False)
    faces, labels = faces[rows], labels[rows]
    plain = member.predict(to_model_input(faces), verbose=0, batch_size=250).argmax(1)
    ds = make_dataset(faces, labels, 7, batch_size=250, augment=True, seed=1)
    augmented = np.concatenate([np.asarray(member(x, training=False)).argmax(1) for x, _ in ds])
    assert (augmented == labels).mean() > (plain == labels).mean() - 0.025


def test_a_resumed_pipeline_draws_a_new_order_not_epoch_ones_again(sample_csv):
    """tf.data restarts its random streams with each new pipeline: a fit resumed from a backup at epoch k used to
    replay epoch 1's shuffle and augmentation, so every resume fed the network the same draws again."""
    data = load_fer_csv(sample_csv)

    def first_epoch(start_epoch: int) -> np.ndarray:
        ds = make_dataset(data.images, data.labels, 7, batch_size=16, shuffle=True, seed=3, start_epoch=start_epoch)
        return np.concatenate([np.asarray(x) for x, _ in ds])

    fresh, resumed = first_epoch(0), first_epoch(5)
    np.testing.assert_array_equal(first_epoch(0), fresh)  # a fresh fit stays reproducible
    assert not np.array_equal(resumed, fresh)
    np.testing.assert_array_equal(first_epoch(5), resumed)  # and so does a resumed one
