"""One training run: load data, cross-validate every model, fit finals, test once, export the best, report.

Outputs are written to a hidden sibling folder and renamed into place at the end (ferdesk.outputs), so an
interrupted or failed run never leaves a half-written model folder and never replaces a working one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from ferdesk.model_card import ModelCard, read_card, write_card
from ferdesk.outputs import staged_folder
from ferdesk.preprocess import preprocessing_spec
from training.cv import cv_splits, summarize_folds
from training.data import (
    TRAIN_USAGE,
    Dataset,
    check_emotions,
    describe,
    gunzipped_sha256,
    imbalance_ratio,
    load_dataset,
)
from training.engine import FitJob, FitOutcome, InProcessEngine, TrainingData, plan_fits
from training.export import score_exported_tflite, write_model_folder
from training.fit import FitSettings, check_init_from, predict_proba
from training.metrics import classification_metrics
from training.models import BASELINE, logreg_parameters, multiply_adds, trainable_parameters
from training.progress import Progress
from training.report import write_report


@dataclass
class RunConfig:
    data: Path
    out: Path
    emotions: list[str] | None
    models: list[str]
    folds: int = 5
    repeats: int = 1
    test_usage: str = "PublicTest"
    skip_bad: bool = False
    overwrite: bool = False
    quantize: bool = True
    command: str = ""
    fit: FitSettings = None
    engine: object = None  # runs the fits: InProcessEngine (default) or training.engine_ray.RayEngine

    def __post_init__(self):
        self.fit = self.fit or FitSettings()
        self.engine = self.engine or InProcessEngine()


def machine_description() -> str:
    processor = platform.processor()
    processor = "" if processor in ("", platform.machine()) else processor  # often just the machine name again
    cpus = f"{platform.machine()} {processor} {os.cpu_count()} CPU cores, {platform.system()}"
    return f"{cpus}; {accelerator_description()}".replace("  ", " ")


def accelerator_description() -> str:
    """What the Keras backend trains on: the GPU's name, or the CPU."""
    import keras

    backend = keras.backend.backend()
    gpus = []
    if backend == "jax":
        import jax

        gpus = [d.device_kind for d in jax.devices() if d.platform == "gpu"]
    elif backend == "torch":
        import torch

        gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    elif backend == "tensorflow":
        import tensorflow as tf

        gpus = [
            tf.config.experimental.get_device_details(d).get("device_name", d.name)
            for d in tf.config.list_physical_devices("GPU")
        ]
    where = f"{len(gpus)}x {gpus[0]}" if gpus else "CPU"
    return f"Keras {backend} backend on {where}"


def train_test_split_of(dataset: Dataset, test_usage: str, seed: int):
    """Training rows and the held-back test rows; without test rows, a stratified 10% is held back instead."""
    train_mask = dataset.usage == TRAIN_USAGE
    test_mask = dataset.usage == test_usage
    if not train_mask.any():
        raise ValueError(f"{dataset.source}: no {TRAIN_USAGE} rows (or train/ images) to train on")
    if test_mask.any():
        return np.flatnonzero(train_mask), np.flatnonzero(test_mask), test_usage
    train_idx = np.flatnonzero(train_mask)
    fit_idx, test_idx = train_test_split(
        train_idx, test_size=0.1, random_state=seed, stratify=dataset.labels[train_idx]
    )
    return np.sort(fit_idx), np.sort(test_idx), f"10% of {TRAIN_USAGE} held back (no {test_usage} rows)"


def check_output(out: Path, overwrite: bool) -> None:
    """Fail before any data is loaded or model fitted when the run could not publish its folder at out."""
    if out.is_symlink() and not out.exists():
        raise ValueError(f"--out {out} is a broken symbolic link or a link loop; choose another --out")
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} is a file; it names the model folder to write")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} already exists; choose another --out or pass --overwrite")
    existing = next(p for p in (out.parent.absolute(), *out.parent.absolute().parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot create {out}: {existing} is not a writable folder")


def start_model_lineage(folder: str | Path) -> dict:
    """What a fine-tune started from, so its card tells the whole training history."""
    return model_lineage(read_card(folder, need=()))


def model_lineage(card: ModelCard) -> dict:
    """A model's name, how it was trained (with its own start, if a fine-tune), its data and test accuracy."""
    keep = ("command", "created", "final_epochs", "started_from")
    return {
        "name": card.name,
        **{k: card.training[k] for k in keep if k in card.training},
        "data_sha256": card.data.get("sha256"),
        "test_accuracy": card.metrics.get("test_accuracy"),
    }


def teacher_targets(config: RunConfig, emotions: list[str], x_train: np.ndarray, progress: Progress):
    """The teachers' lineage records and their soft targets on the training faces, or ([], None) without teachers."""
    if not config.fit.teachers:
        return [], None
    from training.distill import check_teachers, soft_targets

    records = check_teachers(list(config.fit.teachers), emotions)
    cache = Path(config.fit.checkpoint_dir) / "soft-targets" if config.fit.checkpoint_dir else None
    return records, soft_targets(records, x_train, emotions, cache, progress)


@dataclass
class RunData:
    """A run's data once loaded and checked: what every fit reads, and the held-back test faces."""

    dataset: Dataset
    train: TrainingData
    x_test: np.ndarray
    y_test: np.ndarray
    test_name: str
    teachers: list  # the teachers' lineage records when distilling
    start_saw_training_faces: bool = False  # the fine-tuning start was trained on this file: validation is optimistic


# Validation faces are carved from the training split: a start model trained on the same file has seen them.
OPTIMISTIC_VALIDATION = (
    "the start model was trained on this data, validation faces included: validation accuracy (and the epoch early "
    "stopping keeps) is optimistic; judge the model by its test split"
)


def start_trained_on(start: str | Path, dataset: Dataset, data_path: str | Path) -> bool:
    """True when the fine-tuning start's card names this data file (or, for a .gz, the file it holds)."""
    trained_on = read_card(start, need=()).data.get("sha256")
    path = Path(data_path)
    if trained_on == dataset.sha256:
        return True
    return path.suffix == ".gz" and path.is_file() and trained_on == gunzipped_sha256(path)


def load_run_data(config: RunConfig, progress: Progress) -> RunData:
    dataset = load_dataset(config.data, config.emotions, config.skip_bad)
    dataset, notes = check_emotions(dataset, config.emotions is not None, config.test_usage, config.folds)
    progress.message(describe(dataset))
    for note in notes:
        progress.message(note)
    emotions = dataset.emotions
    if config.fit.init_from and config.emotions is None:  # the data chose the emotions; the start model must match
        check_init_from(config.fit.init_from, config.models, emotions)
    train_idx, test_idx, test_name = train_test_split_of(dataset, config.test_usage, config.fit.seed)
    x_train, y_train = dataset.images[train_idx], dataset.labels[train_idx]
    splits = cv_splits(y_train, config.folds, config.repeats, config.fit.seed)
    teachers, soft_train = teacher_targets(config, emotions, x_train, progress)
    seen = bool(config.fit.init_from) and start_trained_on(config.fit.init_from, dataset, config.data)
    if seen:
        progress.message(OPTIMISTIC_VALIDATION)
    return RunData(
        dataset,
        TrainingData(x_train, y_train, emotions, splits, soft_train),
        dataset.images[test_idx],
        dataset.labels[test_idx],
        test_name,
        teachers,
        seen,
    )


def model_result(
    name: str, folds: list[FitOutcome], final: FitOutcome, test: dict, n_classes: int, progress: Progress
) -> dict:
    """A model's entry in the report, from its fold fits, its final fit and that fit's test scores."""
    cv = summarize_folds(folds)
    cv_text = f"CV accuracy {cv['accuracy_mean']:.4f} ± {cv['accuracy_std']:.4f}, " if folds else ""
    progress.message(f"{name}: {cv_text}test accuracy {test['accuracy']:.4f}")
    params = logreg_parameters(n_classes) if name == BASELINE else trainable_parameters(final.model)
    return {
        "name": name,
        "parameters": params,
        "multiply_adds": multiply_adds(final.model),
        "cv": cv,
        "test": test,
        "final_epochs": final.epochs_run,
        "train_seconds": cv["train_seconds"] + final.seconds,
        "images_per_second": cv["images_per_second"] or final.images_per_second,
    }


def run_training(config: RunConfig, progress: Progress) -> dict:
    start = time.perf_counter()
    if config.folds == 0 and len(config.models) > 1:
        raise ValueError("without cross-validation (--folds 0) there is nothing to choose between: train one model")
    check_output(config.out, config.overwrite)
    data = load_run_data(config, progress)
    dataset, emotions, teachers, test_name = data.dataset, data.train.emotions, data.teachers, data.test_name
    x_test, y_test, y_train = data.x_test, data.y_test, data.train.labels
    with staged_folder(config.out, config.overwrite) as staging:
        jobs = plan_fits(config.models, len(data.train.splits))
        outcomes, tests, by_model = {}, {}, {}
        # Engines hand back fits as they finish (in any order on Ray); a model is summed up once all of its are in.
        fits = config.engine.run(jobs, data.train, config.fit, progress)
        with contextlib.closing(fits):  # an interrupt between two fits still stops the engine's trials
            for outcome in fits:
                job = outcome.job
                outcomes[job] = outcome
                if job.stage == "final":
                    proba = predict_proba(outcome.model, x_test, config.fit.flip_average)
                    tests[job.model] = test = classification_metrics(y_test, proba, emotions)
                    progress.fit_done(
                        job.model, "final", 0, 0, test_accuracy=test["accuracy"], test_macro_f1=test["macro_f1"]
                    )
                mine = [j for j in jobs if j.model == job.model]
                if all(j in outcomes for j in mine):
                    folds = [outcomes[j] for j in mine if j.stage == "cv"]
                    by_model[job.model] = model_result(
                        job.model,
                        folds,
                        outcomes[FitJob(job.model, "final")],
                        tests[job.model],
                        len(emotions),
                        progress,
                    )
        results = [by_model[name] for name in config.models]
        finals = {name: outcomes[FitJob(name, "final")].model for name in config.models}
        histories = {name: outcomes[FitJob(name, "final")].history for name in config.models}
        # Selection uses cross-validation only; the test split never picks the model.
        best = max(results, key=lambda r: r["cv"]["accuracy_mean"] or 0.0)
        train_counts = {k: int(v) for k, v in zip(emotions, np.bincount(y_train, minlength=len(emotions)))}
        report = {
            "command": config.command,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "machine": machine_description(),
            "data": {
                **dataset.file_record(),
                "emotions": emotions,
                "train_size": int(len(y_train)),
                "test_size": int(len(y_test)),
                "test_usage": test_name,
                "train_counts": train_counts,
                "train_imbalance": imbalance_ratio(train_counts),
                "skipped_rows": [asdict(b) for b in dataset.skipped],
            },
            "settings": {
                "folds": config.folds,
                "repeats": config.repeats,
                **{k: v for k, v in asdict(config.fit).items() if k != "emotions"},  # set per fit; data says them
            },
            "models": results,
            "best_model": best["name"],
            "engine": {**config.engine.describe(), "fits": [outcomes[j].summary() for j in jobs]},
        }
        report["wall_seconds"] = time.perf_counter() - start
        card = ModelCard(
            name=config.out.name,
            labels=emotions,
            architecture=best["name"],
            preprocessing=preprocessing_spec(),
            metrics={
                "cv_accuracy_mean": best["cv"]["accuracy_mean"],
                "cv_accuracy_std": best["cv"]["accuracy_std"],
                "cv_macro_f1_mean": best["cv"]["macro_f1_mean"],
                "test_accuracy": best["test"]["accuracy"],
                "test_macro_f1": best["test"]["macro_f1"],
                "test_per_class_recall": best["test"]["per_class_recall"],
                "test_split": test_name,
                "folds": config.folds,
                "repeats": config.repeats,
            },
            data={k: report["data"][k] for k in ("source_name", "sha256", "train_size", "test_size", "train_counts")},
            training={
                "command": config.command,
                "created": report["created"],
                "machine": report["machine"],
                "max_epochs": config.fit.epochs,
                "final_epochs": best["final_epochs"],
                "flip_average": config.fit.flip_average,
                "seed": config.fit.seed,
                "parameters": best["parameters"],
                "multiply_adds": best["multiply_adds"],
                "wall_seconds": report["wall_seconds"],
            },
        )
        if teachers:
            distill = {
                "teachers": teachers,
                "temperature": config.fit.temperature,
                "weight": config.fit.distill_weight,
                "targets": "mirror-averaged, once per face",
                "students": [m for m in config.models if m != BASELINE],
            }
            card.training["distillation"] = report["distillation"] = distill
        if config.fit.init_from:
            report["started_from"] = start_model_lineage(config.fit.init_from)
            if best["name"] != BASELINE:  # the baseline beside a fine-tune starts from nothing
                card.training["started_from"] = report["started_from"]
            if data.start_saw_training_faces:
                report["validation_note"] = OPTIMISTIC_VALIDATION
        if write_model_folder(finals[best["name"]], staging, card, config.quantize):
            report["exported_tflite"] = score_exported_tflite(staging, card, x_test, y_test)
        write_card(card, staging)
        write_report(report, staging, histories)
    progress.event("done", out=str(config.out), best_model=best["name"])
    return report
