"""Repeated stratified K-fold cross-validation; early-stopping data comes from the training folds only."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import RepeatedStratifiedKFold, train_test_split

from training.fit import FitSettings, fit_model
from training.progress import Progress

VALIDATION_FRACTION = 0.1


def cv_splits(labels: np.ndarray, folds: int, repeats: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, held-out) index pairs; every face is held out exactly once per repeat, class ratios kept."""
    if folds == 0:  # final fit only (one model, nothing to compare)
        return []
    counts = np.bincount(labels)
    if folds < 2:
        raise ValueError("cross-validation needs at least 2 folds (or 0 to skip it)")
    if counts[counts > 0].min() < folds:
        raise ValueError(f"a class has only {counts[counts > 0].min()} faces, fewer than the {folds} folds")
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels))


def carve_validation(indices: np.ndarray, labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split training indices into fit and early-stopping validation parts, stratified."""
    counts = np.bincount(labels[indices])
    present = counts[counts > 0]
    # Tiny datasets (a quick retrain on a few faces) still need one face of each class in validation.
    size = max(int(round(VALIDATION_FRACTION * len(indices))), len(present))
    stratify = labels[indices] if present.min() >= 2 and size < len(indices) - len(present) else None
    fit_idx, val_idx = train_test_split(indices, test_size=size, random_state=seed, stratify=stratify)
    return np.sort(fit_idx), np.sort(val_idx)


def fit_on(
    name: str,
    images: np.ndarray,
    labels: np.ndarray,
    indices: np.ndarray,
    n_classes: int,
    settings: FitSettings,
    progress: Progress,
    stage: str,
    fold: int,
    folds: int,
    soft: np.ndarray | None = None,
):
    """Fit on `indices`; `soft` (teacher probabilities for every face, or None) makes it a distillation fit."""
    fit_idx, val_idx = carve_validation(indices, labels, settings.seed + fold)
    train, val = (images[fit_idx], labels[fit_idx]), (images[val_idx], labels[val_idx])
    if soft is not None:
        train, val = (*train, soft[fit_idx]), (*val, soft[val_idx])
    return fit_model(name, n_classes, train, val, settings, progress, stage, fold, folds)


def summarize_folds(outcomes: list) -> dict:
    """Per-fold accuracy and macro-F1 of one model (fold outcomes in fold order), their mean and std, time, speed."""
    if not outcomes:
        return {
            "fold_accuracy": [],
            "fold_macro_f1": [],
            "accuracy_mean": None,
            "accuracy_std": None,
            "macro_f1_mean": None,
            "macro_f1_std": None,
            "fold_epochs": [],
            "train_seconds": 0.0,
            "images_per_second": None,
        }
    accuracies = [o.scores["accuracy"] for o in outcomes]
    f1s = [o.scores["macro_f1"] for o in outcomes]
    return {
        "fold_accuracy": accuracies,
        "fold_macro_f1": f1s,
        "accuracy_mean": float(np.mean(accuracies)),
        "accuracy_std": float(np.std(accuracies)),
        "macro_f1_mean": float(np.mean(f1s)),
        "macro_f1_std": float(np.std(f1s)),
        "fold_epochs": [o.epochs_run for o in outcomes],
        "train_seconds": float(np.sum([o.seconds for o in outcomes])),
        "images_per_second": float(np.mean([o.images_per_second for o in outcomes])),
    }
