"""Helpers the GUI tests share: real pictures, the shipped study model, waiting for frames, canned dialogs."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
from matplotlib import cbook
from PyQt5.QtCore import QPoint
from PyQt5.QtWidgets import QFileDialog

from ferdesk.paths import MODELS_DIR
from ferdesk.sources import DemoSource

GRACE_HOPPER = str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
STUDY_MODEL = MODELS_DIR / "study-sad-surprise"  # shipped, two emotions, one network (about 4 ms a face on AVX2)


def damaged_model(tmp_path, name="damaged") -> Path:
    """A copy of a shipped model folder whose model.tflite is cut short, as by an interrupted copy."""
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(STUDY_MODEL / "card.json", folder)
    data = (STUDY_MODEL / "model.tflite").read_bytes()
    (folder / "model.tflite").write_bytes(data[: len(data) // 3])
    return folder


def wait_for_frames(qtbot, win, count=3):
    start = win.last_result.index if win.last_result is not None else -1
    qtbot.waitUntil(lambda: win.last_result is not None and win.last_result.index > start + count, timeout=30000)


def patch_dialog(monkeypatch, name, value):
    monkeypatch.setattr(QFileDialog, name, staticmethod(lambda *a, **k: value))


def configure_retrain(dialog, data, name, epochs):
    dialog.data_edit.setText(str(data))
    for emotion, box in dialog.emotion_boxes.items():
        box.setChecked(emotion in ("sad", "surprise"))
    for model, box in dialog.model_boxes.items():
        box.setChecked(model == "cnn_small")
    dialog.folds.setValue(2)
    dialog.epochs.setValue(epochs)
    dialog.name_edit.setText(name)


def demo_photos(folder, times):
    """Frames of the demo at the given seconds, as PNG files: real faces, different ones at each time."""
    folder.mkdir()
    demo = DemoSource()
    demo.open()
    paths = []
    for k, t in enumerate(times):
        paths.append(folder / f"photo-{k + 1}.png")
        cv2.imwrite(str(paths[-1]), demo.frame_at(t))
    return paths


def on_screen(win, face) -> QPoint:
    """Where a face's centre is in the video widget."""
    rect = win.video.target_rect()
    scale = rect.width() / win.video.image.width()
    return QPoint(
        int(rect.x() + (face.box.x + face.box.w / 2) * scale), int(rect.y() + (face.box.y + face.box.h / 2) * scale)
    )
