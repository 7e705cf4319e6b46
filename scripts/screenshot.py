"""Screenshots for the README and docs, of the real app on the demo source: run under Xvfb,

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python scripts/screenshot.py [OUT_DIR] [--only NAME ...]

OUT_DIR defaults to docs/images. Each window is rendered with QWidget.grab(), so it works offscreen too. Settings
and user models go to a throw-away folder: the first-run hint is off, and no model of this machine's user shows.
Writes, at most 1000 px wide:
  main-window.png          the window on the demo with the shipped default model
  session-summary.png      View > Session summary after about 12 s of the demo
  retrain-teacher.png      Model > Retrain… with "Also learn from an existing model" ticked
  teach-my-face.png        Model > Teach it my face… on its review page, after a short capture of each emotion
  overlay-close-faces.png  the overlay on six demo faces close together, the largest one followed
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

# Before ferdesk is imported: user models go to a folder of this run's own (ferdesk.paths reads this once).
SCRATCH = Path(tempfile.mkdtemp(prefix="ferdesk-screenshots-"))
os.environ["FERDESK_USER_MODELS"] = str(SCRATCH / "models")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import ferdesk.gui  # noqa: E402,F401  (before Qt starts)
from PyQt5.QtCore import QEventLoop, QPoint, QSettings, Qt, QTimer  # noqa: E402
from PyQt5.QtGui import QImage  # noqa: E402
from PyQt5.QtTest import QTest  # noqa: E402
from PyQt5.QtWidgets import QApplication, QWidget  # noqa: E402

from ferdesk.gui import sources_control  # noqa: E402
from ferdesk.gui.main_window import MainWindow  # noqa: E402
from ferdesk.overlay import draw_overlay  # noqa: E402
from ferdesk.pipeline import DEFAULT_MODEL, EmotionPipeline  # noqa: E402
from ferdesk.sources import DemoSource, demo_faces  # noqa: E402

MAX_WIDTH = 1000
SHOTS = ("main-window", "session-summary", "retrain-teacher", "teach-my-face", "overlay-close-faces")
CLOSE_FACES = ["fer_angry", "fer_happy", "fer_sad", "fer_surprise", "fer_fear", "fer_neutral"]
TEACH = ["happy", "surprise", "sad", "angry", "neutral", "fear", "disgust"]  # the default model's emotions

FER2013 = Path("../shared/data/fer2013.csv.gz")  # where the docs say to put the dataset, beside the repository

# The app's demo has these defaults too, so it shows the same faces at the same times.
DEMO = DemoSource()
DEMO.open()


# ---------------------------------------------------------------- helpers
def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec_()


def wait_until(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout_s:.0f} s waiting for {what}")
        wait(50)


def save_png(image: np.ndarray, path: Path) -> None:
    """BGR(A) image to a PNG at most MAX_WIDTH wide, compressed hard (the docs carry them)."""
    taken = f"{image.shape[1]}x{image.shape[0]}"
    if image.shape[1] > MAX_WIDTH:
        height = round(image.shape[0] * MAX_WIDTH / image.shape[1])
        image = cv2.resize(image, (MAX_WIDTH, height), interpolation=cv2.INTER_AREA)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"could not write {path}")
    print(f"saved {path} ({taken} taken, {image.shape[1]}x{image.shape[0]} saved, {path.stat().st_size // 1024} KiB)")


def save_widget(widget: QWidget, path: Path) -> None:
    """The widget as it renders itself (no window frame), which works on any platform plugin."""
    image = widget.grab().toImage().convertToFormat(QImage.Format_RGB888)
    pixels = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint8)
    rgb = pixels.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3].reshape(
        image.height(), image.width(), 3
    )
    save_png(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), path)


def demo_face(result, emotion: str):
    """The face in `result` that is the demo's FER face of `emotion`, and the seconds until its slot changes face."""
    index, seconds = DEMO.find_face([face.box for face in result.faces], f"fer_{emotion}", result.timestamp)
    return (None, 0.0) if index is None else (result.faces[index], seconds)


def click_face(window: MainWindow, face) -> None:
    """A user's click on the face in the video: the side panel follows it."""
    rect = window.video.target_rect()
    scale = rect.width() / window.video.image.width()
    at = QPoint(
        int(rect.x() + (face.box.x + face.box.w / 2) * scale), int(rect.y() + (face.box.y + face.box.h / 2) * scale)
    )
    QTest.mouseClick(window.video, Qt.LeftButton, Qt.NoModifier, at)


# ---------------------------------------------------------------- the shots
def shoot_app(out: Path, only: set[str]) -> None:
    settings = QSettings(str(SCRATCH / "settings.ini"), QSettings.IniFormat)
    settings.setValue("onboarding/hint_shown", True)
    sources_control.list_cameras = lambda: []  # the demo, as on a machine without a camera, whatever this one has
    window = MainWindow(settings=settings, source="demo", model=str(DEFAULT_MODEL))
    window.resize(1180, 700)
    window.show()
    try:
        wait_until(lambda: window.last_result is not None and len(window.last_result.faces) >= 2, 60, "faces")
        wait_until(lambda: window.last_result.timestamp > 9, 60, "9 s of the demo")
        if "main-window" in only:
            save_widget(window, out / "main-window.png")
        if "session-summary" in only:
            wait_until(lambda: window.last_result.timestamp > 12, 60, "12 s of the demo")
            window.summary_action.trigger()
            dialog = window.summary_dialog
            dialog.resize(1180, 720)  # room for more of the table's columns
            wait(300)
            dialog.refresh(fit=True)
            wait(300)
            save_widget(dialog, out / "session-summary.png")
            dialog.close()
        if "retrain-teacher" in only:
            window.retrain_action.trigger()
            dialog = window.retrain_dialog
            if FER2013.is_file():  # as a user who has the dataset would fill it in: the advice counts its faces
                dialog.data_edit.setText(str(FER2013))
            dialog.teacher.setChecked(True)  # fills the teacher list, the model in use first
            dialog.update_advice()
            wait(300)
            save_widget(dialog, out / "retrain-teacher.png")
            dialog.close()
        if "teach-my-face" in only:
            shoot_teach(window, out / "teach-my-face.png")
    finally:
        window.close()
        wait(200)


def shoot_teach(window: MainWindow, path: Path) -> None:
    """Capture each emotion from the demo face that shows it (clicked, so the side panel follows it), as
    tests/ferdesk/gui/test_personalise_dialog.py does, then the review page."""
    window.personalise_action.trigger()
    dialog = window.personalise_dialog
    dialog.count_step_s, dialog.collect_s = 0.2, 1.2  # a 3-2-1 of 0.6 s, then 1.2 s of pictures
    wanted = {"emotion": None}

    def follow() -> None:
        result = window.last_result
        if wanted["emotion"] is None or result is None or window.video.image is None:
            return
        face, _ = demo_face(result, wanted["emotion"])
        if face is not None and window.selected_track != face.track_id:
            click_face(window, face)

    def following(emotion: str) -> bool:
        face, _ = demo_face(window.last_result, emotion)
        return face is not None and face.track_id == window.selected_track

    user = QTimer(interval=30)
    user.timeout.connect(follow)
    user.start()
    try:
        for emotion in TEACH:
            if dialog.pages.currentWidget() is not dialog.setup_page:
                dialog.show_setup()
            for name, box in dialog.emotion_boxes.items():
                box.setChecked(name == emotion)
            wanted["emotion"] = emotion
            wait_until(lambda e=emotion: demo_face(window.last_result, e)[1] > 2.5, 60, f"the demo's {emotion} face")
            wait_until(lambda e=emotion: following(e), 5, f"the side panel following the {emotion} face")
            QTest.mouseClick(dialog.start_button, Qt.LeftButton)
            wait_until(lambda: dialog.pages.currentWidget() is dialog.review_page, 15, f"the {emotion} capture")
    finally:
        user.stop()
    dialog.resize(760, 780)
    wait(300)
    save_widget(dialog, path)
    dialog.close()


def shoot_overlay(path: Path) -> None:
    """Six demo faces in a tight grid, detected and classified by the real pipeline with the shipped model."""
    faces = dict(demo_faces())
    width, height, side, gap, cols = 1280, 720, 200, 20, 3
    rows = -(-len(CLOSE_FACES) // cols)
    frame = np.full((height, width, 3), 120, np.uint8)
    left, top = (width - cols * side - (cols - 1) * gap) // 2, (height - rows * side - (rows - 1) * gap) // 2
    for k, name in enumerate(CLOSE_FACES):
        r, c = divmod(k, cols)
        x, y = left + c * (side + gap), top + r * (side + gap)
        frame[y : y + side, x : x + side] = cv2.resize(faces[name], (side, side), interpolation=cv2.INTER_AREA)
    with EmotionPipeline(DEFAULT_MODEL) as pipeline:
        result = pipeline.process(frame, 0.0, annotate=False)
    if len(result.faces) != len(CLOSE_FACES):
        raise RuntimeError(f"found {len(result.faces)} of the {len(CLOSE_FACES)} faces")
    followed = max(result.faces, key=lambda f: f.box.w * f.box.h).track_id  # the side panel's default
    save_png(draw_overlay(result.frame, result.faces, result.labels, followed=followed), path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="docs/images", type=Path)
    parser.add_argument("--only", nargs="+", choices=SHOTS, default=list(SHOTS))
    args = parser.parse_args()
    # QSettings() (the app's default, used by some dialogs) reads and writes the throw-away folder too.
    for fmt in (QSettings.NativeFormat, QSettings.IniFormat):
        for scope in (QSettings.UserScope, QSettings.SystemScope):
            QSettings.setPath(fmt, scope, str(SCRATCH / "qt-settings"))
    app = QApplication(sys.argv[:1])
    only = set(args.only)
    try:
        if only - {"overlay-close-faces"}:
            shoot_app(args.out, only)
        if "overlay-close-faces" in only:
            shoot_overlay(args.out / "overlay-close-faces.png")
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)
    app.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
