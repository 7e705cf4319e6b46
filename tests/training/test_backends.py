"""Training without TensorFlow's input pipeline or LiteRT converter, as on a JAX or PyTorch GPU machine.

CI has TensorFlow only, so these tests take that path on the TensorFlow backend by switching tf.data or the
converter off; the JAX backend itself was run by hand (KERAS_BACKEND=jax: on a CPU, and on an H100 for the shipped
default's members, see README).
"""

from __future__ import annotations

import gzip
import json

import keras
import numpy as np
import pytest

from ferdesk.classify import EmotionClassifier
from ferdesk.model_card import ModelFolderError
from ferdesk.preprocess import to_model_input
from training import augment, export, fit
from training.data import file_sha256, load_fer_csv
from training.models import build_cnn
from training.progress import Progress
from training.run import RunConfig, run_training


def test_host_batches_serve_every_face_once_per_epoch_augmented_and_reproducibly(sample_csv):
    data = load_fer_csv(sample_csv)
    x, y = to_model_input(data.images), np.eye(7, dtype=np.float32)[data.labels]
    batches = augment.host_batches(x, y, batch_size=16, seed=2, strong=True)
    assert len(batches) == int(np.ceil(len(x) / 16))

    def epoch(ds):
        parts = [ds[i] for i in range(len(ds))]
        ds.on_epoch_end()
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    faces, labels = epoch(batches)
    assert faces.shape == x.shape and faces.dtype == np.float32 and 0.0 <= faces.min() and faces.max() <= 1.0
    assert sorted(labels.argmax(1).tolist()) == sorted(data.labels.tolist())  # every face once
    again = augment.host_batches(x, y, batch_size=16, seed=2, strong=True)
    np.testing.assert_array_equal(epoch(again)[0], faces)  # same seed, same batches (worker threads or not)
    second, second_labels = epoch(batches)
    assert not np.array_equal(second_labels, labels)  # reshuffled
    # A fit resumed at epoch 2 from a backup gets epoch 2's batches, as if it had never stopped.
    resumed = augment.host_batches(x, y, batch_size=16, seed=2, strong=True, start_epoch=1)
    np.testing.assert_array_equal(epoch(resumed)[1], second_labels)
    plain, plain_labels = epoch(augment.host_batches(x, y, batch_size=16, seed=2, augment=False))
    rows = {face.tobytes() for face in x}
    assert all(face.tobytes() in rows for face in plain)  # without augmentation: the faces themselves


def test_host_batch_fit_path_trains_and_returns_the_plain_model(sample_csv, monkeypatch):
    def no_tf_data(*args, **kwargs):
        raise AssertionError("the host path must not build a tf.data pipeline")

    monkeypatch.setattr(fit, "uses_tf_data", lambda: False)
    monkeypatch.setattr(fit, "make_dataset", no_tf_data)
    data = load_fer_csv(sample_csv)
    faces = (data.images, data.labels)
    settings = fit.FitSettings(epochs=3, batch_size=8, patience=3, strong_augment=True, seed=4)
    keras.utils.set_random_seed(settings.seed)  # fit_cnn seeds the same way, so this is its starting point
    start = build_cnn("cnn_small", 7).get_weights()
    result = fit.fit_cnn("cnn_small", 7, faces, faces, settings, Progress("quiet"))
    assert result.model.name == "cnn_small"
    assert result.epochs_run == 3 and len(result.history["val_accuracy"]) == 3
    assert all(np.isfinite(result.history["loss"]))
    moved = [not np.allclose(a, b) for a, b in zip(start, result.model.get_weights())]
    assert sum(moved) >= len(moved) // 2
    probabilities = fit.predict_proba(result.model, data.images)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)


def test_run_without_the_converter_keeps_model_keras_and_reexport_completes_the_folder(
    small_study_csv, tmp_path, monkeypatch
):
    monkeypatch.setattr(export, "can_export_tflite", lambda: False)
    out = tmp_path / "trained-without-tensorflow"
    config = RunConfig(
        data=small_study_csv,
        out=out,
        emotions=["sad", "surprise"],
        models=["cnn_small"],
        folds=0,
        fit=fit.FitSettings(epochs=1, augment=False),
    )
    run_training(config, Progress("quiet"))
    assert (out / "model.keras").is_file() and not (out / "model.tflite").exists()
    card = json.loads((out / "card.json").read_text())
    assert card["training"]["tflite"].startswith("not exported")
    assert "test_accuracy_tflite" not in card["metrics"]
    assert "Keras tensorflow backend on " in card["training"]["machine"]
    assert "exported_tflite" not in json.loads((out / "report.json").read_text())
    with pytest.raises(ModelFolderError, match="python -m training.export"):
        EmotionClassifier(out)

    monkeypatch.undo()
    metrics = export.reexport(out, small_study_csv)
    card = json.loads((out / "card.json").read_text())
    assert card["training"]["tflite"] == export.tflite_format(True)
    report = json.loads((out / "report.json").read_text())
    assert report["exported_tflite"]["test_accuracy"] == metrics["test_accuracy_tflite"]
    assert abs(metrics["test_accuracy_tflite"] - card["metrics"]["test_accuracy"]) <= 0.05  # int8 vs float32
    assert "The app runs `model.tflite`" in (out / "report.md").read_text()
    faces = load_fer_csv(small_study_csv).images[:5]
    assert EmotionClassifier(out).predict(faces).shape == (5, 2)
    assert "scored_on" not in card["data"]  # scored on the very file it was trained on

    # Scored on another file with the same rows (the .gz of the CSV): same figures, and the card names that file.
    packed = tmp_path / "same_rows.csv.gz"
    packed.write_bytes(gzip.compress(small_study_csv.read_bytes()))
    again = export.reexport(out, packed)
    card = json.loads((out / "card.json").read_text())
    assert again["test_accuracy_tflite"] == metrics["test_accuracy_tflite"]
    assert card["data"]["scored_on"] == {"source_name": "same_rows.csv.gz", "sha256": file_sha256(packed)}
    assert card["data"]["sha256"] == file_sha256(small_study_csv)
    export.reexport(out, small_study_csv)  # and back on the training file: no stale record of the other one
    assert "scored_on" not in json.loads((out / "card.json").read_text())["data"]
