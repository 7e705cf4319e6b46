"""Repeated stratified K-fold cross-validation; early-stopping data comes from the training folds only."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import RepeatedStratifiedKFold, train_test_split

from training.fit import FitSettings, fit_model, predict_proba
from training.metrics import classification_metrics
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


def fit_on(name: str, images: np.ndarray, labels: np.ndarray, indices: np.ndarray, n_classes: int,
           settings: FitSettings, progress: Progress, stage: str, fold: int, folds: int):
    fit_idx, val_idx = carve_validation(indices, labels, settings.seed + fold)
    return fit_model(name, n_classes, (images[fit_idx], labels[fit_idx]), (images[val_idx], labels[val_idx]),
                     settings, progress, stage, fold, folds)


def cross_validate(name: str, images: np.ndarray, labels: np.ndarray, emotions: list[str],
                   splits: list, settings: FitSettings, progress: Progress) -> dict:
    """Per-fold accuracy and macro-F1 of one model, with their mean and std, time and throughput."""
    accuracies, f1s, seconds, speeds, epochs = [], [], [], [], []
    for fold, (train_idx, test_idx) in enumerate(splits, start=1):
        result = fit_on(name, images, labels, train_idx, len(emotions), settings, progress, "cv", fold, len(splits))
        proba = predict_proba(result.model, images[test_idx], settings.flip_average)
        metrics = classification_metrics(labels[test_idx], proba, emotions)
        accuracies.append(metrics["accuracy"])
        f1s.append(metrics["macro_f1"])
        seconds.append(result.seconds)
        speeds.append(result.images_per_second)
        epochs.append(result.epochs_run)
        progress.fit_done(name, "cv", fold, len(splits), accuracy=metrics["accuracy"], macro_f1=metrics["macro_f1"])
    if not splits:
        return {"fold_accuracy": [], "fold_macro_f1": [], "accuracy_mean": None, "accuracy_std": None,
                "macro_f1_mean": None, "macro_f1_std": None, "fold_epochs": [], "train_seconds": 0.0,
                "images_per_second": None}
    return {
        "fold_accuracy": accuracies,
        "fold_macro_f1": f1s,
        "accuracy_mean": float(np.mean(accuracies)),
        "accuracy_std": float(np.std(accuracies)),
        "macro_f1_mean": float(np.mean(f1s)),
        "macro_f1_std": float(np.std(f1s)),
        "fold_epochs": epochs,
        "train_seconds": float(np.sum(seconds)),
        "images_per_second": float(np.mean(speeds)),
    }
