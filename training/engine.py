"""What a training run asks of an engine: run these fits, hand back each one's outcome as it finishes.

A run (or a sweep) is a list of independent fits, one per (model, cross-validation fold) plus one final fit per
model. The in-process engine here runs them one after another; training.engine_ray runs them as Ray Tune trials on
this machine or a cluster. Both run every fit through `run_fit`, so splits, seeds and per-fold metrics are the same
whichever engine ran them; the driver (training.run) turns the outcomes into the report and the model folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.cv import fit_on
from training.fit import FitSettings, predict_proba
from training.metrics import classification_metrics
from training.progress import Progress

# What a sweep may vary, and the FitSettings each value sets. `model` picks the network (width) itself.
AUGMENTATION = {
    "none": {"augment": False, "strong_augment": False},
    "standard": {"augment": True, "strong_augment": False},
    "strong": {"augment": True, "strong_augment": True},
}
SWEEPABLE = ("model", "seed", "learning_rate", "augment", "temperature")


class EngineError(RuntimeError):
    """An engine could not run the fits (no cluster, a failed trial): the run stops and writes nothing."""


@dataclass(frozen=True)
class FitJob:
    """One fit: a model on one cross-validation fold (stage "cv", fold 1..folds) or on all training faces ("final").

    `overrides` are a sweep configuration's settings (name, value pairs), applied over the run's FitSettings.
    """

    model: str
    stage: str
    fold: int = 0
    folds: int = 0
    overrides: tuple = ()

    @property
    def key(self) -> str:
        """A file-name-safe name, unique within a run: model-stage-fold, plus the configuration's digest."""
        base = f"{self.model}-{self.stage}-{self.fold}"
        return f"{base}-{config_tag(self.overrides)}" if self.overrides else base

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "stage": self.stage,
            "fold": self.fold,
            "folds": self.folds,
            "overrides": [list(kv) for kv in self.overrides],
        }

    @classmethod
    def from_dict(cls, d: dict) -> FitJob:
        return cls(d["model"], d["stage"], int(d["fold"]), int(d["folds"]), tuple(tuple(kv) for kv in d["overrides"]))


def config_tag(overrides: tuple) -> str:
    return hashlib.sha1(json.dumps(sorted(overrides)).encode()).hexdigest()[:10]


@dataclass
class TrainingData:
    """What every fit reads: the training faces, their labels and emotions, the folds, and teachers' soft targets."""

    images: np.ndarray
    labels: np.ndarray
    emotions: list[str]
    splits: list  # (train indices, held-out indices) per fold, from training.cv.cv_splits
    soft: np.ndarray | None = None

    def indices(self, job: FitJob) -> tuple[np.ndarray, np.ndarray | None]:
        """The faces a job fits on, and the faces it is scored on (None for a final fit)."""
        if job.stage == "final":
            return np.arange(len(self.labels)), None
        train_idx, held_out = self.splits[job.fold - 1]
        return train_idx, held_out

    def fingerprint(self) -> str:
        """Changes whenever the faces, labels, emotions, folds or soft targets do: keys the records of finished fits."""
        digest = hashlib.sha256()
        for array in (self.images, self.labels, self.soft, *(i for pair in self.splits for i in pair)):
            if array is not None:
                digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(json.dumps(self.emotions).encode())
        return digest.hexdigest()


@dataclass
class FitOutcome:
    """What one fit produced. `model` (a Keras model) is kept for final fits only; fold models are not needed."""

    job: FitJob
    seconds: float
    images_per_second: float
    epochs_run: int
    history: dict
    scores: dict | None  # accuracy and macro-F1 on the held-out fold ("cv" fits)
    held_out: str | None  # digest of the held-out faces' indices: the same split gives the same digest
    node: str  # where it ran: this machine's name in-process, the Ray node id on Ray
    model: object = None
    restored: bool = False  # finished by an earlier, interrupted run of the same command (Ray engine)
    started: float = 0.0  # wall-clock time (Unix seconds) the fit began, on the machine that ran it
    gpus: tuple[str, ...] = ()  # the GPUs Ray gave the fit (ids on its node); none in-process

    def record(self) -> dict:
        """The JSON form kept for resuming and in the report (without the model)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("job", "model")}
        return {"job": self.job.to_dict(), **fields}

    def summary(self) -> dict:
        """The report's line for this fit: where it ran, how long, on which split (histories are plotted instead)."""
        return {
            "fit": self.job.key,
            "model": self.job.model,
            "stage": self.job.stage,
            "fold": self.job.fold,
            "node": self.node,
            "seconds": round(self.seconds, 2),
            "epochs": self.epochs_run,
            "held_out": self.held_out,
            "restored": self.restored,
            "started": round(self.started, 3),
            "gpus": list(self.gpus),
        }

    @classmethod
    def from_record(cls, record: dict, model=None) -> FitOutcome:
        fields = {k: v for k, v in record.items() if k != "job"}
        fields["gpus"] = tuple(fields.get("gpus", ()))  # a list in JSON
        return cls(job=FitJob.from_dict(record["job"]), model=model, **fields)


def plan_fits(models: list[str], folds: int, overrides: tuple = (), final: bool = True) -> list[FitJob]:
    """Each model's cross-validation fits, then its final fit, in the order the in-process engine runs them."""
    jobs = []
    for model in models:
        jobs += [FitJob(model, "cv", fold, folds, overrides) for fold in range(1, folds + 1)]
        if final:
            jobs.append(FitJob(model, "final", 0, 0, overrides))
    return jobs


def settings_for(job: FitJob, settings: FitSettings) -> FitSettings:
    """The run's settings with the job's sweep configuration applied; each configuration backs up in its own folder."""
    changes = {}
    for name, value in job.overrides:
        if name == "augment":
            changes.update(AUGMENTATION[value])
        elif name != "model":
            changes[name] = value
    if job.overrides and settings.checkpoint_dir:
        changes["checkpoint_dir"] = str(Path(settings.checkpoint_dir) / f"config-{config_tag(job.overrides)}")
    return dataclasses.replace(settings, **changes)


def indices_digest(indices: np.ndarray) -> str:
    return hashlib.sha1(np.asarray(indices, dtype=np.int64).tobytes()).hexdigest()[:16]


def run_fit(
    job: FitJob, data: TrainingData, settings: FitSettings, progress: Progress, node: str | None = None
) -> FitOutcome:
    """Fit one job and score it on its held-out fold; every engine runs each fit through here."""
    # The run's emotions go with every fit: a fine-tuning start that knows more keeps just their columns.
    settings = dataclasses.replace(settings_for(job, settings), emotions=tuple(data.emotions))
    started = time.time()
    train_idx, held_out = data.indices(job)
    result = fit_on(
        job.model,
        data.images,
        data.labels,
        train_idx,
        len(data.emotions),
        settings,
        progress,
        job.stage,
        job.fold,
        job.folds,
        data.soft,
    )
    scores = None
    if held_out is not None:
        proba = predict_proba(result.model, data.images[held_out], settings.flip_average)
        metrics = classification_metrics(data.labels[held_out], proba, data.emotions)
        scores = {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]}
        progress.fit_done(job.model, job.stage, job.fold, job.folds, **scores)
    return FitOutcome(
        job,
        result.seconds,
        result.images_per_second,
        result.epochs_run,
        result.history,
        scores,
        None if held_out is None else indices_digest(held_out),
        node or platform.node(),
        result.model if job.stage == "final" else None,
        started=started,
    )


@dataclass
class InProcessEngine:
    """Every fit in this process, one after another (the default)."""

    name: str = field(default="in-process", init=False)

    def describe(self) -> dict:
        return {"name": self.name}

    def run(
        self, jobs: list[FitJob], data: TrainingData, settings: FitSettings, progress: Progress
    ) -> Iterator[FitOutcome]:
        for job in jobs:
            if job.stage == "cv" and job.fold == 1:
                where = f" ({describe_overrides(job.overrides)})" if job.overrides else ""
                progress.message(f"== {job.model}{where}: {job.folds} cross-validation fits")
            yield run_fit(job, data, settings, progress)


def describe_overrides(overrides: tuple) -> str:
    return ", ".join(f"{k}={v}" for k, v in overrides)
