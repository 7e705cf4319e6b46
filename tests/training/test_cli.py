"""ferdesk-train and ferdesk-eval end to end on real faces, and the model folder they produce."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers import REPO_ROOT, run_cli, train_args
from ferdesk.classify import EmotionClassifier
from ferdesk.model_card import ModelFolderError, load_keras_model, read_card
from training.data import load_fer_csv
from training.fit import check_init_from, predict_proba, starting_weights

RUN_FILES = {
    "model.keras",
    "model.tflite",
    "card.json",
    "report.json",
    "report.md",
    "confusion_matrix.png",
    "learning_curves.png",
    "fold_accuracy.png",
}


def test_train_writes_every_output(trained_model, small_study_csv):
    assert RUN_FILES <= {p.name for p in trained_model.iterdir()}
    assert not list(trained_model.parent.glob(".*partial*"))
    report = json.loads((trained_model / "report.json").read_text())
    assert [m["name"] for m in report["models"]] == ["logreg", "cnn_small"]
    for model in report["models"]:
        assert len(model["cv"]["fold_accuracy"]) == 3 and len(model["cv"]["fold_macro_f1"]) == 3
        assert model["cv"]["accuracy_mean"] == pytest.approx(np.mean(model["cv"]["fold_accuracy"]))
        assert 0.0 <= model["test"]["accuracy"] <= 1.0 and model["images_per_second"] > 0
        assert len(model["test"]["confusion_matrix"]) == 2
        assert sum(map(sum, model["test"]["confusion_matrix"])) == report["data"]["test_size"] == 80
    assert report["data"]["train_size"] == 300 and report["data"]["emotions"] == ["sad", "surprise"]
    assert "--models logreg,cnn_small" in report["command"]
    best = max(report["models"], key=lambda m: m["cv"]["accuracy_mean"])
    assert report["best_model"] == best["name"]
    card = read_card(trained_model)
    assert card.labels == ["sad", "surprise"] and card.architecture == best["name"]
    assert card.metrics["test_accuracy"] == best["test"]["accuracy"]
    assert card.data["sha256"] == report["data"]["sha256"]
    assert "| logreg" in (trained_model / "report.md").read_text()
    for png in ("confusion_matrix.png", "learning_curves.png", "fold_accuracy.png"):
        assert (trained_model / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The logistic regression beats chance on real faces even with 300 of them.
    logreg = report["models"][0]
    assert logreg["cv"]["accuracy_mean"] > 0.6


def test_eval_reproduces_the_reported_test_accuracy(trained_model, small_study_csv, tmp_path):
    out = tmp_path / "eval.json"
    result = run_cli(
        "-m", "training.evaluate", "--model", str(trained_model), "--data", str(small_study_csv), "--json", str(out)
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads(out.read_text())
    assert metrics["n"] == 80
    assert metrics["accuracy"] == pytest.approx(read_card(trained_model).metrics["test_accuracy"], abs=1e-6)
    assert "confusion matrix" in result.stdout and "sad" in result.stdout


def test_tflite_and_keras_agree(trained_model, small_study_csv, tmp_path):
    faces = load_fer_csv(small_study_csv, "sad,surprise").images[:37]
    card, model = load_keras_model(trained_model)
    keras_proba = predict_proba(model, faces)
    # The shipped file has int8 weights: close to Keras, and the card scores that very file.
    classifier = EmotionClassifier(trained_model)
    batched = classifier.predict(faces)
    np.testing.assert_allclose(batched, keras_proba, atol=0.03)
    assert (batched.argmax(1) == keras_proba.argmax(1)).mean() >= 0.9
    assert "int8" in card.training["tflite"] and 0 <= card.metrics["test_accuracy_tflite"] <= 1
    singles = np.concatenate([classifier.predict(face[None]) for face in faces[:5]])
    np.testing.assert_allclose(singles, batched[:5], atol=1e-5)
    assert classifier.predict(np.zeros((0, 48, 48), np.uint8)).shape == (0, 2)
    np.testing.assert_allclose(batched.sum(axis=1), 1.0, atol=1e-5)
    # A float32 re-export matches Keras exactly.
    import shutil

    from training.export import reexport

    float_folder = tmp_path / "float"
    shutil.copytree(trained_model, float_folder)
    metrics = reexport(float_folder, small_study_csv, quantize=False)
    np.testing.assert_allclose(EmotionClassifier(float_folder).predict(faces), keras_proba, atol=1e-5)
    assert metrics["test_accuracy_tflite"] == pytest.approx(card.metrics["test_accuracy"], abs=1e-9)
    assert not list(float_folder.glob(".*partial*"))


def test_corrupt_or_incomplete_model_folders(trained_model, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(trained_model, broken)
    (broken / "model.tflite").write_bytes(b"garbage" * 10)
    with pytest.raises(ModelFolderError, match="not a usable TFLite model"):
        EmotionClassifier(broken)
    (broken / "model.keras").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ModelFolderError, match="cannot load Keras model"):
        load_keras_model(broken)
    (broken / "card.json").write_text("{not json")
    with pytest.raises(ModelFolderError, match="unreadable card"):
        read_card(broken)
    (broken / "card.json").unlink()
    with pytest.raises(ModelFolderError, match="no card.json"):
        read_card(broken)
    with pytest.raises(ModelFolderError, match="not a folder"):
        read_card(tmp_path / "missing")


def test_bad_arguments_fail_clearly(small_study_csv, tmp_path):
    result = run_cli(*train_args(small_study_csv, emotions="sad,joy", out=tmp_path / "x"))
    assert result.returncode == 2 and "unknown emotion(s) joy" in result.stderr
    result = run_cli(*train_args(tmp_path / "none.csv", out=tmp_path / "x"))
    assert result.returncode == 2 and "none.csv: no such file" in result.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_leaves_nothing(small_study_csv, tmp_path, sig):
    out = tmp_path / "cancelled"
    # A shell starts background jobs with SIGINT ignored and Python keeps an inherited ignore; a user's Ctrl-C
    # reaches a foreground run, so the child gets the default disposition whatever launched pytest.
    proc = subprocess.Popen(
        [
            sys.executable,
            *train_args(
                small_study_csv,
                emotions="sad,surprise",
                models="cnn_small",
                folds=2,
                epochs=50,
                patience=50,
                out=out,
                progress="json",
            ),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.time() + 300
        for line in proc.stdout:  # wait until training is really under way
            if '"event": "epoch"' in line or time.time() > deadline:
                break
        assert list(tmp_path.glob(".cancelled.partial-*")), "the run should be writing to its staging folder"
        proc.send_signal(sig)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:  # never leave a 50-epoch trainer running after a failed check
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read()
    assert code == 130 and "interrupted" in stderr, f"exit status {code}; the trainer printed:\n{stderr[-4000:]}"
    assert not out.exists() and not list(tmp_path.glob(".cancelled*"))


@pytest.mark.slow  # over 30 s on 2 cores
def test_killed_run_resumes_from_its_checkpoint(small_study_csv, tmp_path):
    out, checkpoints = tmp_path / "resumed", tmp_path / "checkpoints"
    command = [
        sys.executable,
        *train_args(
            small_study_csv,
            emotions="sad,surprise",
            models="cnn_small",
            folds=0,
            epochs=3,
            patience=3,
            out=out,
            checkpoints=checkpoints,
            progress="json",
        ),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    deadline = time.time() + 300
    for line in proc.stdout:  # stop it once the first epoch is backed up
        if '"epoch": 1,' in line or time.time() > deadline:
            break
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 130
    assert not out.exists() and list(checkpoints.rglob("*")), "the backup must survive the kill"

    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    resumed = [e for e in events if e["event"] == "resumed"]
    assert resumed and resumed[0]["epoch"] >= 1
    epochs = [e["epoch"] for e in events if e["event"] == "epoch"]
    assert epochs[0] == resumed[0]["epoch"] + 1 and epochs[-1] == 3
    assert (out / "model.tflite").is_file() and read_card(out).training["final_epochs"] == 3
    assert not list(checkpoints.rglob("*.weights.h5")), "a finished fit deletes its backup"


@pytest.mark.slow  # over 30 s on 2 cores
def test_fine_tuning_starts_from_the_given_model_and_checks_it_fits(tiny_cnn_model, small_study_csv, tmp_path):
    start = tiny_cnn_model
    base = [
        sys.executable,
        *train_args(
            small_study_csv,
            emotions="sad,surprise",
            models="cnn_small",
            folds=0,
            epochs=1,
            no_augment=True,
            progress="quiet",
            learning_rate="1e-12",
        ),
    ]
    # With a vanishing learning rate, a fine-tune must hand back the starting weights; a fresh fit does not.
    frozen, fresh = tmp_path / "frozen", tmp_path / "fresh"
    for out, extra in ((frozen, ["--init-from", str(start)]), (fresh, [])):
        result = subprocess.run(
            [*base, "--out", str(out), *extra], capture_output=True, text=True, cwd=REPO_ROOT, timeout=600
        )
        assert result.returncode == 0, result.stderr[-3000:]
    # Trainable weights only: batch-norm statistics keep moving whatever the learning rate.
    weights = {
        name: [np.asarray(v) for v in load_keras_model(folder)[1].trainable_weights]
        for name, folder in (("start", start), ("frozen", frozen), ("fresh", fresh))
    }
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(weights["start"], weights["frozen"]))
    assert not all(np.allclose(a, b, atol=1e-6) for a, b in zip(weights["start"], weights["fresh"]))
    card = read_card(frozen)
    assert "--init-from" in card.training["command"]
    start_card = read_card(start)
    assert card.training["started_from"] == {
        "name": "tiny-cnn",
        "command": start_card.training["command"],
        "created": start_card.training["created"],
        "final_epochs": 1,
        "data_sha256": start_card.data["sha256"],
        "test_accuracy": start_card.metrics["test_accuracy"],
    }
    report_md = (frozen / "report.md").read_text()
    assert "the only model; no CV" in report_md
    assert (
        f"Fine-tuned from `tiny-cnn` (1 epoch, test accuracy {100 * start_card.metrics['test_accuracy']:.1f}%)"
        in report_md
    )
    assert json.loads((frozen / "report.json").read_text())["started_from"] == card.training["started_from"]
    # The start was trained on this very file, so the validation faces carved from it are not new to the network.
    assert "Note: the start model was trained on this data, validation faces included" in report_md
    assert "validation_note" not in json.loads((fresh / "report.json").read_text())

    wrong_net = run_cli(
        *train_args(
            small_study_csv,
            emotions="sad,surprise",
            models="cnn_medium",
            folds=0,
            init_from=start,
            out=tmp_path / "x",
        )
    )
    assert wrong_net.returncode == 2 and "fine-tuning needs --models cnn_small" in wrong_net.stderr
    wrong_labels = run_cli(
        *train_args(
            small_study_csv,
            emotions="happy,sad",
            models="cnn_small",
            folds=0,
            init_from=start,
            out=tmp_path / "x",
        )
    )
    assert wrong_labels.returncode == 2
    assert "classifies sad,surprise; it cannot start a run that also trains happy" in wrong_labels.stderr
    assert not (tmp_path / "x").exists()


def test_fine_tuning_start_is_read_once_and_only_a_zoo_cnn_qualifies(tiny_cnn_model, tmp_path):
    # Cross-validation fits the start model K+1 times; its file is read once, and again only when it changes.
    first = starting_weights(tiny_cnn_model)
    assert starting_weights(tiny_cnn_model) is first
    expected = [np.asarray(v) for v in load_keras_model(tiny_cnn_model)[1].weights]
    assert len(first) == len(expected) and all(np.array_equal(a, b) for a, b in zip(first, expected))
    copy = tmp_path / "copy"
    shutil.copytree(tiny_cnn_model, copy)
    keras_file = copy / "model.keras"
    reread = starting_weights(copy)
    assert reread is not first and all(np.array_equal(a, b) for a, b in zip(reread, first))
    stat = keras_file.stat()
    os.utime(keras_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert starting_weights(copy) is not reread

    # A folder whose card names the baseline (or anything outside the zoo's CNNs) is refused with the reason.
    for architecture in ("logreg", "resnet50"):
        card = json.loads((copy / "card.json").read_text())
        card["architecture"] = architecture
        (copy / "card.json").write_text(json.dumps(card))
        with pytest.raises(ValueError, match=f"holds a {architecture} model; only the zoo's CNNs can be fine-tuned"):
            check_init_from(copy, [architecture], ["sad", "surprise"])


# --------------------------------------------------------------------------------------- issue 16: bad input


def faces_folder(root, sample_csv, emotions: str):
    """The train/<emotion>/, test/<emotion>/ layout from real FER2013 faces, with only the given emotions."""
    import cv2

    data = load_fer_csv(sample_csv, emotions)
    for i, (face, label, usage) in enumerate(zip(data.images, data.labels, data.usage)):
        folder = root / ("train" if usage == "Training" else "test") / data.emotions[label]
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{i:03d}.png"), face)
    return root


@pytest.mark.slow  # over 30 s on 2 cores
def test_without_emotions_trains_those_the_data_has(sample_csv, tmp_path):
    """A folder with happy/ and sad/ only: a two-emotion model, said so, from the baseline and a CNN alike."""
    data, out = faces_folder(tmp_path / "faces", sample_csv, "happy,sad"), tmp_path / "model"
    result = run_cli(
        *train_args(data, models="logreg,cnn_small", folds=2, epochs=1, no_augment=True, out=out, progress="quiet")
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert read_card(out).labels == ["happy", "sad"]
    report = json.loads((out / "report.json").read_text())
    assert report["data"]["emotions"] == ["happy", "sad"] and len(report["models"]) == 2


def test_missing_emotions_are_named_before_any_fit(sample_csv, small_study_csv, tmp_path):
    data = faces_folder(tmp_path / "faces", sample_csv, "happy,sad")
    result = run_cli(
        *train_args(data, emotions="happy,sad,fear", models="cnn_small", folds=0, out=tmp_path / "x", progress="json")
    )
    assert result.returncode == 2
    assert "no training faces of fear; it has training faces of happy, sad only" in result.stderr
    assert '"event": "fit_started"' not in result.stdout and "Traceback" not in result.stderr

    happy_only = tmp_path / "happy.csv"
    with gzip.open(sample_csv, "rt") as source:
        happy_only.write_text("".join(line for n, line in enumerate(source) if n == 0 or line.startswith("3,")))
    result = run_cli(*train_args(happy_only, models="logreg", folds=0, out=tmp_path / "x"))
    assert result.returncode == 2
    assert "training faces of happy only; a classifier needs at least two emotions" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--epochs", "0", "must be at least 1, got 0"),
        ("--learning-rate", "-0.01", "must be greater than 0, got -0.01"),
        ("--learning-rate", "inf", "must be a finite number"),
        ("--batch-size", "0", "must be at least 1, got 0"),
        ("--folds", "1", "must be 0 (no cross-validation) or at least 2, got 1"),
        ("--repeats", "0", "must be at least 1, got 0"),
        ("--patience", "-1", "must be at least 0, got -1"),
        ("--seed", "-5", "must be at least 0, got -5"),
        ("--epochs", "ten", "must be an integer, got 'ten'"),
    ],
)
def test_numbers_are_checked_before_anything_runs(capsys, option, value, message):
    from training.cli import build_parser

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["--data", "x.csv", option, value])
    assert exit_.value.code == 2
    assert f"argument {option}: {message}" in capsys.readouterr().err


def test_epochs_zero_writes_no_model(small_study_csv, tmp_path):
    result = run_cli(
        *train_args(small_study_csv, emotions="sad,surprise", models="cnn_small", folds=0, epochs=0, out=tmp_path / "x")
    )
    assert result.returncode == 2 and "argument --epochs: must be at least 1" in result.stderr
    assert not list(tmp_path.iterdir())


def test_help_says_each_default_once():
    from training.cli import build_parser

    text = build_parser().format_help()
    assert "(default: None)" not in text and "(default: False)" not in text
    options = re.split(r"\n  (?=-)", text.split("options:", 1)[1])
    for option in options:
        assert option.count("default") <= 1, option
    assert "$FERDESK_DATA" in text and "(default: 30)" in text


def test_a_missing_test_usage_is_refused_and_a_held_back_split_is_said(small_study_csv, tmp_path):
    result = run_cli(
        *train_args(
            small_study_csv,
            emotions="sad,surprise",
            models="logreg",
            folds=0,
            test_usage="PrivateTest",
            out=tmp_path / "x",
        )
    )
    assert result.returncode == 2
    assert (
        "no PrivateTest rows to test on; its test rows are marked PublicTest: pass --test-usage PublicTest"
        in result.stderr
    )
    assert not (tmp_path / "x").exists()

    training_only = tmp_path / "training.csv"
    with open(small_study_csv) as source:
        training_only.write_text("".join(line for line in source if not line.rstrip().endswith("Test")))
    result = run_cli(*train_args(training_only, models="logreg", folds=0, out=tmp_path / "held", progress="bar"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"no test rows in {training_only}: testing on 10% of the training faces, held back" in result.stdout
    assert read_card(tmp_path / "held").metrics["test_split"] == "10% of Training held back (no PublicTest rows)"


def test_outputs_are_checked_before_the_work(trained_model, small_study_csv, tmp_path):
    """ferdesk-eval --json into a missing folder, ferdesk-train --out onto a file or a link loop: one line, no work."""
    result = run_cli(
        "-m",
        "training.evaluate",
        "--model",
        str(trained_model),
        "--data",
        str(small_study_csv),
        "--json",
        str(tmp_path / "nodir" / "e.json"),
    )
    assert result.returncode == 2 and result.stdout == ""  # nothing evaluated
    assert f"--json {tmp_path / 'nodir' / 'e.json'}: folder {tmp_path / 'nodir'} does not exist" in result.stderr
    loop = tmp_path / "loop"
    loop.symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(loop)
    result = run_cli(
        "-m", "training.evaluate", "--model", str(trained_model), "--data", str(small_study_csv), "--json", str(loop)
    )
    assert result.returncode == 2 and f"--json {loop}: symbolic link loop" in result.stderr

    a_file = tmp_path / "model.txt"
    a_file.write_text("not a folder")
    for out, message in ((a_file, f"--out {a_file} is a file"), (loop, f"--out {loop} is a broken symbolic link")):
        result = run_cli(
            *train_args(small_study_csv, emotions="sad,surprise", models="logreg", folds=0, out=out, progress="json")
        )
        assert result.returncode == 2 and message in result.stderr
        assert '"event": "message"' not in result.stdout  # refused before the data was loaded
        assert "Traceback" not in result.stderr


def test_a_wide_start_model_begins_a_narrower_or_factored_fit_and_others_are_refused(sample_csv):
    from ferdesk.pipeline import DEFAULT_MODEL
    from training.fit import FitSettings, fit_cnn
    from training.lowrank import factored_weights
    from training.models import build_cnn, narrowed_weights
    from training.progress import Progress

    member = DEFAULT_MODEL / "members" / "gpu-cnn_wide-s22-e89"
    emotions = read_card(member).labels
    check_init_from(member, ["cnn_slim"], emotions)
    check_init_from(member, ["logreg", "cnn_lowrank"], emotions)
    with pytest.raises(
        ValueError, match="fine-tuning needs --models cnn_wide \\(or a network it can start: .*cnn_lowrank"
    ):
        check_init_from(member, ["cnn_small"], emotions)
    # With a vanishing learning rate the fit hands back exactly the narrowed start (trainable weights: batch-norm
    # statistics move whatever the rate).
    data = load_fer_csv(sample_csv)
    settings = FitSettings(epochs=1, batch_size=32, patience=1, augment=False, learning_rate=1e-12, init_from=member)
    result = fit_cnn("cnn_slim", 7, (data.images, data.labels), (data.images, data.labels), settings, Progress("quiet"))
    start = build_cnn("cnn_slim", 7)
    start.set_weights(narrowed_weights(starting_weights(member), start))
    assert result.model.name == "cnn_slim"
    fitted, expected = result.model.trainable_weights, start.trainable_weights
    assert len(fitted) == len(expected) and all(np.allclose(a, b, atol=1e-6) for a, b in zip(fitted, expected))
    # The factored network starts from the wide convs factored on the fit's own training faces.
    result = fit_cnn(
        "cnn_lowrank", 7, (data.images, data.labels), (data.images, data.labels), settings, Progress("quiet")
    )
    start = build_cnn("cnn_lowrank", 7)
    start.set_weights(factored_weights(starting_weights(member), start, data.images))
    fitted, expected = result.model.trainable_weights, start.trainable_weights
    assert len(fitted) == len(expected) and all(np.allclose(a, b, atol=1e-5) for a, b in zip(fitted, expected))


def test_a_seven_emotion_start_begins_a_subset_run_with_its_own_classifier_columns(sample_csv):
    from ferdesk.pipeline import DEFAULT_MODEL
    from training.engine import FitJob, TrainingData, run_fit
    from training.fit import FitSettings
    from training.models import build_cnn
    from training.progress import Progress

    member = DEFAULT_MODEL / "members" / "gpu-cnn_wide-s22-e89"
    labels = read_card(member).labels
    data = load_fer_csv(sample_csv, ["sad", "surprise"])
    full = predict_proba(load_keras_model(member)[1], data.images)
    # Either order: the start's softmax over just these emotions, so it begins where the 7-emotion model stands.
    for emotions in (("sad", "surprise"), ("surprise", "sad")):
        check_init_from(member, ["logreg", "cnn_wide"], list(emotions))  # the study's comparison, baseline beside
        start = build_cnn("cnn_wide", 2)
        start.set_weights(starting_weights(member, emotions))
        kept = full[:, [labels.index(e) for e in emotions]]
        assert np.allclose(predict_proba(start, data.images), kept / kept.sum(1, keepdims=True), atol=1e-5)
    with pytest.raises(ValueError, match="cannot start a run that also trains calm"):
        check_init_from(member, ["cnn_wide"], ["sad", "calm"])
    # Every engine's (and the sweep's) fits go through run_fit, which hands them the run's emotions: at a vanishing
    # learning rate the fit returns the start cut to them, here in the reversed order.
    settings = FitSettings(epochs=1, batch_size=32, patience=1, augment=False, learning_rate=1e-12, init_from=member)
    faces = TrainingData(data.images, 1 - data.labels, list(emotions), [])  # ("surprise", "sad"): 0 is surprise
    outcome = run_fit(FitJob("cnn_wide", "final"), faces, settings, Progress("quiet"))
    fitted, expected = outcome.model.trainable_weights, start.trainable_weights
    assert len(fitted) == len(expected) and all(np.allclose(a, b, atol=1e-6) for a, b in zip(fitted, expected))


def test_a_start_trained_on_the_same_faces_is_recognised_through_gzip(tiny_cnn_model, small_study_csv, tmp_path):
    from training.data import load_dataset
    from training.run import start_trained_on

    # The start's card names the plain CSV; the same faces compressed are still the same faces.
    packed = tmp_path / "sad_surprise.csv.gz"
    packed.write_bytes(gzip.compress(small_study_csv.read_bytes()))
    assert start_trained_on(tiny_cnn_model, load_dataset(packed), packed)
    assert start_trained_on(tiny_cnn_model, load_dataset(small_study_csv), small_study_csv)
    other = tmp_path / "other.csv"
    rows = small_study_csv.read_bytes().splitlines(keepends=True)
    other.write_bytes(b"".join([*rows, rows[1]]))  # one face more: another file
    assert not start_trained_on(tiny_cnn_model, load_dataset(other), other)
