"""training.ensemble: models averaged into one model folder that the app, ferdesk-eval and retraining accept."""

from __future__ import annotations

import pytest
import json

import numpy as np

from helpers import run_cli
from ferdesk.classify import EmotionClassifier
from ferdesk.model_card import load_keras_model, read_card
from ferdesk.paths import MODELS_DIR
from training.data import load_fer_csv
from training.evaluate import evaluate
from training.fit import predict_proba


def test_ensemble_is_one_model_that_averages_its_members(
    tiny_ensemble_model, tiny_cnn_model, trained_model, small_study_csv
):
    out = tiny_ensemble_model
    assert {
        "model.keras",
        "model.tflite",
        "card.json",
        "report.json",
        "report.md",
        "confusion_matrix.png",
        "member_recall.png",
    } <= {p.name for p in out.iterdir()}
    faces = load_fer_csv(small_study_csv, "sad,surprise").split("PublicTest")[0]
    # model.keras loads in safe mode and gives the members' mean, face by face.
    _, ensemble = load_keras_model(out)
    members = [load_keras_model(folder)[1] for folder in (tiny_cnn_model, trained_model)]
    expected = np.mean([predict_proba(m, faces) for m in members], axis=0)
    np.testing.assert_allclose(predict_proba(ensemble, faces), expected, atol=1e-5)
    # The app's file agrees too (int8 weights move probabilities only a little).
    np.testing.assert_allclose(EmotionClassifier(out).predict(faces), expected, atol=0.03)
    card = read_card(out)
    assert card.architecture == "ensemble" and card.labels == ["sad", "surprise"]
    assert [m["name"] for m in card.training["members"]] == ["tiny-cnn", "tiny"]
    assert card.training["command"].startswith("python -m training.ensemble")
    # The card's figures are what ferdesk-eval measures on the same split.
    for backend, key in (("keras", "test_accuracy"), ("tflite", "test_accuracy_tflite")):
        assert evaluate(out, small_study_csv, "PublicTest", backend)["accuracy"] == card.metrics[key]
    report = json.loads((out / "report.json").read_text())
    member_acc = [m["test"]["accuracy"] for m in report["members"]]
    assert member_acc == [
        evaluate(f, small_study_csv, "PublicTest")["accuracy"] for f in (tiny_cnn_model, trained_model)
    ]
    text = (out / "report.md").read_text()
    assert "| tiny-cnn (cnn_small) |" in text and f"**{100 * card.metrics['test_accuracy']:.1f}%**" in text
    assert "without flip averaging" in text and card.training["flip_average"] is False


def test_ensemble_can_turn_flip_averaging_on(tiny_cnn_model, trained_model, small_study_csv, tmp_path):
    out = tmp_path / "flipped"
    result = run_cli(
        "-m",
        "training.ensemble",
        str(tiny_cnn_model),
        str(trained_model),
        "--data",
        str(small_study_csv),
        "--out",
        str(out),
        "--flip-average",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    card = read_card(out)
    assert card.training["flip_average"] is True and EmotionClassifier(out).flip_average
    faces = load_fer_csv(small_study_csv, "sad,surprise").split("PublicTest")[0]
    members = [load_keras_model(folder)[1] for folder in (tiny_cnn_model, trained_model)]
    expected = np.mean([predict_proba(m, faces, flip_average=True) for m in members], axis=0)
    np.testing.assert_allclose(predict_proba(load_keras_model(out)[1], faces, flip_average=True), expected, atol=1e-5)
    assert "with flip averaging" in (out / "report.md").read_text()
    assert evaluate(out, small_study_csv, "PublicTest")["accuracy"] == card.metrics["test_accuracy"]


@pytest.mark.slow  # over 30 s on 2 cores
def test_ensemble_refuses_members_that_cannot_be_averaged(tiny_cnn_model, trained_model, small_study_csv, tmp_path):
    def ensemble(*members, out=tmp_path / "ens"):
        return run_cli("-m", "training.ensemble", *map(str, members), "--data", str(small_study_csv), "--out", str(out))

    one = ensemble(tiny_cnn_model)
    assert one.returncode == 2 and "at least two model folders" in one.stderr
    same = ensemble(tiny_cnn_model, tiny_cnn_model)
    assert same.returncode == 2 and "listed more than once" in same.stderr
    labels = ensemble(tiny_cnn_model, MODELS_DIR / "default")
    assert labels.returncode == 2 and "differ in labels" in labels.stderr
    missing = ensemble(tiny_cnn_model, tmp_path / "nowhere")
    assert missing.returncode == 2 and "not a folder" in missing.stderr
    assert not (tmp_path / "ens").exists()
    # An existing folder is kept unless --overwrite is given.
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    taken = ensemble(tiny_cnn_model, trained_model, out=keep)
    assert taken.returncode == 2 and "already exists" in taken.stderr
    assert [p.name for p in keep.iterdir()] == ["notes.txt"]


def test_reexporting_an_ensemble_updates_its_own_report(tiny_ensemble_model, small_study_csv, tmp_path):
    import shutil

    from training.export import reexport

    folder = tmp_path / "ensemble"
    shutil.copytree(tiny_ensemble_model, folder)
    metrics = reexport(folder, small_study_csv, quantize=False)
    report = json.loads((folder / "report.json").read_text())
    assert report["exported_tflite"] == {
        "format": "float32",
        "test_accuracy": metrics["test_accuracy_tflite"],
        "test_macro_f1": metrics["test_macro_f1_tflite"],
    }
    markdown = (folder / "report.md").read_text()
    assert markdown.startswith("# Ensemble report") and "The app runs `model.tflite` (float32)" in markdown
