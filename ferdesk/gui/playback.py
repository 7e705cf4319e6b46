"""The bar under the video for image folders (and files): previous/next, slideshow, loop, which image is shown."""

from __future__ import annotations

from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QWidget

from ferdesk.sources import FramePlace

# The slideshow's choices: each image's seconds on screen; None holds it until the user moves on.
SLIDESHOW = {"Hold each image": None, "1 s each": 1.0, "2 s each": 2.0, "5 s each": 5.0, "10 s each": 10.0}


class PlaybackBar(QWidget):
    """Says which image of the folder is on screen and moves through the folder; the window carries it out."""

    step = pyqtSignal(int)  # -1 previous, +1 next
    options_changed = pyqtSignal(bool, object)  # loop, seconds per image (None: hold)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.previous_button = QPushButton("◀ Previous")
        self.previous_button.setToolTip("Previous image (Left arrow)")
        self.previous_button.clicked.connect(lambda: self.step.emit(-1))
        self.next_button = QPushButton("Next ▶")
        self.next_button.setToolTip("Next image (Right arrow)")
        self.next_button.clicked.connect(lambda: self.step.emit(1))
        self.position_label = QLabel()
        self.slideshow = QComboBox()
        self.slideshow.addItems(list(SLIDESHOW))
        self.slideshow.setToolTip("Hold each image until you move on, or go through the folder on a timer")
        self.slideshow.currentTextChanged.connect(self._emit_options)
        self.loop = QCheckBox("Loop")
        self.loop.setToolTip("After the last image, go round to the first")
        self.loop.toggled.connect(self._emit_options)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(self.previous_button)
        layout.addWidget(self.next_button)
        layout.addWidget(self.position_label, 1)
        layout.addWidget(self.slideshow)
        layout.addWidget(self.loop)
        self.hide()

    @property
    def interval(self) -> float | None:
        return SLIDESHOW[self.slideshow.currentText()]

    def _emit_options(self, *_) -> None:
        self.options_changed.emit(self.loop.isChecked(), self.interval)

    def show_place(self, place: FramePlace) -> None:
        """Show where the frame on screen lies; hidden for sources that are not image folders."""
        folder = place.file is not None and place.count > 1
        self.setVisible(folder)
        if not folder:
            return
        self.position_label.setText(f"{place.file.name} — {place.index + 1} of {place.count}")
        at_start, at_end = place.index <= 0, place.index >= place.count - 1
        self.previous_button.setEnabled(not at_start or self.loop.isChecked())
        self.next_button.setEnabled(not at_end or self.loop.isChecked())
