"""Model > Model card and report: the card's facts in words, the training report's tables and its plots."""

from __future__ import annotations

import json
from html import escape

from PyQt5.QtGui import QPixmap
from PyQt5.QtWidgets import QDialog, QDialogButtonBox, QLabel, QScrollArea, QTabWidget, QTextBrowser, QVBoxLayout

from ferdesk.model_card import CARD_FILE, ModelCard

PLOTS = (
    "confusion_matrix.png",
    "fold_accuracy.png",
    "learning_curves.png",
    "member_recall.png",
)  # member_recall: ensembles
# The card's keys in words; keys not named here are shown with their own name.
WORDS = {
    "test_accuracy": "Accuracy on the test faces",
    "test_macro_f1": "Macro F1 on the test faces",
    "cv_accuracy_mean": "Cross-validation accuracy",
    "cv_macro_f1_mean": "Cross-validation macro F1",
    "test_split": "Test faces",
    "folds": "Cross-validation folds",
    "repeats": "Cross-validation repeats",
    "test_accuracy_tflite": "Accuracy of the app's (TFLite) model",
    "test_macro_f1_tflite": "Macro F1 of the app's model",
    "source_name": "Dataset",
    "sha256": "Dataset checksum (SHA-256)",
    "train_size": "Training faces",
    "test_size": "Test faces",
    "command": "Command",
    "created": "Trained on",
    "machine": "Machine",
    "max_epochs": "Most epochs allowed",
    "final_epochs": "Epochs of the final fit",
    "seed": "Random seed",
    "parameters": "Parameters",
    "multiply_adds": "Multiply-adds per face",
    "wall_seconds": "Training time",
    "tflite": "App model format",
    "flip_average": "Averages each face with its mirror image",
    "members": "Networks averaged (ensemble)",
    "started_from": "Fine-tuned from",
    "distillation": "Learned from teachers",
    "data_sha256": "Dataset checksum",
    "scored_on": "Scored on",
    "name": "Name",
    "architecture": "Network",
}


def _words(key: str) -> str:
    return WORDS.get(key, key.replace("_", " ").capitalize())


def _value(key: str, value) -> str:
    """One value as a person reads it: rates as percentages, times in minutes, nested records as lists."""
    if isinstance(value, dict):
        return "<ul>" + "".join(f"<li>{escape(_words(k))}: {_value(k, v)}</li>" for k, v in value.items()) + "</ul>"
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return escape(", ".join(str(v) for v in value))
        return "<ol>" + "".join(f"<li>{_value(key, v)}</li>" for v in value) + "</ol>"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and ("accuracy" in key or "f1" in key or key.endswith("_std")):
        return f"{value:.1%}"
    if key == "wall_seconds" and isinstance(value, (int, float)):
        return f"{value / 60:.0f} min" if value >= 90 else f"{value:.0f} s"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1000 and key != "seed":
        return f"{value:,}"
    if key == "command":
        return f"<code>{escape(str(value))}</code>"
    return escape(str(value))


def card_html(card: dict) -> str:
    """The card as a page: what the model tells apart, how well, from what data and how it was trained."""
    metrics, data, training = card.get("metrics", {}), card.get("data", {}), card.get("training", {})
    rows = [("Emotions", ", ".join(card.get("labels", []))), ("Network", card.get("architecture", "?"))]
    if "test_accuracy" in metrics:
        chance = 1 / max(1, len(card.get("labels", [])))
        rows.append(
            ("Accuracy on the test faces", f"{metrics['test_accuracy']:.1%} (guessing would give {chance:.0%})")
        )
    if metrics.get("cv_accuracy_mean") is not None:
        rows.append(
            (
                "Cross-validation accuracy",
                f"{metrics['cv_accuracy_mean']:.1%} ± {metrics.get('cv_accuracy_std') or 0:.1%}",
            )
        )
    recall = metrics.get("test_per_class_recall")
    parts = [f"<h2>{escape(str(card.get('name', 'Model')))}</h2>", "<table cellpadding='3'>"]
    parts += [f"<tr><td><b>{escape(k)}</b></td><td>{escape(v)}</td></tr>" for k, v in rows]
    parts.append("</table>")
    if isinstance(recall, dict):
        parts.append("<h3>Faces of each emotion recognised (test recall)</h3><table cellpadding='3'>")
        parts += [f"<tr><td>{escape(k)}</td><td>{v:.1%}</td></tr>" for k, v in recall.items()]
        parts.append("</table>")
    shown = {"test_accuracy", "cv_accuracy_mean", "cv_accuracy_std", "test_per_class_recall"}
    for title, section in (("Accuracy", metrics), ("Data", data), ("Training", training)):
        items = [(k, v) for k, v in section.items() if k not in shown]
        if items:
            parts.append(f"<h3>{title}</h3><ul>")
            parts += [f"<li><b>{escape(_words(k))}</b>: {_value(k, v)}</li>" for k, v in items]
            parts.append("</ul>")
    return "\n".join(parts)


class ModelInfoDialog(QDialog):
    def __init__(self, card: ModelCard, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Model: {card.name}")
        self.resize(820, 640)
        tabs = QTabWidget()
        raw = json.loads((card.folder / CARD_FILE).read_text(encoding="utf-8"))
        self.card_view = QTextBrowser()
        self.card_view.setHtml(card_html(raw))
        tabs.addTab(self.card_view, "Card")
        report = card.folder / "report.md"
        if report.is_file():
            report_view = QTextBrowser()
            report_view.setSearchPaths([str(card.folder)])
            report_view.setMarkdown(report.read_text(encoding="utf-8"))
            tabs.addTab(report_view, "Report")
        for name in PLOTS:
            pixmap = QPixmap(str(card.folder / name))
            if not pixmap.isNull():
                label = QLabel()
                label.setPixmap(pixmap)
                scroll = QScrollArea()
                scroll.setWidget(label)
                tabs.addTab(scroll, name.removesuffix(".png").replace("_", " "))
        json_view = QTextBrowser()
        json_view.setPlainText(json.dumps(raw, indent=2))  # for those who want every field as written
        tabs.addTab(json_view, "card.json")
        self.tabs = tabs
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(buttons)
