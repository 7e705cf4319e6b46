"""Model > Teach it my face…: a guided capture of the user's own expressions, a review, and a fine-tune on them.

The main window hands every analysed frame's followed face to `offer`; the dialog keeps crops of it while it asks
for an emotion. Samples live in memory (ferdesk.personalise.SampleSet, shared with the video's right-click
"This is actually …"). A fine-tune writes them to a private temporary folder for the trainer's process, which is
removed as soon as the run ends; the new model waits in a hidden temporary folder until the user chooses to use it.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from html import escape
from pathlib import Path

import numpy as np
from PyQt5.QtCore import QProcess, QSize, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QFont, QIcon, QImage, QPixmap
from PyQt5.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ferdesk import paths
from ferdesk import personalise as own
from ferdesk.gui.retrain import FINE_TUNE_LEARNING_RATE
from ferdesk.gui.trainer_process import (
    end_trainer,
    offer_model,
    start_trainer,
    stop_trainer,
    trainer_lines,
    trainer_log,
    trainer_process,
)
from ferdesk.gui.views import clock
from ferdesk.labels import EMOTIONS
from ferdesk.model_card import ModelCard
from ferdesk.progress_events import Epoch, FitDone, FitStarted, Message
from ferdesk.run_report import RunReport

THUMB = 64  # pixels of a sample's thumbnail
PREVIEW = 144  # pixels of the live preview of the face being collected
DEFAULT_EPOCHS = 15


def face_pixmap(face: np.ndarray, side: int) -> QPixmap:
    face = np.ascontiguousarray(face)
    image = QImage(face.data, face.shape[1], face.shape[0], face.strides[0], QImage.Format_Grayscale8).copy()
    return QPixmap.fromImage(image).scaled(side, side, Qt.KeepAspectRatio, Qt.SmoothTransformation)


def thumbnail_list() -> QListWidget:
    """A row of face thumbnails that wraps."""
    view = QListWidget()
    view.setViewMode(QListView.IconMode)
    view.setIconSize(QSize(THUMB, THUMB))
    view.setMovement(QListView.Static)
    view.setResizeMode(QListView.Adjust)
    view.setSelectionMode(QAbstractItemView.NoSelection)
    view.setSpacing(2)
    return view


def ask_correction(parent: QWidget, labels: list[str], where) -> str | None:
    """The video's right-click menu on a face: "This is actually" → an emotion of the model; the one chosen."""
    menu = QMenu(parent)
    actually = menu.addMenu("This is actually")
    for label in labels:
        actually.addAction(label).setData(label)
    chosen = menu.exec_(where)
    return chosen.data() if chosen is not None and chosen.data() in labels else None


class PersonaliseDialog(QDialog):
    """Capture → review → fine-tune. Closing the dialog stops a capture; a fine-tune goes on and its result waits."""

    model_ready = pyqtSignal(str)  # folder of the fine-tuned model, once saved, when the user chooses to use it

    def __init__(
        self,
        samples: own.SampleSet,
        current_model: Callable[[], ModelCard | None],
        parent=None,
        output_root: Path | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Teach ferdesk your face")
        self.resize(720, 620)
        self.samples = samples
        self.current_model = current_model  # the model in use, asked for when needed (it may change)
        self.output_root = Path(output_root or paths.USER_MODELS_DIR)
        # Capture timing (a test shortens these): a count of count_from steps, then collect_s of collecting.
        self.count_from, self.count_step_s, self.collect_s, self.per_second = 3, 1.0, 3.0, 5.0
        self.queue: list[str] = []  # emotions still to ask for
        self.emotion: str | None = None  # the one asked for now
        self.phase = "idle"  # or "countdown", "collecting"
        self.count = 0
        self.last_taken = 0.0
        self.step_timer = QTimer(self, singleShot=True)
        self.step_timer.timeout.connect(self._step)
        self.discarded: list[own.Sample] = []
        # The fine-tune
        self.process: QProcess | None = None
        self.cancelled = False
        self.parts: own.Split | None = None
        self.before: list[tuple[str, float]] = []  # (what was scored, accuracy on the held-back faces)
        self.samples_dir: tempfile.TemporaryDirectory | None = None  # the faces, for the trainer; gone after
        self.model_dir: tempfile.TemporaryDirectory | None = None  # the new model, until used or dropped
        self.out_dir: Path | None = None
        self.used_folders: list[str] = []  # every temporary folder made (the test checks they are gone)
        self.started_at = 0.0
        self.stage = ""
        self.ticker = QTimer(self, interval=1000)
        self.ticker.timeout.connect(self._tick)

        self.pages = QStackedWidget()
        self.pages.addWidget(self._setup_page())
        self.pages.addWidget(self._capture_page())
        self.pages.addWidget(self._review_page())
        self.pages.addWidget(self._train_page())
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages, 1)
        layout.addWidget(buttons)

    # ---------------------------------------------------------------- pages
    def _setup_page(self) -> QWidget:
        self.setup_page = page = QWidget()
        intro = QLabel(
            "ferdesk asks you to show each emotion in turn, counts down, then takes pictures of your "
            "face for a few seconds (the face the side panel follows; else the largest in view). You "
            "review them, and ferdesk fine-tunes the model in use on them and says how well it reads "
            "your face before and after.\n\nThe pictures stay in memory: nothing is written to disk "
            "unless you save them or the new model."
        )
        intro.setWordWrap(True)
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self.emotion_row = QHBoxLayout()
        self.emotion_boxes: dict[str, QCheckBox] = {}
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start_capture)
        self.to_review_button = QPushButton()
        self.to_review_button.clicked.connect(self.show_review)
        self.setup_status = QLabel()
        self.setup_status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.start_button)
        row.addWidget(self.to_review_button)
        row.addStretch(1)
        layout = QVBoxLayout(page)
        layout.addWidget(intro)
        layout.addWidget(self.model_label)
        layout.addWidget(QLabel("Emotions to show:"))
        layout.addLayout(self.emotion_row)
        layout.addLayout(row)
        layout.addWidget(self.setup_status)
        layout.addStretch(1)
        return page

    def _capture_page(self) -> QWidget:
        self.capture_page = page = QWidget()
        big = QFont(self.font())
        big.setPointSize(22)
        big.setBold(True)
        self.prompt = QLabel(alignment=Qt.AlignCenter)
        self.prompt.setFont(big)
        self.countdown = QLabel(alignment=Qt.AlignCenter)
        self.countdown.setFont(big)
        self.preview = QLabel(alignment=Qt.AlignCenter)
        self.preview.setFixedSize(PREVIEW, PREVIEW)
        self.preview.setStyleSheet("QLabel { background: #202024; color: #ddd; }")
        self.strip = thumbnail_list()
        self.strip.setFlow(QListView.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setFixedHeight(THUMB + 24)
        self.strip.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        stop = QPushButton("Stop")
        stop.clicked.connect(self.stop_capture)
        layout = QVBoxLayout(page)
        layout.addWidget(self.prompt)
        layout.addWidget(self.countdown)
        layout.addWidget(self.preview, 0, Qt.AlignHCenter)
        layout.addWidget(QLabel("Taken for this emotion:"))
        layout.addWidget(self.strip)
        layout.addWidget(stop, 0, Qt.AlignLeft)
        layout.addStretch(1)
        return page

    def _review_page(self) -> QWidget:
        self.review_page = page = QWidget()
        hint = QLabel("Click a picture to discard it (blurred, not your face, or not the emotion).")
        hint.setWordWrap(True)
        self.groups_box = QWidget()
        self.groups = QVBoxLayout(self.groups_box)
        self.review_lists: dict[str, QListWidget] = {}
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.groups_box)
        self.readiness = QLabel()
        self.readiness.setWordWrap(True)
        self.epochs = QSpinBox(minimum=1, maximum=200, value=DEFAULT_EPOCHS)
        self.epochs.setToolTip("Passes over your training faces; early stopping may end sooner")
        self.more_button = QPushButton("Capture more")
        self.more_button.clicked.connect(self.show_setup)
        self.undo_button = QPushButton("Undo discard")
        self.undo_button.clicked.connect(self.undo_discard)
        self.save_button = QPushButton("Save samples…")
        self.save_button.clicked.connect(self.save_samples)
        self.fine_tune_button = QPushButton("Fine-tune")
        self.fine_tune_button.clicked.connect(self.fine_tune)
        epochs_row = QHBoxLayout()
        epochs_row.addWidget(QLabel("Epochs"))
        epochs_row.addWidget(self.epochs)
        epochs_row.addStretch(1)
        row = QHBoxLayout()
        for button in (self.more_button, self.undo_button, self.save_button):
            row.addWidget(button)
        row.addStretch(1)
        row.addWidget(self.fine_tune_button)
        layout = QVBoxLayout(page)
        layout.addWidget(hint)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.readiness)
        layout.addLayout(epochs_row)
        layout.addLayout(row)
        return page

    def _train_page(self) -> QWidget:
        self.train_page = page = QWidget()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.bar = QProgressBar(format="epoch %v/%m")
        self.result_label = QLabel(textFormat=Qt.RichText)
        self.result_label.setWordWrap(True)
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(2000)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.use_button = QPushButton("Use this model")
        self.use_button.clicked.connect(self.use_model)
        self.back_button = QPushButton("Back to the samples")
        self.back_button.clicked.connect(self.show_review)
        row = QHBoxLayout()
        row.addWidget(self.back_button)
        row.addWidget(self.cancel_button)
        row.addStretch(1)
        row.addWidget(self.use_button)
        layout = QVBoxLayout(page)
        layout.addWidget(self.status)
        layout.addWidget(self.bar)
        layout.addWidget(self.result_label)
        layout.addWidget(self.log, 1)
        layout.addLayout(row)
        return page

    # ---------------------------------------------------------------- setup
    def showEvent(self, event) -> None:
        if self.pages.currentWidget() is self.setup_page:
            self.show_setup()
        elif self.pages.currentWidget() is self.review_page:
            self.refresh()
        super().showEvent(event)

    def show_setup(self) -> None:
        """The emotions of the model in use, all ticked; what has been collected so far."""
        card = self.current_model()
        labels = list(card.labels) if card is not None else []
        if list(self.emotion_boxes) != labels:
            for box in self.emotion_boxes.values():
                self.emotion_row.removeWidget(box)
                box.deleteLater()
            self.emotion_boxes = {}
            for label in labels:
                self.emotion_boxes[label] = box = QCheckBox(label)
                box.setChecked(True)
                self.emotion_row.addWidget(box)
        self.model_label.setText(self._model_words(card))
        self.start_button.setEnabled(card is not None)
        self.to_review_button.setText(f"Review samples ({len(self.samples)})")
        self.to_review_button.setEnabled(len(self.samples) > 0)
        self.pages.setCurrentWidget(self.setup_page)

    def _model_words(self, card: ModelCard | None) -> str:
        if card is None:
            return "No model is loaded: load one from the Model menu first."
        start = own.fine_tunable(card)
        if start is None:
            return (
                f"The model in use, {card.name}, cannot be fine-tuned (it is not one of ferdesk's neural "
                "networks, and has none inside it): you can still collect and save your faces."
            )
        if start.folder == card.folder:
            return f"Fine-tunes the model in use, {card.name}."
        return (
            f"The model in use, {card.name}, is a combination of networks: the fine-tune adapts one of them, "
            f"{start.name}, which becomes a model of its own."
        )

    # ---------------------------------------------------------------- capture
    def start_capture(self) -> None:
        chosen = [e for e, box in self.emotion_boxes.items() if box.isChecked()]
        if not chosen:
            self.setup_status.setText("Tick at least one emotion to show.")
            return
        self.setup_status.clear()
        self.queue = chosen
        self.pages.setCurrentWidget(self.capture_page)
        self._next_emotion()

    def _next_emotion(self) -> None:
        if not self.queue:
            self.stop_capture()
            return
        self.emotion = self.queue.pop(0)
        self.prompt.setText(f"Show: {self.emotion}")
        self.strip.clear()
        self.phase, self.count = "countdown", self.count_from
        self._step()

    def _step(self) -> None:
        """One beat of the capture: the next number of the countdown, the start of collecting, or its end."""
        if self.phase == "countdown" and self.count > 0:
            self.countdown.setText(str(self.count))
            self.count -= 1
            self.step_timer.start(int(self.count_step_s * 1000))
        elif self.phase == "countdown":
            self.phase, self.last_taken = "collecting", 0.0
            self.countdown.setText("Hold it…")
            self.step_timer.start(int(self.collect_s * 1000))
        elif self.phase == "collecting":
            self.phase = "idle"
            self._next_emotion()

    def stop_capture(self) -> None:
        self.step_timer.stop()
        self.phase, self.emotion, self.queue = "idle", None, []
        self.show_review()

    def offer(self, result, face) -> None:
        """Each analysed frame, with the face the side panel follows (None: no face in view)."""
        if not self.isVisible() or self.pages.currentWidget() is not self.capture_page:
            return
        if face is None:
            self.preview.setText("No face in view")
            return
        crop = own.face_crop(result.frame, face)
        self.preview.setPixmap(face_pixmap(crop, PREVIEW))
        now = time.monotonic()
        if self.phase != "collecting" or now - self.last_taken < 1.0 / self.per_second:
            return
        self.last_taken = now
        sample = self.samples.add(crop, self.emotion, own.CAPTURE, result.timestamp, face.track_id)
        self.strip.addItem(QListWidgetItem(QIcon(face_pixmap(sample.face, THUMB)), ""))
        self.strip.scrollToBottom()

    # ---------------------------------------------------------------- review
    def show_review(self) -> None:
        self.refresh()
        self.pages.setCurrentWidget(self.review_page)

    def _ordered_emotions(self) -> list[str]:
        card = self.current_model()
        first = list(card.labels) if card is not None else []
        rest = [e for e in EMOTIONS if e not in first] + sorted(set(self.samples.counts()) - set(EMOTIONS) - set(first))
        return first + rest

    def refresh(self) -> None:
        """Rebuild the review: one row of thumbnails per emotion, and whether a fine-tune can start."""
        while self.groups.count():
            item = self.groups.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.review_lists = {}
        counts = self.samples.counts()
        for emotion in self._ordered_emotions():
            if not counts.get(emotion):
                continue
            self.groups.addWidget(QLabel(f"<b>{escape(emotion)}</b> ({counts[emotion]})"))
            view = thumbnail_list()
            view.setMinimumHeight(THUMB + 24)
            for sample in self.samples.of(emotion):
                item = QListWidgetItem(QIcon(face_pixmap(sample.face, THUMB)), "")
                item.setData(Qt.UserRole, sample)
                item.setToolTip(
                    "From a right-click correction; click to discard"
                    if sample.origin == own.CORRECTION
                    else "Click to discard"
                )
                view.addItem(item)
            view.itemClicked.connect(self._discard)
            self.groups.addWidget(view)
            self.review_lists[emotion] = view
        if not counts:
            self.groups.addWidget(
                QLabel("No samples yet: capture some, or right-click a face in the video and choose This is actually …")
            )
        self.groups.addStretch(1)
        self.undo_button.setEnabled(bool(self.discarded))
        self.save_button.setEnabled(len(self.samples) > 0)
        ready, words = self._readiness()
        self.readiness.setText(words)
        self.fine_tune_button.setEnabled(ready and not self.running())
        self.to_review_button.setText(f"Review samples ({len(self.samples)})")
        self.to_review_button.setEnabled(len(self.samples) > 0)

    def _readiness(self) -> tuple[bool, str]:
        card = self.current_model()
        start = own.fine_tunable(card) if card is not None else None
        if start is None:
            return False, self._model_words(card)
        few = own.missing(self.samples, start.labels)
        if few:
            counts = self.samples.counts()
            return False, (
                f"Fine-tuning needs at least {own.MIN_PER_EMOTION} pictures of each emotion the model "
                f"knows; still needed: {', '.join(f'{e} ({counts.get(e, 0)} so far)' for e in few)}."
            )
        parts = own.split(self.samples, start.labels)
        n_test = sum(len(v) for v in parts.test.values())
        n_train = sum(len(v) for v in parts.train.values())
        return True, (
            f"Fine-tune {start.name} on {n_train} of your pictures; {n_test} more (a quarter of each "
            "emotion) are held back to measure how well it reads your face before and after."
        )

    def _discard(self, item: QListWidgetItem) -> None:
        sample = item.data(Qt.UserRole)
        self.samples.remove(sample)
        self.discarded.append(sample)
        self.refresh()

    def undo_discard(self) -> None:
        if self.discarded:
            sample = self.discarded.pop()
            self.samples.add(sample.face, sample.emotion, sample.origin, sample.timestamp, sample.track_id)
            self.refresh()

    def save_samples(self) -> None:
        """Write every sample to a folder of the user's choice, as train/<emotion>/ and test/<emotion>/ PNGs."""
        folder = QFileDialog.getExistingDirectory(self, "Save your samples in a folder (train/ and test/ inside)")
        if not folder:
            return
        emotions = [e for e in self._ordered_emotions() if self.samples.counts().get(e)]
        parts = own.split(self.samples, emotions, need_test=False)
        try:
            own.write_folder(folder, parts)
        except OSError as exc:
            QMessageBox.warning(self, "Save samples", f"Could not save the samples in {folder}: {exc}")
            return
        self.samples.changed = False
        self.readiness.setText(
            f"Saved {len(self.samples)} pictures in {folder} (train/<emotion>/ and "
            "test/<emotion>/): Model > Retrain… and ferdesk-train read that folder."
        )

    # ---------------------------------------------------------------- fine-tune
    def running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.NotRunning

    def _free_name(self, stem: str) -> str:
        name, n = stem, 2
        while (self.output_root / name).exists():
            name, n = f"{stem}-{n}", n + 1
        return name

    def fine_tune(self) -> None:
        """Score the model in use on the held-back pictures, then fine-tune in the trainer's own process."""
        card = self.current_model()
        start = own.fine_tunable(card) if card is not None else None
        if start is None or self.running():
            return
        try:
            self.parts = own.split(self.samples, start.labels)
            faces, truth = self.parts.test_faces()
            self.before = [(f"the model in use, {card.name}", own.accuracy(card.folder, faces, truth))]
            if start.folder != card.folder:
                self.before.append((f"{start.name} alone", own.accuracy(start.folder, faces, truth)))
        except ValueError as exc:
            self.readiness.setText(str(exc))
            return
        self._drop_model()
        self.samples_dir = own.private_folder()
        self.output_root.mkdir(parents=True, exist_ok=True)
        # Hidden, beside where the model may be kept: using it is a rename, and model lists never show it.
        self.model_dir = tempfile.TemporaryDirectory(prefix=".teach-", dir=self.output_root)
        self.used_folders += [self.samples_dir.name, self.model_dir.name]
        try:
            own.write_folder(self.samples_dir.name, self.parts, stem="face")
        except OSError as exc:
            self._remove_samples()
            self._drop_model()
            self.readiness.setText(f"Could not write the pictures for the trainer: {exc}")
            return
        self.out_dir = Path(self.model_dir.name) / self._free_name(f"{card.name}-my-face")
        args = [
            "-m",
            "training",
            "--data",
            self.samples_dir.name,
            "--emotions",
            ",".join(start.labels),
            "--models",
            start.architecture,
            "--folds",
            "0",
            "--epochs",
            str(self.epochs.value()),
            "--init-from",
            str(start.folder),
            "--learning-rate",
            str(FINE_TUNE_LEARNING_RATE),
            "--out",
            str(self.out_dir),
            "--progress",
            "json",
        ]
        if start.training.get("flip_average"):
            args.append("--flip-average")  # read faces as the start model does
        self.cancelled = False
        self.log.clear()
        self.result_label.clear()
        self.use_button.setEnabled(False)
        self.use_button.setText("Use this model")
        self.back_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.bar.setRange(0, 0)  # busy until the fit starts: the trainer loads TensorFlow and the data first
        self.started_at = time.monotonic()
        self.stage = "Starting the trainer"
        self.pages.setCurrentWidget(self.train_page)
        self.process = trainer_process(self)
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._finished)
        start_trainer(self.process, args)
        self.ticker.start()
        self._tick()

    def _tick(self) -> None:
        if self.running():
            self.status.setText(f"{self.stage}… {clock(time.monotonic() - self.started_at)}")

    def _read_stdout(self) -> None:
        for item in trainer_lines(self.process) if self.process is not None else ():
            if isinstance(item, str):
                self.log.appendPlainText(item)
            elif isinstance(item, Message):
                self.log.appendPlainText(item.text)
            elif isinstance(item, FitStarted):
                self.bar.setRange(0, item.epochs)
                self.bar.setValue(0)
                self.stage = f"Fine-tuning: epoch 1 of {item.epochs}"
            elif isinstance(item, Epoch):
                self.bar.setValue(item.epoch)
                self.stage = f"Fine-tuning: epoch {min(item.epoch + 1, item.epochs)} of {item.epochs}"
            elif isinstance(item, FitDone):
                self.stage = "Saving the model"
        self._tick()

    def _read_stderr(self) -> None:
        kept = trainer_log(bytes(self.process.readAllStandardError()).decode("utf-8", "replace"))
        if kept:
            self.log.appendPlainText(kept)

    def cancel(self) -> None:
        if self.running():
            self.cancelled = True
            self.status.setText("Cancelling…")
            stop_trainer(self.process)

    def _finished(self, code: int, _status) -> None:
        self._read_stdout()
        self.ticker.stop()
        self._remove_samples()  # whatever happened: the trainer has read them or will never need them
        self.cancel_button.setEnabled(False)
        self.back_button.setEnabled(True)
        self.bar.setRange(0, max(1, self.bar.maximum()))
        report = self.out_dir / "report.json" if self.out_dir is not None else None
        if self.cancelled:
            self._drop_model()
            self.status.setText("Cancelled: the model in use is unchanged and nothing was kept.")
        elif code != 0 or report is None or not report.is_file():
            self._drop_model()
            self.status.setText(
                f"Fine-tuning failed (exit code {code}); the model in use is unchanged. The log below says why."
            )
        else:
            self.show_result(RunReport.read(report))
        self.refresh()

    def show_result(self, report: RunReport) -> None:
        """Accuracy on the held-back pictures before and after; Use is the highlighted choice only when it gained."""
        after = report.app_test_accuracy  # the app runs model.tflite
        n_test = report.data.test_size
        before = self.before[0][1]
        gained = after > before
        lines = [f"<b>How well it reads your face</b> ({n_test} pictures held back from the fine-tune):"]
        lines += [f"before: {100 * accuracy:.0f}% ({escape(what)})" for what, accuracy in self.before]
        lines.append(f"after: <b>{100 * after:.0f}%</b> (the fine-tuned model)")
        lines.append(
            "It reads your face better now."
            if gained
            else "It does not read your held-back pictures better than the model in use: capture more or "
            "clearer pictures, or more epochs, and try again."
        )
        self.result_label.setText("<br>".join(lines))
        offer_model(self.status, self.use_button, gained, "the fine-tuned model", "is no better on your pictures")

    def use_model(self) -> None:
        """Keep the fine-tuned model as a normal model folder among the user's models, and switch to it."""
        if self.out_dir is None or not self.out_dir.is_dir():
            return
        final = self.output_root / self._free_name(self.out_dir.name)
        try:
            os.replace(self.out_dir, final)  # the same folder: one rename, never a half-copied model
        except OSError as exc:
            QMessageBox.warning(self, "Use this model", f"Could not keep the model as {final}: {exc}")
            return
        self._drop_model()
        self.use_button.setEnabled(False)
        self.status.setText(f"Saved as {final} and in use.")
        self.model_ready.emit(str(final))

    def _remove_samples(self) -> None:
        if self.samples_dir is not None:
            self.samples_dir.cleanup()
            self.samples_dir = None

    def _drop_model(self) -> None:
        if self.model_dir is not None:
            self.model_dir.cleanup()
            self.model_dir = None
        self.out_dir = None

    def reject(self) -> None:
        """Close or Esc: a capture stops (its pictures are kept); a fine-tune goes on and its result waits here."""
        if self.phase != "idle":
            self.stop_capture()
        super().reject()

    def shutdown(self) -> None:
        """The app is closing: stop a fine-tune and remove every temporary folder (an unused model too)."""
        self.step_timer.stop()
        if self.running():
            self.cancelled = True
            end_trainer(self.process)
        self._remove_samples()
        self._drop_model()
