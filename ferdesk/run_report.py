"""A run's report.json, read: the typed view the app takes of what the trainer wrote.

`python -m training` (training.run) writes one report per run, with every network it trained under "models" and
the one it exported under "best_model"; `python -m training.ensemble` writes one with the "members" it averages and
their joint "test" scores; `training.export` adds "exported_tflite" (the scores of model.tflite, which the app
runs). The format is described in docs/architecture.md. This module only reads: an ensemble reads as a single model
named "ensemble", optional keys missing from older reports read as None, and a file that is not a report raises
ReportError.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENSEMBLE = "ensemble"  # the name an ensemble report's averaged model reads under


class ReportError(ValueError):
    """A report.json that cannot be read or is not a training report."""


@dataclass(frozen=True)
class TestScores:
    """Scores on the held-back test faces."""

    n: int
    accuracy: float
    macro_f1: float | None = None
    per_class_recall: dict[str, float] = field(default_factory=dict)
    confusion_matrix: list[list[int]] = field(default_factory=list)  # rows: true emotion, columns: predicted

    @classmethod
    def from_json(cls, d: dict) -> TestScores:
        return cls(
            n=int(d["n"]),
            accuracy=float(d["accuracy"]),
            macro_f1=_number(d.get("macro_f1")),
            per_class_recall=dict(d.get("per_class_recall") or {}),
            confusion_matrix=[list(row) for row in d.get("confusion_matrix") or []],
        )


@dataclass(frozen=True)
class CrossValidation:
    """Cross-validation scores; the means are None for a run without it (--folds 0)."""

    accuracy_mean: float | None = None
    accuracy_std: float | None = None
    macro_f1_mean: float | None = None
    macro_f1_std: float | None = None
    fold_accuracy: tuple[float, ...] = ()

    @classmethod
    def from_json(cls, d: dict | None) -> CrossValidation:
        d = d or {}
        return cls(
            accuracy_mean=_number(d.get("accuracy_mean")),
            accuracy_std=_number(d.get("accuracy_std")),
            macro_f1_mean=_number(d.get("macro_f1_mean")),
            macro_f1_std=_number(d.get("macro_f1_std")),
            fold_accuracy=tuple(float(a) for a in d.get("fold_accuracy") or ()),
        )


@dataclass(frozen=True)
class ModelResult:
    """One trained network (or an ensemble member) and its scores."""

    name: str
    test: TestScores
    cv: CrossValidation = CrossValidation()
    parameters: int | None = None
    final_epochs: int | None = None
    images_per_second: float | None = None  # training speed on the machine that ran it

    @classmethod
    def from_json(cls, d: dict) -> ModelResult:
        return cls(
            name=str(d["name"]),
            test=TestScores.from_json(d["test"]),
            cv=CrossValidation.from_json(d.get("cv")),
            parameters=_integer(d.get("parameters")),
            final_epochs=_integer(d.get("final_epochs")),
            images_per_second=_number(d.get("images_per_second")),
        )


@dataclass(frozen=True)
class DataSummary:
    """The faces a run used: its emotions in the model's output order, and the file and split it was tested on."""

    emotions: tuple[str, ...]
    test_size: int
    test_usage: str | None = None  # FER2013's "Usage" value (or folder split) the test faces came from
    source_name: str | None = None
    sha256: str | None = None
    train_size: int | None = None  # None in an ensemble report
    train_counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: dict) -> DataSummary:
        return cls(
            emotions=tuple(d["emotions"]),
            test_size=int(d["test_size"]),
            test_usage=d.get("test_usage"),
            source_name=d.get("source_name"),
            sha256=d.get("sha256"),
            train_size=_integer(d.get("train_size")),
            train_counts={k: int(v) for k, v in (d.get("train_counts") or {}).items()},
        )


@dataclass(frozen=True)
class ExportedScores:
    """The scores of the exported model.tflite (quantised), on the same test faces."""

    test_accuracy: float
    test_macro_f1: float | None = None
    format: str | None = None

    @classmethod
    def from_json(cls, d: dict | None) -> ExportedScores | None:
        if not d:
            return None
        return cls(
            test_accuracy=float(d["test_accuracy"]),
            test_macro_f1=_number(d.get("test_macro_f1")),
            format=d.get("format"),
        )


@dataclass(frozen=True)
class RunReport:
    """A report.json as the app uses it; `raw` keeps the whole file for anything not read here."""

    data: DataSummary
    models: tuple[ModelResult, ...]
    best_model: str
    members: tuple[ModelResult, ...] = ()  # an ensemble's members; () for a training run
    exported: ExportedScores | None = None
    command: str | None = None
    created: str | None = None
    machine: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def best(self) -> ModelResult:
        """The model the run exported (chosen by cross-validation; the ensemble itself for an ensemble report)."""
        return next(m for m in self.models if m.name == self.best_model)

    @property
    def is_ensemble(self) -> bool:
        return bool(self.members)

    @property
    def app_test_accuracy(self) -> float:
        """Test accuracy of what the app runs: model.tflite when its scores were recorded, else the Keras model."""
        return self.exported.test_accuracy if self.exported is not None else self.best.test.accuracy

    @classmethod
    def from_json(cls, d: dict) -> RunReport:
        try:
            if "members" in d:
                members = tuple(ModelResult.from_json(m) for m in d["members"])
                ensemble = ModelResult(
                    name=ENSEMBLE,
                    test=TestScores.from_json(d["test"]),
                    parameters=(
                        sum(m.parameters for m in members) if all(m.parameters is not None for m in members) else None
                    ),
                )
                models, best = (ensemble,), ENSEMBLE
            else:
                members, models, best = (), tuple(ModelResult.from_json(m) for m in d["models"]), str(d["best_model"])
            report = cls(
                data=DataSummary.from_json(d["data"]),
                models=models,
                best_model=best,
                members=members,
                exported=ExportedScores.from_json(d.get("exported_tflite")),
                command=d.get("command"),
                created=d.get("created"),
                machine=d.get("machine"),
                raw=d,
            )
        except KeyError as exc:
            raise ReportError(f"not a training report: no {exc} in it") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise ReportError(f"not a training report: {exc}") from None
        if best not in {m.name for m in models}:
            raise ReportError(f"the report's best model {best!r} is not among its models")
        return report

    @classmethod
    def read(cls, path: Path) -> RunReport:
        """The report at path (a report.json, or a model folder holding one)."""
        path = Path(path)
        if path.is_dir():
            path = path / "report.json"
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ReportError(f"cannot read {path}: {exc}") from None
        if not isinstance(d, dict):
            raise ReportError(f"{path} is not a training report")
        try:
            return cls.from_json(d)
        except ReportError as exc:
            raise ReportError(f"{path}: {exc}") from None


def read_reports(folders: Iterable[Path]) -> list[RunReport]:
    """The reports of those folders that hold a readable one, in the folders' order."""
    reports = []
    for folder in folders:
        try:
            reports.append(RunReport.read(Path(folder) / "report.json"))
        except ReportError:
            continue
    return reports


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _integer(value: Any) -> int | None:
    return None if value is None else int(value)
