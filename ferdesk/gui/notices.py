"""The window's bars that say how things stand: problems with a model or a source (AlertBar), a source that stopped
or ended (SourceBanner), a lighter model where classifying is slow (SpeedTip), and a training run that goes on with
its dialog closed (TrainingIndicator)."""

from __future__ import annotations

import logging

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

log = logging.getLogger(__name__)


class AlertBar(QWidget):
    """Problems of each kind ("model", "source"), said over the video until they no longer hold; each new text is
    also logged (the `ferdesk` command sends it to stderr). The source's problem may come with a button (a way on)."""

    KINDS = ("model", "source")  # shown in this order

    def __init__(self, parent=None):
        super().__init__(parent)
        self.alerts: dict[str, str] = {}
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.action = QPushButton()
        self.action.hide()
        self.dismiss = QPushButton("Dismiss")
        self.dismiss.clicked.connect(self.hide)
        self.setStyleSheet("QWidget#alert { background: #fff3cd; } QLabel { color: #4d3800; }")
        self.setObjectName("alert")
        self.setAttribute(Qt.WA_StyledBackground, True)
        layout = QHBoxLayout(self)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action)
        layout.addWidget(self.dismiss)
        self.hide()

    def say(self, kind: str, text: str | None, action: tuple[str, object] | None = None) -> None:
        """Show (or with None, clear) the problem of one kind; `action`: the source's button (text, slot)."""
        if text is None:
            self.alerts.pop(kind, None)
        elif self.alerts.get(kind) != text:
            before = self.alerts.get(kind, "")
            self.alerts[kind] = text
            added = text[len(before) :].strip() if before and text.startswith(before) else text  # only what is new
            log.warning("%s", added)
        if kind == "source":
            try:
                self.action.clicked.disconnect()
            except TypeError:  # nothing connected
                pass
            self.action.setVisible(action is not None)
            if action is not None:
                self.action.setText(action[0])
                self.action.clicked.connect(action[1])
        self.label.setText("\n".join(self.alerts[k] for k in self.KINDS if k in self.alerts))
        self.setVisible(bool(self.alerts))


class SourceBanner(QWidget):
    """Under the side panel: the source stopped delivering frames or ended, with Reconnect and Switch to demo."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.reconnect_button = QPushButton("Reconnect")
        self.demo_button = QPushButton("Switch to demo")
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        buttons = QHBoxLayout()
        buttons.addWidget(self.reconnect_button)
        buttons.addWidget(self.demo_button)
        layout.addLayout(buttons)
        self.hide()

    def say(self, text: str | None) -> None:
        """Show the text; None hides the banner."""
        if text is not None:
            self.label.setText(text)
        self.setVisible(text is not None)


class SpeedTip(QWidget):
    """Over the video: the model in use is slow on this CPU and a lighter one ships, with a button to switch."""

    switch_requested = pyqtSignal(object)  # the lighter model's folder
    turned_off = pyqtSignal()  # "Don't suggest again"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.folder = None
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.switch_button = QPushButton()
        self.switch_button.clicked.connect(self._switch)
        self.not_now_button = QPushButton("Not now")
        self.not_now_button.clicked.connect(self.hide)
        self.off_button = QPushButton("Don't suggest again")
        self.off_button.clicked.connect(self.turned_off.emit)
        self.setStyleSheet("QWidget#tip { background: #e7f1ff; } QLabel { color: #0b3d75; }")
        self.setObjectName("tip")
        self.setAttribute(Qt.WA_StyledBackground, True)
        layout = QHBoxLayout(self)
        layout.addWidget(self.label, 1)
        for button in (self.switch_button, self.not_now_button, self.off_button):
            layout.addWidget(button)
        self.hide()

    def say(self, tip: tuple[str, object, str] | None) -> None:
        """Show (text, folder and name of the lighter model); None hides the tip."""
        if tip is None:
            self.hide()
            return
        text, self.folder, name = tip
        self.label.setText(text)
        self.switch_button.setText(f"Use {name}")
        self.show()

    def _switch(self) -> None:
        self.hide()  # asked once; a model that fails to load is reported in the alert bar
        self.switch_requested.emit(self.folder)


class TrainingIndicator(QWidget):
    """In the status bar: a training run's progress while its dialog is closed; a click brings the dialog back."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.button = QPushButton()
        self.button.setFlat(True)
        self.button.setToolTip("Show the Retrain dialog")
        self.bar = QProgressBar(maximumWidth=120, maximumHeight=14, textVisible=False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.button)
        layout.addWidget(self.bar)
        self.hide()

    def show_progress(self, text: str, fraction: float, running: bool) -> None:
        """`fraction` below 0: busy, before the first fit starts. After the run, its outcome and "show"."""
        self.button.setText(f"⏳ {text}" if running else f"{text} — show")
        self.bar.setRange(0, 0 if fraction < 0 else 1000)
        self.bar.setValue(max(0, int(fraction * 1000)))
        self.bar.setVisible(running)
