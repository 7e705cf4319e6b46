"""Source > Camera settings…: which camera, at what resolution and frame rate (remembered in QSettings).

Cameras take these as requests: one that cannot deliver them picks the nearest it can, and the status bar shows
the frame rate it really gives.
"""

from __future__ import annotations

from PyQt5.QtCore import QSettings
from PyQt5.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout

RESOLUTIONS = {"Camera default": None, "640 x 480": (640, 480), "1280 x 720": (1280, 720), "1920 x 1080": (1920, 1080)}
FRAME_RATES = {"Camera default": None, "15 frames/s": 15, "30 frames/s": 30, "60 frames/s": 60}


def camera_options(settings: QSettings) -> dict:
    """The remembered requests as CameraSource keywords (width, height, fps); empty for the camera's defaults."""
    options: dict = {}
    size = RESOLUTIONS.get(str(settings.value("camera/resolution", "Camera default")))
    if size:
        options["width"], options["height"] = size
    fps = FRAME_RATES.get(str(settings.value("camera/frame_rate", "Camera default")))
    if fps:
        options["fps"] = fps
    return options


class CameraSettingsDialog(QDialog):
    """Pick a camera and what to ask of it; on OK the choices are saved and `chosen_camera` names the device."""

    def __init__(self, cameras: list[int], current: int | None, settings: QSettings, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Camera settings")
        self.settings = settings
        self.device = QComboBox()
        for index in cameras:
            self.device.addItem(f"Camera {index}", index)
        if current is not None and current in cameras:
            self.device.setCurrentIndex(cameras.index(current))
        self.resolution = QComboBox()
        self.resolution.addItems(list(RESOLUTIONS))
        self.resolution.setCurrentText(str(settings.value("camera/resolution", "Camera default")))
        self.frame_rate = QComboBox()
        self.frame_rate.addItems(list(FRAME_RATES))
        self.frame_rate.setCurrentText(str(settings.value("camera/frame_rate", "Camera default")))
        form = QFormLayout()
        form.addRow("Camera", self.device)
        form.addRow("Resolution", self.resolution)
        form.addRow("Frame rate", self.frame_rate)
        self.note = note = QLabel(
            "A camera that cannot give what is asked picks the nearest it can; the status bar shows the "
            "frames per second it really delivers. Higher resolutions cost more CPU for the face "
            "detector's scan of small faces."
        )
        note.setWordWrap(True)
        if not cameras:
            note.setText("No camera found. Plug one in: the choices below are kept for when it is.")
            self.device.setEnabled(False)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    @property
    def chosen_camera(self) -> int | None:
        return self.device.currentData()

    def accept(self) -> None:
        self.settings.setValue("camera/resolution", self.resolution.currentText())
        self.settings.setValue("camera/frame_rate", self.frame_rate.currentText())
        super().accept()
