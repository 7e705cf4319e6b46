"""ferdesk.run_report reads every report.json the trainer writes: the shipped ones, old or trimmed ones, ensembles."""

from __future__ import annotations

import copy
import json
import shutil

import pytest

from helpers import REPO_ROOT
from ferdesk.gui import retrain_advice as advice
from ferdesk.run_report import ENSEMBLE, ReportError, RunReport, read_reports

SHIPPED = sorted((REPO_ROOT / "models").rglob("report.json"))
STUDY = REPO_ROOT / "models" / "study-sad-surprise" / "report.json"
ENSEMBLE_REPORT = REPO_ROOT / "models" / "default" / "report.json"


def raw(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_shipped_reports_are_all_found():
    assert STUDY in SHIPPED and ENSEMBLE_REPORT in SHIPPED
    assert any("members" in p.parts for p in SHIPPED)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_shipped_report_loads_with_what_the_file_says(path):
    d = raw(path)
    report = RunReport.read(path)
    assert report == RunReport.read(path.parent)  # a folder or its report.json
    assert list(report.data.emotions) == d["data"]["emotions"] and report.data.test_size == d["data"]["test_size"]
    assert report.data.sha256 == d["data"]["sha256"] and report.command == d["command"]
    assert report.raw == d
    if "members" in d:
        assert report.is_ensemble and report.best_model == ENSEMBLE
        assert [m.name for m in report.members] == [m["name"] for m in d["members"]]
        assert report.best.test.accuracy == d["test"]["accuracy"]
        assert report.best.parameters == sum(m["parameters"] for m in d["members"])
    else:
        assert not report.is_ensemble and report.best_model == d["best_model"]
        assert [m.name for m in report.models] == [m["name"] for m in d["models"]]
        for model, row in zip(report.models, d["models"]):
            assert model.test.accuracy == row["test"]["accuracy"]
            assert model.cv.accuracy_mean == row["cv"]["accuracy_mean"]
            assert model.images_per_second == row["images_per_second"]
            assert model.test.confusion_matrix == row["test"]["confusion_matrix"]
    exported = d.get("exported_tflite")
    assert report.app_test_accuracy == (exported["test_accuracy"] if exported else report.best.test.accuracy)


def test_the_study_report_is_judged_as_the_retrain_dialog_judges_it():
    report = RunReport.read(STUDY)
    d = raw(STUDY)
    best = next(m for m in d["models"] if m["name"] == d["best_model"])
    useful, words = advice.verdict(report, None)
    assert useful and f"{best['test']['accuracy']:.1%}" in words
    speeds = advice.measured_speeds([report])
    assert speeds == {m["name"]: m["images_per_second"] for m in d["models"]}
    assert advice.measured_speeds([RunReport.read(ENSEMBLE_REPORT)]) == {}  # no training speed in an ensemble


def test_optional_keys_missing_from_an_older_report_read_as_none():
    d = raw(STUDY)
    for key in ("command", "created", "machine", "settings", "wall_seconds", "exported_tflite"):
        d.pop(key, None)
    for key in ("sha256", "train_size", "train_counts", "test_usage", "source_name"):
        del d["data"][key]
    for model in d["models"]:
        for key in ("cv", "parameters", "final_epochs", "images_per_second"):
            del model[key]
        del model["test"]["confusion_matrix"]
    report = RunReport.from_json(d)
    assert report.command is None and report.exported is None and report.data.train_size is None
    assert report.best.cv.accuracy_mean is None and report.best.test.confusion_matrix == []
    assert report.app_test_accuracy == report.best.test.accuracy
    assert advice.measured_speeds([report]) == {}
    assert advice.verdict(report, None)[0]  # judged against 1/K without a confusion matrix


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda d: d.pop("models"), "'models'"),
        (lambda d: d["data"].pop("emotions"), "'emotions'"),
        (lambda d: d["models"][0]["test"].pop("accuracy"), "'accuracy'"),
        (lambda d: d.update(best_model="cnn_huge"), "'cnn_huge' is not among"),
        (lambda d: d["models"][0].update(test="high"), "not a training report"),
    ],
)
def test_a_file_that_is_not_a_report_says_what_is_missing(damage, words):
    d = copy.deepcopy(raw(STUDY))
    damage(d)
    with pytest.raises(ReportError, match=words):
        RunReport.from_json(d)


def test_unreadable_reports_are_named_and_skipped_when_collecting(tmp_path):
    good = tmp_path / "good"
    shutil.copytree(STUDY.parent, good)
    broken, empty, listed = tmp_path / "broken", tmp_path / "empty", tmp_path / "listed"
    for folder in (broken, empty, listed):
        folder.mkdir()
    (broken / "report.json").write_text('{"models": [')
    (listed / "report.json").write_text("[1, 2]")
    for folder in (broken, empty, listed):
        with pytest.raises(ReportError, match=str(folder)):
            RunReport.read(folder)
    assert read_reports([broken, empty, good, listed]) == [RunReport.read(good)]
