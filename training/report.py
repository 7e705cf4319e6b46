"""A run's report: report.json (everything), report.md (tables) and PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

CONFUSION_PNG = "confusion_matrix.png"
CURVES_PNG = "learning_curves.png"
FOLDS_PNG = "fold_accuracy.png"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(confusion: list[list[int]], labels: list[str], title: str, path: Path) -> None:
    plt = _pyplot()
    matrix = np.asarray(confusion, dtype=float)
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = 2.2 + 0.75 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(
                j,
                i,
                f"{int(matrix[i, j])}\n{share[i, j]:.0%}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if share[i, j] > 0.5 else "black",
            )
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of true class")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_learning_curves(histories: dict[str, dict], path: Path) -> None:
    plt = _pyplot()
    names = [n for n, h in histories.items() if h.get("accuracy")]
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(4.5 * max(1, len(names)), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        history = histories[name]
        epochs = range(1, len(history["accuracy"]) + 1)
        ax.plot(epochs, history["accuracy"], label="train accuracy")
        if history.get("val_accuracy"):
            ax.plot(epochs, history["val_accuracy"], label="validation accuracy")
        ax.set_title(f"{name} (final fit)")
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    if not names:
        axes[0][0].text(0.5, 0.5, "no epoch-based models in this run", ha="center", va="center")
        axes[0][0].set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_fold_accuracy(models: list[dict], path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * len(models), 3.8))
    for i, model in enumerate(models):
        folds = model["cv"]["fold_accuracy"]
        jitter = np.linspace(-0.12, 0.12, len(folds)) if len(folds) > 1 else [0.0]
        ax.scatter(i + np.asarray(jitter), folds, s=18, alpha=0.7)
        ax.errorbar(
            i + 0.3, model["cv"]["accuracy_mean"], yerr=model["cv"]["accuracy_std"], fmt="o", color="black", capsize=4
        )
    ax.set_xticks(range(len(models)), [m["name"] for m in models])
    ax.set_ylabel("held-out fold accuracy")
    ax.set_title("Cross-validation: folds and mean ± std")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _cv_cells(cv: dict) -> str:
    if cv["accuracy_mean"] is None:
        return "no CV | no CV"
    return (
        f"{_pct(cv['accuracy_mean'])} ± {_pct(cv['accuracy_std'])} "
        f"| {cv['macro_f1_mean']:.3f} ± {cv['macro_f1_std']:.3f}"
    )


def _lineage_lines(start: dict | None) -> list[str]:
    """A fine-tune's history, newest start first, from the card's `started_from` chain."""
    lines, lead = [], "Fine-tuned from"
    while start:
        epochs = start.get("final_epochs")
        lines += [
            "",
            f"{lead} `{start['name']}` ({epochs} epoch{'' if epochs == 1 else 's'}, test accuracy "
            f"{_pct(start.get('test_accuracy'))}), trained with `{start.get('command', 'unknown command')}`.",
        ]
        start, lead = start.get("started_from"), "That model was fine-tuned from"
    return lines


def markdown_report(report: dict) -> str:
    data, cfg = report["data"], report["settings"]
    lines = [
        f"# Training report: {', '.join(data['emotions'])}",
        "",
        f"Command: `{report['command']}`",
        *_lineage_lines(report.get("started_from")),
        *(["", f"Note: {report['validation_note']}."] if report.get("validation_note") else []),
        "",
        f"Data: `{data['source_name']}` (sha256 `{data['sha256'][:16]}...`), "
        f"{data['train_size']} training and {data['test_size']} test faces ({data['test_usage']}). "
        f"Training class counts: "
        + ", ".join(f"{k} {v}" for k, v in data["train_counts"].items())
        + f" (imbalance {data['train_imbalance']:.2f}).",
        "",
        (
            f"Cross-validation: {cfg['folds']}-fold stratified, {cfg['repeats']} repeat(s), seed {cfg['seed']}; "
            if cfg["folds"]
            else f"No cross-validation (--folds 0), seed {cfg['seed']}; "
        )
        + f"CNNs up to {cfg['epochs']} epochs (early stopping, patience {cfg['patience']}) on 90% of the training "
        f"data of each fit, validated on the other 10%. Test split used once, after model selection.",
        "",
        "| model | trainable params | CV accuracy (mean ± std) | CV macro-F1 | test accuracy | test macro-F1 "
        "| train time | images/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in report["models"]:
        cv, test = m["cv"], m["test"]
        lines.append(
            f"| {m['name']}{' (exported)' if m['name'] == report['best_model'] else ''} | {m['parameters']:,} "
            f"| {_cv_cells(cv)} | {_pct(test['accuracy'])} "
            f"| {test['macro_f1']:.3f} | {m['train_seconds']:.0f} s | {m['images_per_second']:.0f} |"
        )
    n_folds = len(report["models"][0]["cv"]["fold_accuracy"])
    if n_folds:
        lines += [
            "",
            "Per-fold accuracy:",
            "",
            "| model | " + " | ".join(f"fold {i + 1}" for i in range(n_folds)) + " |",
            "|---|" + "---:|" * n_folds,
        ]
        for m in report["models"]:
            lines.append(f"| {m['name']} | " + " | ".join(_pct(a) for a in m["cv"]["fold_accuracy"]) + " |")
    best = next(m for m in report["models"] if m["name"] == report["best_model"])
    labels = data["emotions"]
    why = "best CV mean accuracy" if n_folds else "the only model; no CV"
    lines += [
        "",
        f"## Exported model: {best['name']} ({why})",
        "",
        "Test per-class recall: " + ", ".join(f"{k} {_pct(v)}" for k, v in best["test"]["per_class_recall"].items()),
        "",
        "Test confusion matrix (rows true, columns predicted):",
        "",
        "| | " + " | ".join(labels) + " |",
        "|---|" + "---:|" * len(labels),
    ]
    for name, row in zip(labels, best["test"]["confusion_matrix"]):
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    exported = report.get("exported_tflite")
    if exported:
        lines += [
            "",
            f"The app runs `model.tflite` ({exported['format']}): test accuracy "
            f"{_pct(exported['test_accuracy'])}, macro-F1 {exported['test_macro_f1']:.3f}.",
        ]
    lines += ["", f"![confusion matrix]({CONFUSION_PNG})", ""]
    if n_folds:
        lines += [f"![per-fold accuracy]({FOLDS_PNG})", ""]
    lines += [
        f"![learning curves]({CURVES_PNG})",
        "",
        f"Machine: {report['machine']}. Total wall time {report['wall_seconds'] / 60:.1f} min.",
        "",
    ]
    return "\n".join(lines)


def write_report(report: dict, folder: Path, histories: dict[str, dict]) -> None:
    folder = Path(folder)
    (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (folder / "report.md").write_text(markdown_report(report), encoding="utf-8")
    best = next(m for m in report["models"] if m["name"] == report["best_model"])
    plot_confusion(
        best["test"]["confusion_matrix"],
        report["data"]["emotions"],
        f"{best['name']} on {report['data']['test_usage']}",
        folder / CONFUSION_PNG,
    )
    plot_learning_curves(histories, folder / CURVES_PNG)
    if report["models"][0]["cv"]["fold_accuracy"]:
        plot_fold_accuracy(report["models"], folder / FOLDS_PNG)


MEMBERS_PNG = "member_recall.png"


def plot_member_recall(report: dict, path: Path) -> None:
    """Per-class recall of each member and of the ensemble, side by side."""
    plt = _pyplot()
    labels = report["data"]["emotions"]
    rows = [(m["name"], m["test"]) for m in report["members"]] + [("ensemble", report["test"])]
    width = 0.8 / len(rows)
    fig, ax = plt.subplots(figsize=(1.5 + 1.1 * len(labels), 3.8))
    for i, (name, test) in enumerate(rows):
        ax.bar(
            np.arange(len(labels)) + (i - (len(rows) - 1) / 2) * width,
            [test["per_class_recall"][k] for k in labels],
            width,
            label=f"{name} ({_pct(test['accuracy'])})",
        )
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylabel("recall")
    ax.set_ylim(0, 1)
    ax.set_title(f"Per-class recall on {report['data']['test_usage']}")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def ensemble_markdown(report: dict) -> str:
    data, test = report["data"], report["test"]
    lines = [
        f"# Ensemble report: {', '.join(data['emotions'])}",
        "",
        f"Command: `{report['command']}`",
        "",
        f"The exported model averages the probabilities of {len(report['members'])} models. Scored on "
        f"`{data['source_name']}` (sha256 `{data['sha256'][:16]}...`), {data['test_size']} test faces "
        f"({data['test_usage']}), members and ensemble alike "
        f"{'with' if report['flip_average'] else 'without'} flip averaging.",
        "",
        "| model | trainable params | test accuracy | test macro-F1 |",
        "|---|---:|---:|---:|",
    ]
    for m in report["members"]:
        lines.append(
            f"| {m['name']} ({m['architecture']}) | {m['parameters']:,} | {_pct(m['test']['accuracy'])} "
            f"| {m['test']['macro_f1']:.3f} |"
        )
    lines.append(
        f"| **ensemble** | {sum(m['parameters'] for m in report['members']):,} "
        f"| **{_pct(test['accuracy'])}** | **{test['macro_f1']:.3f}** |"
    )
    for m in report["members"]:
        lines += ["", f"`{m['name']}` was trained with `{m.get('command', 'unknown command')}`."]
        lines += _lineage_lines(m.get("started_from"))
    exported = report["exported_tflite"]
    lines += [
        "",
        "Ensemble per-class recall: " + ", ".join(f"{k} {_pct(v)}" for k, v in test["per_class_recall"].items()),
        "",
        f"The app runs `model.tflite` ({exported['format']}): test accuracy "
        f"{_pct(exported['test_accuracy'])}, macro-F1 {exported['test_macro_f1']:.3f}.",
        "",
        f"![per-class recall]({MEMBERS_PNG})",
        "",
        f"![confusion matrix]({CONFUSION_PNG})",
        "",
        f"Machine: {report['machine']}.",
        "",
    ]
    return "\n".join(lines)


def write_ensemble_report(report: dict, folder: Path) -> None:
    folder = Path(folder)
    (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (folder / "report.md").write_text(ensemble_markdown(report), encoding="utf-8")
    plot_confusion(
        report["test"]["confusion_matrix"],
        report["data"]["emotions"],
        f"ensemble on {report['data']['test_usage']}",
        folder / CONFUSION_PNG,
    )
    plot_member_recall(report, folder / MEMBERS_PNG)
