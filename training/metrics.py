"""Classification metrics shared by cross-validation, the final test and ferdesk-eval."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, labels: list[str]) -> dict:
    """Accuracy, macro-F1, per-class recall and the confusion matrix (rows true, columns predicted)."""
    y_pred = np.asarray(proba).argmax(axis=1)
    classes = list(range(len(labels)))
    recall = recall_score(y_true, y_pred, labels=classes, average=None, zero_division=0)
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)),
        "per_class_recall": {name: float(r) for name, r in zip(labels, recall)},
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=classes).tolist(),
    }


def format_metrics(metrics: dict, labels: list[str]) -> str:
    """Plain-text summary for the console."""
    width = max(len(x) for x in labels) + 2
    lines = [
        f"faces {metrics['n']}  accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}",
        "per-class recall: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics["per_class_recall"].items()),
        "confusion matrix (rows true, columns predicted):",
        " " * width + "".join(f"{x[:8]:>9}" for x in labels),
    ]
    for name, row in zip(labels, metrics["confusion_matrix"]):
        lines.append(f"{name:<{width}}" + "".join(f"{v:>9}" for v in row))
    return "\n".join(lines)
