"""The bar under the video for files and folders: play/pause, step, seek, loop, and what is on screen.

Image folders: previous/next image, a slideshow interval, "3 of 7" and the file name. Video files: play/pause,
a frame back or on, a seek bar with the time. The window carries the requests out; live sources have no bar.
"""

from __future__ import annotations

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

from ferdesk.gui.views import clock
from ferdesk.sources import FramePlace

# The slideshow's choices: each image's seconds on screen; None holds it until the user moves on.
SLIDESHOW = {"Hold each image": None, "1 s each": 1.0, "2 s each": 2.0, "5 s each": 5.0, "10 s each": 10.0}


class PlaybackBar(QWidget):
    step = pyqtSignal(int)  # -1 back, +1 on: an image of a folder, a frame of a video
    seek = pyqtSignal(int)  # go to this image or frame
    play_toggled = pyqtSignal(bool)  # True: play
    options_changed = pyqtSignal(bool, object)  # loop, seconds per image (None: hold)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.kind = ""  # "images", "video" or "" (hidden)
        self.play_button = QPushButton("❚❚ Pause")
        self.play_button.setCheckable(True)
        self.play_button.setChecked(True)
        self.play_button.toggled.connect(self._play_clicked)
        self.previous_button = QPushButton("◀ Previous")
        self.previous_button.clicked.connect(lambda: self.step.emit(-1))
        self.next_button = QPushButton("Next ▶")
        self.next_button.clicked.connect(lambda: self.step.emit(1))
        self.slider = QSlider(Qt.Horizontal)
        self.slider.sliderReleased.connect(lambda: self.seek.emit(self.slider.value()))
        self.position_label = QLabel()
        self.slideshow = QComboBox()
        self.slideshow.addItems(list(SLIDESHOW))
        self.slideshow.setToolTip("Hold each image until you move on, or go through the folder on a timer")
        self.slideshow.currentTextChanged.connect(self._emit_options)
        self.loop = QCheckBox("Loop")
        self.loop.setToolTip("After the end, start again from the beginning")
        self.loop.toggled.connect(self._emit_options)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        for widget in (self.play_button, self.previous_button, self.next_button):
            layout.addWidget(widget)
        layout.addWidget(self.slider, 2)
        layout.addWidget(self.position_label, 1)
        layout.addWidget(self.slideshow)
        layout.addWidget(self.loop)
        self.hide()

    @property
    def interval(self) -> float | None:
        return SLIDESHOW[self.slideshow.currentText()]

    def _emit_options(self, *_) -> None:
        self.options_changed.emit(self.loop.isChecked(), self.interval)

    def _play_clicked(self, playing: bool) -> None:
        self.play_button.setText("❚❚ Pause" if playing else "▶ Play")
        self.play_toggled.emit(playing)

    def set_playing(self, playing: bool) -> None:
        """Follow the window's pause state without asking for it again."""
        self.play_button.blockSignals(True)
        self.play_button.setChecked(playing)
        self.play_button.setText("❚❚ Pause" if playing else "▶ Play")
        self.play_button.blockSignals(False)

    def show_place(self, place: FramePlace, name: str = "") -> None:
        """Show where the frame on screen lies; hidden for a single image and for live sources."""
        kind = (
            "images"
            if place.file is not None and place.count > 1
            else "video"
            if place.fps > 0 and place.count > 1
            else ""
        )
        if kind != self.kind:
            self.kind = kind
            self.setVisible(bool(kind))
            video = kind == "video"
            self.play_button.setVisible(video)
            self.slideshow.setVisible(not video)
            self.previous_button.setText("◀ Frame" if video else "◀ Previous")
            self.next_button.setText("Frame ▶" if video else "Next ▶")
            self.previous_button.setToolTip("A frame back (Left arrow)" if video else "Previous image (Left arrow)")
            self.next_button.setToolTip("A frame on (Right arrow)" if video else "Next image (Right arrow)")
        if not kind:
            return
        self.slider.setRange(0, place.count - 1)
        if not self.slider.isSliderDown():
            self.slider.setValue(max(0, place.index))
        if kind == "images":
            self.position_label.setText(f"{place.file.name} — {place.index + 1} of {place.count}")
        else:
            self.position_label.setText(
                f"{name} — {clock(max(0, place.index) / place.fps)} / {clock(place.count / place.fps)}"
            )
        at_start, at_end = place.index <= 0, place.index >= place.count - 1
        self.previous_button.setEnabled(not at_start or (self.loop.isChecked() and kind == "images"))
        self.next_button.setEnabled(not at_end or (self.loop.isChecked() and kind == "images"))
