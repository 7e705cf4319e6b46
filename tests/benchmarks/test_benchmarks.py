"""The benchmark scripts run end to end on real faces and models and write figures that add up.

They only check that the figures are consistent, never how fast or accurate anything is: those numbers belong
in the benchmarks' own output (README), not in pass/fail tests.
"""

from __future__ import annotations

import csv
import gzip
import json

import numpy as np
import pytest

from helpers import REPO_ROOT, SAMPLE_CSV, load_module
from ferdesk.classify import EmotionClassifier
from ferdesk.labels import EMOTIONS
from ferdesk.model_card import read_card
from ferdesk.paths import MODELS_DIR

BENCHMARKS = REPO_ROOT / "benchmarks"
RESULTS = BENCHMARKS / "results"


def load_script(name: str):
    return load_module(BENCHMARKS / f"{name}.py")


def test_pipeline_benchmark_finds_every_face_and_compares_with_fer(tmp_path, capsys):
    bench = load_script("pipeline")
    out = tmp_path / "pipeline.json"
    peer_file = RESULTS / "fer_peer.json"
    peer = json.loads(peer_file.read_text())
    assert bench.main(["--frames", "6", "--warmup", "2", "--json", str(out), "--peer-json", str(peer_file)]) == 0
    report = json.loads(out.read_text())
    printed = capsys.readouterr().out

    assert set(report["scenes"]) == {"1face", "5faces"}
    for scene, result in report["scenes"].items():
        expected = result["faces_expected"]
        assert result["faces_found"] == {
            "min": expected,
            "max": expected,
            "mean": float(expected),
            "frames_with_expected": 6,
        }, scene
        # Each frame's detect+crop+classify lies inside its end-to-end time, so their medians are ordered too.
        assert 0 < result["fer_equivalent"]["median_ms"] <= result["end_to_end"]["median_ms"]
        assert set(result["stages"]) == {"detect", "crop", "classify", "track", "overlay"}
        fer = result["fer"]
        fer_ms = peer["scenes"][scene]["end_to_end"]["median_ms"]
        assert fer["end_to_end"]["median_ms"] == fer_ms
        assert fer["speedup_median"] == pytest.approx(fer_ms / result["end_to_end"]["median_ms"], abs=0.006)
        assert fer["speedup_same_work_median"] == pytest.approx(
            fer_ms / result["fer_equivalent"]["median_ms"], abs=0.006
        )
        assert fer["speedup_same_work_median"] >= fer["speedup_median"]
    assert report["peer"]["fer"] == peer["fer"]
    assert "faster end to end" in printed and "on the same work" in printed
    # The CPU class and the machine-independent cost sit beside every time.
    assert report["system"]["cpu"] in printed and "cores" in printed
    assert report["model_cost"]["multiply_adds_per_pass"] > 0 and "multiply-adds" in printed


def test_classifier_benchmark_prices_every_model_in_time_and_multiply_adds(tmp_path, capsys):
    from ferdesk.model_card import load_keras_model
    from training.models import multiply_adds

    bench = load_script("classifier")
    out = tmp_path / "classifier.json"
    models = [MODELS_DIR / "study-sad-surprise", MODELS_DIR / "default"]
    assert bench.main(["--model", *map(str, models), "--repeats", "3", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    printed = capsys.readouterr().out
    assert report["system"]["cpu"] in printed
    assert [row["model"] for row in report["models"]] == list(map(str, models))
    for row in report["models"]:
        _, model = load_keras_model(row["model"])
        assert row["multiply_adds"] == multiply_adds(model) * row["passes_per_face"]
        for n in (1, 5):
            figures = row[f"{n}_faces"]
            assert 0 < figures["min_ms"] <= figures["median_ms"] <= figures["p95_ms"]
            assert figures["ms_per_face"] == pytest.approx(figures["median_ms"] / n, abs=0.002)
    # The default ensemble is two cnn_wide networks, the study model one: twice its cost per face.
    study, default = (row["multiply_adds"] for row in report["models"])
    assert 1.95 < default / study < 2.05
    # The cards state the same cost (the Model menu shows it).
    assert [read_card(row["model"]).training["multiply_adds"] for row in report["models"]] == [study, default]


def read_sample(usage: str) -> tuple[np.ndarray, np.ndarray]:
    """The fixture's faces and FER2013 codes for one Usage, parsed here independently of training.data."""
    faces, codes = [], []
    with gzip.open(SAMPLE_CSV, "rt", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Usage"] == usage:
                faces.append(np.array(row["pixels"].split(), dtype=np.uint8).reshape(48, 48))
                codes.append(int(row["emotion"]))
    return np.stack(faces), np.array(codes)


def test_accuracy_benchmark_scores_every_shipped_model(tmp_path, capsys):
    bench = load_script("accuracy")
    out = tmp_path / "accuracy.json"
    peer_file = RESULTS / "fer_accuracy.json"
    assert (
        bench.main(
            ["--data", str(SAMPLE_CSV), "--usage", "PublicTest", "--json", str(out), "--peer-json", str(peer_file)]
        )
        == 0
    )
    rows = json.loads(out.read_text())
    printed = capsys.readouterr().out
    shipped = sorted(p.name for p in MODELS_DIR.iterdir() if (p / "card.json").is_file())
    assert [r["model"] for r in rows[:-1]] == shipped
    assert (
        rows[-1]["model"].startswith("fer ") and rows[-1]["accuracy"] == json.loads(peer_file.read_text())["accuracy"]
    )

    faces, codes = read_sample("PublicTest")
    for row in rows[:-1]:
        classifier = EmotionClassifier(MODELS_DIR / row["model"])
        labels = classifier.labels
        keep = np.isin(codes, [EMOTIONS.index(label) for label in labels])
        truth = np.array([labels.index(EMOTIONS[c]) for c in codes[keep]])
        predicted = classifier.predict(faces[keep]).argmax(axis=1)
        assert row["n"] == int(keep.sum())
        assert row["accuracy"] == pytest.approx(float(np.mean(predicted == truth)))
        assert list(row["per_class_recall"]) == labels
        assert row["model"] in printed


def test_pipeline_benchmark_refuses_a_missing_fer_interpreter(tmp_path, capsys):
    bench = load_script("pipeline")
    with pytest.raises(SystemExit) as stop:
        bench.main(["--frames", "2", "--fer-python", str(tmp_path / "no-such-python")])
    assert stop.value.code == 2
    assert "no such interpreter" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--frames", "2", "--fer-python", "x", "--peer-json", str(RESULTS / "fer_peer.json")])
    assert "pass one" in capsys.readouterr().err
