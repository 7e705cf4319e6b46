"""Help for a new user: the hint shown in the window on the first launch, and Help > User guide (docs/user-guide.md)."""

from __future__ import annotations

from pathlib import Path

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

FIRST_RUN_TEXT = (
    "<b>Welcome to ferdesk.</b> Every face found gets a box and a number. <b>Click a face</b> to follow it: the "
    "panel on the right then shows that face's emotions. The <b>bars</b> are how likely each emotion is for the "
    "face, after a little smoothing over time; together they make 100%. <b>DEMO</b> in the top-left corner means "
    "you are watching the built-in demo faces, not a camera: choose a camera from the Source menu or open a video or "
    "photos from the File menu. More in Help &gt; User guide."
)


class FirstRunHint(QWidget):
    """A dismissable note at the top of the window; `guide_requested` when its User guide button is pressed."""

    guide_requested = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("hint")
        self.setAttribute(Qt.WA_StyledBackground, True)
        self.setStyleSheet("QWidget#hint { background: #e3f0fb; } QLabel { color: #10324d; }")
        self.text = QLabel(FIRST_RUN_TEXT)
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.RichText)
        self.guide_button = QPushButton("User guide")
        self.guide_button.clicked.connect(self.guide_requested)
        self.dismiss_button = QPushButton("Got it")
        self.dismiss_button.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.guide_button)
        layout.addWidget(self.dismiss_button)


class UserGuideDialog(QDialog):
    """The user guide (Markdown), rendered; links to web pages open in the browser."""

    def __init__(self, path: Path, parent=None):
        super().__init__(parent)
        self.setWindowTitle("ferdesk user guide")
        self.resize(760, 680)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        try:
            self.browser.setMarkdown(path.read_text(encoding="utf-8"))
        except OSError as exc:  # a broken install: say where the guide should be, the app goes on
            self.browser.setPlainText(f"The user guide could not be read ({exc}). It should be at {path}.")
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
