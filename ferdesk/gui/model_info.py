"""Model > Model card and report: the card's facts, the training report's tables and its plots."""

from __future__ import annotations

import json

from PyQt5.QtGui import QPixmap
from PyQt5.QtWidgets import QDialog, QDialogButtonBox, QLabel, QScrollArea, QTabWidget, QTextBrowser, QVBoxLayout

from ferdesk.model_card import CARD_FILE, ModelCard

PLOTS = ("confusion_matrix.png", "fold_accuracy.png", "learning_curves.png", "member_recall.png")  # member_recall: ensembles


class ModelInfoDialog(QDialog):
    def __init__(self, card: ModelCard, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Model: {card.name}")
        self.resize(820, 640)
        tabs = QTabWidget()
        card_view = QTextBrowser()
        card_view.setPlainText(json.dumps(json.loads((card.folder / CARD_FILE).read_text(encoding="utf-8")), indent=2))
        tabs.addTab(card_view, "Card")
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
        self.tabs = tabs
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(buttons)
