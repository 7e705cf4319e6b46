"""Knowledge distillation on real faces: soft targets from a shipped teacher, a student that moves toward them,
the lineage in the card, and the multiply-add counts that sit beside every timing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import train_args
from ferdesk.classify import EmotionClassifier
from ferdesk.labels import EMOTIONS
from ferdesk.paths import MODELS_DIR
from training.data import load_dataset
from training.distill import check_teachers, file_sha256, soft_targets
from training.fit import FitSettings, fit_cnn, predict_proba
from training.models import ZOO, build_cnn, multiply_adds
from training.progress import Progress

TEACHER = MODELS_DIR / "default"


@pytest.fixture(scope="module")
def sample(sample_csv):
    return load_dataset(sample_csv)


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    p, q = np.clip(p, 1e-7, 1), np.clip(q, 1e-7, 1)
    return float(np.mean(np.sum(p * np.log(p / q), axis=1)))


def test_soft_targets_are_the_teachers_mirror_averaged_probabilities(sample, tmp_path):
    records = check_teachers([str(TEACHER)], EMOTIONS)
    targets = soft_targets(records, sample.images, EMOTIONS, tmp_path)
    expected = EmotionClassifier(TEACHER, flip_average=True).predict(sample.images)
    np.testing.assert_allclose(targets, expected, atol=1e-5)
    # A second call reads the cache (an npz of plain arrays) instead of running the teacher again.
    cached = list(tmp_path.glob("soft-*.npz"))
    assert len(cached) == 1
    np.testing.assert_array_equal(soft_targets(records, sample.images, EMOTIONS, tmp_path), targets)


def test_a_seven_emotion_teacher_restricted_to_two_renormalises(sample, tmp_path):
    pair = ["sad", "surprise"]
    records = check_teachers([str(TEACHER)], pair)
    targets = soft_targets(records, sample.images, pair, tmp_path)
    full = EmotionClassifier(TEACHER, flip_average=True).predict(sample.images)[:, [4, 5]]
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(targets, full / full.sum(axis=1, keepdims=True), atol=1e-4)


def test_a_teacher_must_know_every_emotion_of_the_run():
    study = MODELS_DIR / "study-sad-surprise"
    with pytest.raises(ValueError, match="cannot teach angry"):
        check_teachers([str(study)], ["angry", "sad"])
    with pytest.raises(ValueError, match="teacher"):
        check_teachers(["/nonexistent/teacher"], ["sad"])


@pytest.mark.slow
def test_a_distilled_student_moves_toward_its_teacher(full_csv, tmp_path):
    """The same tiny network, seed and epochs on 1,200 real happy/surprise faces: trained on the teacher's targets it
    ends closer to the teacher on 400 faces it never saw than trained on the labels alone."""
    pair = ["happy", "surprise"]
    data = load_dataset(full_csv, pair)
    train_idx = np.flatnonzero(data.usage == "Training")[:1600]
    fit, unseen = train_idx[:1200], train_idx[1200:]
    # One cnn_wide member of the default: half the ensemble's cost, same kind of knowledge.
    records = check_teachers([str(TEACHER / "members" / "gpu-cnn_wide-s22-e89")], pair)
    soft = soft_targets(records, data.images[train_idx], pair, tmp_path)
    train = (data.images[fit], data.labels[fit], soft[:1200])

    def student(weight: float):
        # Small batches: enough steps for batch-norm statistics to settle in a short fit.
        settings = FitSettings(
            epochs=8,
            batch_size=16,
            learning_rate=3e-3,
            patience=8,
            augment=False,
            distill_weight=weight,
            temperature=2.0,
            seed=3,
        )
        result = fit_cnn("cnn_small", 2, train, train, settings, Progress("quiet"))
        return predict_proba(result.model, data.images[unseen])

    teacher_unseen = soft[1200:]
    distilled, labels_only = student(1.0), student(0.0)
    kl_distilled, kl_labels = kl_divergence(teacher_unseen, distilled), kl_divergence(teacher_unseen, labels_only)
    assert kl_distilled < 0.9 * kl_labels, (kl_distilled, kl_labels)
    untrained = predict_proba(build_cnn("cnn_small", 2), data.images[unseen])
    assert kl_distilled < 0.8 * kl_divergence(teacher_unseen, untrained)


def test_the_card_keeps_the_teachers_lineage(sample_csv, tmp_path):
    from training.cli import main

    out = tmp_path / "student"
    code = main(  # main() takes what follows "-m training"
        train_args(
            sample_csv,
            models="cnn_small",
            folds=0,
            epochs=1,
            teacher=TEACHER,
            temperature=3,
            distill_weight=0.5,
            checkpoints=tmp_path / "ck",
            out=out,
            progress="quiet",
        )[2:]
    )
    assert code == 0
    card = json.loads((out / "card.json").read_text())
    distill = card["training"]["distillation"]
    assert distill["temperature"] == 3.0 and distill["weight"] == 0.5
    (teacher,) = distill["teachers"]
    assert teacher["name"] == "default"
    assert teacher["sha256"]["model.tflite"] == file_sha256(TEACHER / "model.tflite")
    assert teacher["command"] == json.loads((TEACHER / "card.json").read_text())["training"]["command"]
    assert card["training"]["multiply_adds"] == multiply_adds(build_cnn("cnn_small", 7))
    # The student is a normal model folder the app runs.
    assert EmotionClassifier(out).predict(load_dataset(sample_csv).images[:3]).shape == (3, 7)


def test_distillation_flags_are_checked_before_any_work(sample_csv, tmp_path, capsys):
    from training.cli import main

    with pytest.raises(SystemExit):
        main(["--data", str(sample_csv), "--teacher", str(TEACHER), "--temperature", "0.5"])
    assert "temperature" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--data", str(sample_csv), "--teacher", str(TEACHER), "--distill-weight", "1.5"])
    code = main(
        train_args(sample_csv, emotions="angry,sad", teacher=MODELS_DIR / "study-sad-surprise", out=tmp_path / "x")[2:]
    )
    assert code == 2 and "cannot teach angry" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_multiply_adds_match_a_count_by_hand():
    # cnn_small: three 3x3 convs (1->20 at 48x48, 20->40 at 24x24, 40->60 at 12x12) and a 60->7 dense layer.
    by_hand = 48 * 48 * 9 * 1 * 20 + 24 * 24 * 9 * 20 * 40 + 12 * 12 * 9 * 40 * 60 + 60 * 7
    assert multiply_adds(build_cnn("cnn_small", 7)) == by_hand
    # A separable conv costs its per-channel 3x3 plus its 1x1 mix.
    import keras
    from keras import layers

    inputs = keras.Input((48, 48, 8))
    sep = keras.Model(inputs, layers.SeparableConv2D(16, 3, padding="same")(inputs))
    assert multiply_adds(sep) == 48 * 48 * 8 * (9 + 16)


def test_the_zoo_spans_compute_efficient_students():
    costs = {name: multiply_adds(build_cnn(name, 7)) for name, entry in ZOO.items() if entry.build}
    assert costs["cnn_separable"] < 40e6 < costs["cnn_slim"] < 120e6 < costs["cnn_wide"]
    assert costs["cnn_slim"] < 0.6 * costs["cnn_medium"]
    # The shipped default ensemble: two cnn_wide networks, counted through its nested members.
    from ferdesk.model_card import load_keras_model

    _, ensemble = load_keras_model(TEACHER)
    assert multiply_adds(ensemble) == 2 * costs["cnn_wide"]


def test_the_default_ships_its_soft_targets_for_the_training_faces(full_csv):
    """A student can be distilled from the default without running it: the shipped targets are found by key and
    match the teacher's own mirror-averaged output on the faces."""
    data = load_dataset(full_csv)
    train = data.images[data.usage == "Training"]
    records = check_teachers([str(TEACHER)], EMOTIONS)

    class Messages:
        mode, seen = "quiet", []

        def message(self, text):
            self.seen.append(text)

    progress = Messages()
    targets = soft_targets(records, train, EMOTIONS, "/nonexistent-cache-dir", progress)
    assert targets.shape == (len(train), 7)
    assert any("soft-targets" in m and "read from" in m for m in progress.seen)
    picks = np.linspace(0, len(train) - 1, 40).astype(int)
    expected = EmotionClassifier(TEACHER, flip_average=True).predict(train[picks])
    np.testing.assert_allclose(targets[picks], expected, atol=1e-4)
