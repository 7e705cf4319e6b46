"""Model > Retrain...: runs `python -m training` in a separate process, shows progress, log and the result.

The window and the camera stay live because training runs in its own process (QProcess). The training
command writes to a hidden staging folder and renames it only on success, so Cancel or a failure leaves
no model folder behind and never touches the model in use.
"""

from __future__ import annotations

import importlib.util
import re
import time
from html import escape
from pathlib import Path

from PyQt5.QtCore import QProcess, QSettings, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QPixmap
from PyQt5.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ferdesk import defaults
from ferdesk.labels import EMOTIONS
from ferdesk import outputs, paths
from ferdesk.architectures import ARCHITECTURES, is_zoo_cnn
from ferdesk.gui import retrain_advice as advice
from ferdesk.gui.trainer_process import (
    offer_model,
    start_trainer,
    stop_trainer,
    trainer_lines,
    trainer_log,
    trainer_process,
)
from ferdesk.gui.views import clock
from ferdesk.model_card import ModelCard, ModelFolderError, read_card
from ferdesk.progress_events import Done, Epoch, Event, FitDone, FitStarted, Message
from ferdesk.run_report import RunReport, read_reports

FINE_TUNE_LEARNING_RATE = 3e-4  # a third of a fresh fit's: the start weights are already good
CONFIRM_CANCEL_AFTER_S = 60  # a run that has gone on longer is only cancelled after a question
CONFUSION_HEIGHT = 400  # the result's confusion matrix, shown up to this tall (its own size when smaller)
# An emotion's line in the trainer's description of the data, e.g. "  Training: 300 (sad 150, surprise 150); ..."
TRAINING_LINE = re.compile(r"^\s*Training: \d+ \(([^)]*)\)", re.M)


def _check_grid(names: list[str], checked: set[str], columns: int = 4) -> tuple[QWidget, dict[str, QCheckBox]]:
    """Check boxes in rows of `columns`, so the dialog stays narrow enough for a laptop screen."""
    box, layout, boxes = QWidget(), QGridLayout(), {}
    layout.setContentsMargins(0, 0, 0, 0)
    for k, name in enumerate(names):
        boxes[name] = QCheckBox(name)
        boxes[name].setChecked(name in checked)
        layout.addWidget(boxes[name], *divmod(k, columns))
    box.setLayout(layout)
    return box, boxes


class RetrainDialog(QDialog):
    """Closing the dialog leaves a run going (the window shows its progress); only Cancel stops it."""

    model_ready = pyqtSignal(str)  # folder of the newly trained model, when the user chooses to use it
    progress_changed = pyqtSignal(str, float)  # a short line on the run, and the part done (0..1; -1: not known yet)
    running_changed = pyqtSignal(bool)
    KILL_AFTER_MS = 15000  # grace period for a cancelled trainer to clean up and exit

    def __init__(
        self, parent=None, data_path: str = "", output_root: Path | None = None, settings: QSettings | None = None
    ):
        super().__init__(parent)
        self.setWindowTitle("Retrain a model")
        self.resize(760, 680)
        self.output_root = Path(output_root or paths.USER_MODELS_DIR)
        self.settings = settings or QSettings()
        self.current_model: ModelCard | None = None  # the model in use, to compare the new one with
        self.started_at = 0.0
        self.stage = ""  # what the run is doing, e.g. "Loading data"
        self.epoch_times: list[float] = []  # seconds each epoch took in this run
        self.last_epoch_at = 0.0
        self.epochs_done = 0  # epochs finished in this run, over all fits
        self.faces_seen: dict[str, int] | None = None  # training faces per emotion, once known
        self.ticker = QTimer(self, interval=1000)
        self.ticker.timeout.connect(self._tick)
        self.process: QProcess | None = None
        self.out_dir: Path | None = None
        self.total_fits = 0
        self.fits_done = 0
        self.cancelled = False
        self.start_model: ModelCard | None = None

        self.data_edit = QLineEdit(data_path or defaults.data_path() or "")
        browse_file = QPushButton("CSV…")
        browse_file.clicked.connect(self._browse_csv)
        browse_dir = QPushButton("Folder…")
        browse_dir.clicked.connect(self._browse_folder)
        data_row = QHBoxLayout()
        data_row.addWidget(self.data_edit, 1)
        data_row.addWidget(browse_file)
        data_row.addWidget(browse_dir)
        emotions_widget, self.emotion_boxes = _check_grid(list(EMOTIONS), set(EMOTIONS))
        models_widget, self.model_boxes = _check_grid(list(ARCHITECTURES), {"cnn_small"})
        self.folds = QSpinBox(minimum=0, maximum=10, value=5)
        self.folds.setToolTip("0 skips cross-validation (one model only)")
        self.epochs = QSpinBox(minimum=1, maximum=500, value=20)
        self.name_edit = QLineEdit("my-model")
        # Fits on Ray: this machine's cores or a cluster (training's --engine ray); Ray is an optional extra.
        self.parallel = QCheckBox("Run fits in parallel (Ray)")
        self.address_edit = QLineEdit()
        self.address_edit.setPlaceholderText("empty: this machine; or a cluster, HOST:PORT or ray://HOST:10001")
        self.address_edit.setEnabled(False)
        self.parallel.toggled.connect(self.address_edit.setEnabled)
        if importlib.util.find_spec("ray") is None:
            self.parallel.setEnabled(False)
            self.parallel.setText("Run fits in parallel (Ray): install it with pip install 'ferdesk[cluster]'")
        self.fine_tune = QCheckBox("Improve the model in use with this data (fine-tune)")
        self.fine_tune.setEnabled(False)
        self.fine_tune.toggled.connect(self._lock_to_start_model)
        self.fine_tune_note = QLabel()  # why fine-tuning is not possible, when it is not
        self.fine_tune_note.setWordWrap(True)
        self.fine_tune_note.hide()
        # Distillation (training's --teacher): the new networks also learn the chosen model's probabilities.
        self.teacher = QCheckBox("Also learn from a teacher model (distillation)")
        self.teacher.setToolTip(
            "The new networks learn the teacher's probabilities as well as the labels: a small "
            "network can learn much of a larger model's skill."
        )
        self.teacher_choice = QComboBox()
        self.teacher_choice.setEnabled(False)
        self.teacher.toggled.connect(self.teacher_choice.setEnabled)
        self.teacher.toggled.connect(self._fill_teachers)
        self.advice = QLabel()  # warnings and the estimated duration, before Start
        self.advice.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Dataset (CSV or folder)", data_row)
        form.addRow("", self.fine_tune)
        form.addRow("", self.fine_tune_note)
        form.addRow("Emotions", emotions_widget)
        form.addRow("Architectures", models_widget)
        form.addRow("Folds", self.folds)
        form.addRow("Max epochs", self.epochs)
        form.addRow("", self.teacher)
        form.addRow("Teacher model", self.teacher_choice)
        form.addRow("Output name", self.name_edit)
        form.addRow("", self.parallel)
        form.addRow("Ray cluster address", self.address_edit)
        self.settings_box = QGroupBox("Training settings")
        self.settings_box.setLayout(form)
        for box in (*self.emotion_boxes.values(), *self.model_boxes.values(), self.fine_tune):
            box.toggled.connect(self.update_advice)
        for spin in (self.folds, self.epochs):
            spin.valueChanged.connect(self.update_advice)
        self.data_edit.editingFinished.connect(self.update_advice)

        self.overall = QProgressBar(format="fits %v/%m")
        self.epoch_bar = QProgressBar(format="epoch %v/%m")
        self.status = QLabel("Ready")
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(2000)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setTextFormat(Qt.RichText)
        self.result_label.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.confusion = QLabel()
        self.report_button = QPushButton("Full report…")
        self.report_button.setEnabled(False)
        self.report_button.clicked.connect(self._show_report)

        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel training")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.confirm_cancel)
        self.use_button = QPushButton("Use this model")
        self.use_button.setEnabled(False)
        self.use_button.clicked.connect(self._use_model)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        buttons.addButton(self.start_button, QDialogButtonBox.ActionRole)
        buttons.addButton(self.cancel_button, QDialogButtonBox.ActionRole)
        buttons.addButton(self.use_button, QDialogButtonBox.AcceptRole)

        self.status.setWordWrap(True)
        result_page = QWidget()
        result_layout = QVBoxLayout(result_page)
        result_layout.addWidget(self.result_label)
        result_layout.addWidget(self.report_button, 0, Qt.AlignLeft)
        result_layout.addWidget(self.confusion, 0, Qt.AlignHCenter)
        result_layout.addStretch(1)
        result_scroll = QScrollArea()
        result_scroll.setWidgetResizable(True)
        result_scroll.setWidget(result_page)
        self.pages = QTabWidget()
        self.pages.addTab(self.log, "Log")
        self.pages.addTab(result_scroll, "Result")

        layout = QVBoxLayout(self)
        layout.addWidget(self.settings_box)
        layout.addWidget(self.advice)
        layout.addWidget(self.status)
        layout.addWidget(self.overall)
        layout.addWidget(self.epoch_bar)
        layout.addWidget(self.pages, 1)
        layout.addWidget(buttons)

    # ---- inputs
    def set_start_model(self, card: ModelCard | None) -> None:
        """The model in use, offered as the fine-tuning start when it is a CNN of the zoo."""
        usable = card is not None and is_zoo_cnn(card.architecture)
        self.current_model = card
        self.start_model = card if usable else None
        if not usable:
            self.fine_tune.setChecked(False)
        self.fine_tune.setEnabled(usable)
        if usable:
            text = (
                f"Improve the model in use, {card.name} ({card.architecture}), with this data instead of "
                "training a new one (fine-tune)"
            )
        elif card is not None:
            kind = {
                "ensemble": "an ensemble model (several networks averaged)",
                "logreg": "a logistic-regression model",
            }.get(card.architecture, f"a {card.architecture} model")
            text = (
                f"Improving the model in use is not possible here: {card.name} is {kind}, and only a model "
                "made of one neural network can be improved this way"
            )
        else:
            text = "Improve the model in use with this data (fine-tune): no model is loaded"
        # A check box never wraps its text: the long reasons go to a label that does, so the dialog fits a screen.
        short = usable or len(text) <= 90
        self.fine_tune.setText(text if short else "Improve the model in use (fine-tune): not possible here")
        self.fine_tune_note.setText("" if short else text)
        self.fine_tune_note.setVisible(not short)
        self._lock_to_start_model(self.fine_tune.isChecked())
        self.update_advice()

    def showEvent(self, event) -> None:
        if not self.running():
            self.propose_name()
            self.update_advice()
        super().showEvent(event)

    def propose_name(self) -> None:
        """An output name that is free: the one typed if no model has it, else the same with -2, -3..."""
        name = self.name_edit.text().strip() or "my-model"
        if not (self.output_root / name).exists():
            return
        stem, n = re.sub(r"-\d+$", "", name), 2
        while (self.output_root / f"{stem}-{n}").exists():
            n += 1
        self.name_edit.setText(f"{stem}-{n}")

    def _chosen(self) -> tuple[list[str], list[str]]:
        return (
            [e for e, box in self.emotion_boxes.items() if box.isChecked()],
            [m for m, box in self.model_boxes.items() if box.isChecked()],
        )

    def _known_folders(self) -> list[Path]:
        return [*paths.model_folders(), *(p for p in sorted(self.output_root.glob("*")) if p.is_dir())]

    def _fill_teachers(self, on: bool = True) -> None:
        """List the model folders a teacher can come from, the model in use first."""
        if not on:
            return
        chosen = self.teacher_choice.currentData()
        self.teacher_choice.clear()
        folders = self._known_folders()
        if self.current_model is not None and self.current_model.folder in folders:
            folders.remove(self.current_model.folder)
            folders.insert(0, self.current_model.folder)
        for folder in folders:
            try:
                card = read_card(folder)
            except ModelFolderError:
                continue
            accuracy = card.app_accuracy
            score = "" if accuracy is None else f", {100 * accuracy:.1f}% on its test faces"
            self.teacher_choice.addItem(f"{card.name} ({len(card.labels)} emotions{score})", str(folder))
        if chosen is not None and self.teacher_choice.findData(chosen) >= 0:
            self.teacher_choice.setCurrentIndex(self.teacher_choice.findData(chosen))

    def _teacher_arguments(self, emotions: list[str]) -> list[str]:
        """--teacher FOLDER when distilling, after checking that the teacher knows every chosen emotion."""
        if not self.teacher.isChecked():
            return []
        folder = self.teacher_choice.currentData()
        if not folder:
            raise ValueError("Choose a teacher model, or untick distillation.")
        try:
            card = read_card(folder)
        except ModelFolderError as exc:
            raise ValueError(f"The teacher model cannot be used: {exc}") from exc
        unknown = [e for e in emotions if e not in card.labels]
        if unknown:
            raise ValueError(
                f"The teacher {card.name} does not recognise {', '.join(unknown)}; choose a teacher "
                f"that knows every chosen emotion (it knows {', '.join(card.labels)})."
            )
        return ["--teacher", str(folder)]

    def speeds(self) -> dict[str, float]:
        """Images per second of each network on this machine: kept from this app's runs, else read from the
        reports of the runs in the output folder (made here)."""
        reports = read_reports(
            sorted((p for p in self.output_root.glob("*") if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
        )
        found = advice.measured_speeds(reports)
        for name in ARCHITECTURES:
            kept = self.settings.value(f"retrain/images_per_second/{name}")
            if kept is not None:
                found[name] = float(kept)
        return found

    def update_advice(self, *_) -> None:
        """Before Start: warnings about a run that cannot give a useful model, and how long it may take."""
        if self.running():
            return
        emotions, models = self._chosen()
        data = Path(self.data_edit.text().strip()).expanduser()
        faces = None
        if emotions and self.data_edit.text().strip():
            try:
                faces = advice.training_faces(data, emotions, self._known_folders())
            except OSError:
                faces = None
        lines = advice.warnings(faces, self.epochs.value(), self.fine_tune.isChecked())
        estimate = (
            advice.estimate_seconds(sum(faces.values()), self.epochs.value(), self.folds.value(), models, self.speeds())
            if faces and models
            else None
        )
        if estimate is not None:
            lines.append(
                f"Estimated duration: up to about {advice.duration_words(estimate + 30)} "
                f"({sum(faces.values()):,} training faces; measured speed of this machine; early "
                "stopping often ends sooner)."
            )
        elif models:
            lines.append(
                "Estimated duration: known once the first epoch is done (this machine's speed for "
                f"{', '.join(models)} on this data is not measured yet)."
            )
        warned = any(line.startswith("Far too few") for line in lines)
        self.advice.setStyleSheet("QLabel { color: #8a4b00; }" if warned else "")
        self.advice.setText("\n".join(lines))

    def _lock_to_start_model(self, locked: bool) -> None:
        # A fine-tune keeps the start model's network, and its emotions or some of them (the trainer keeps just
        # their classifier columns); an emotion it never learnt cannot be added.
        start = self.start_model if locked else None
        for name, box in self.emotion_boxes.items():
            if start:
                box.setChecked(name in start.labels)
            box.setEnabled(not locked or bool(start and name in start.labels))
        for name, box in self.model_boxes.items():
            if start:
                box.setChecked(name == start.architecture)
            box.setEnabled(not locked)

    def _browse_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "FER2013 CSV", "", "CSV (*.csv *.csv.gz);;All files (*)")
        if path:
            self.data_edit.setText(path)

    def _browse_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder with train/<emotion>/ and test/<emotion>/")
        if path:
            self.data_edit.setText(path)

    def arguments(self) -> list[str]:
        emotions = [e for e, box in self.emotion_boxes.items() if box.isChecked()]
        models = [m for m, box in self.model_boxes.items() if box.isChecked()]
        name = self.name_edit.text().strip()
        if not self.data_edit.text().strip():
            raise ValueError("Choose a dataset: a FER2013 CSV or a folder with train/ and test/.")
        if len(emotions) < 2:
            raise ValueError("Choose at least two emotions.")
        if not models:
            raise ValueError("Choose at least one architecture.")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise ValueError("The output name may hold letters, digits, '.', '_' and '-' only.")
        self.out_dir = self.output_root / name
        if self.out_dir.exists():
            raise ValueError(f"A model named {name!r} already exists in {self.output_root}; choose another name.")
        args = [
            "-m",
            "training",
            "--data",
            self.data_edit.text().strip(),
            "--emotions",
            ",".join(emotions),
            "--models",
            ",".join(models),
            "--folds",
            str(self.folds.value()),
            "--epochs",
            str(self.epochs.value()),
            "--out",
            str(self.out_dir),
            "--progress",
            "json",
        ]
        args += self._teacher_arguments(emotions)
        if self.fine_tune.isChecked() and self.start_model is not None:
            args += ["--init-from", str(self.start_model.folder), "--learning-rate", str(FINE_TUNE_LEARNING_RATE)]
        if self.parallel.isChecked():
            args += ["--engine", "ray"]
            if self.address_edit.text().strip():
                args += ["--address", self.address_edit.text().strip()]
        return args

    # ---- the process
    def start(self) -> None:
        try:
            args = self.arguments()
        except ValueError as exc:
            self.status.setText(str(exc))
            return
        self.output_root.mkdir(parents=True, exist_ok=True)
        models = args[args.index("--models") + 1].split(",")
        folds = self.folds.value()
        self.total_fits = len(models) * (folds + 1)
        self.fits_done = 0
        self.overall.setRange(0, self.total_fits)
        self.overall.setValue(0)
        self.epoch_bar.setRange(0, self.epochs.value())
        self.epoch_bar.setValue(0)
        self.cancelled = False
        self.log.clear()
        self.pages.setCurrentIndex(0)
        self.result_label.clear()
        self.confusion.clear()
        self.report_button.setEnabled(False)
        self.use_button.setEnabled(False)
        self.use_button.setDefault(False)
        self.overall.setRange(0, 0)  # busy until the first fit starts: loading the data takes a while
        self.epoch_bar.setRange(0, 0)
        self.started_at = self.last_epoch_at = time.monotonic()
        self.epoch_times, self.epochs_done, self.faces_seen = [], 0, None
        self.stage = "Loading data"
        self.process = trainer_process(self)
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._finished)
        start_trainer(self.process, args)
        self.settings_box.setEnabled(False)
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.ticker.start()
        self._tick()
        self.running_changed.emit(True)

    def fraction_done(self) -> float:
        """The part of the run done, counting epochs (a fit stopped early counts as whole); -1 before the first."""
        if not self.total_fits or self.overall.maximum() == 0:
            return -1.0
        per_fit = max(1, self.epoch_bar.maximum())
        return min(1.0, (self.fits_done + min(self.epoch_bar.value(), per_fit) / per_fit) / self.total_fits)

    def _tick(self) -> None:
        """Every second of a run: what it is doing, how long it has taken, and how long it may still take."""
        if not self.running():
            return
        elapsed = time.monotonic() - self.started_at
        text = f"{self.stage}… {clock(elapsed)}"
        if self.epoch_times:
            left = (
                (self.total_fits * self.epochs.value() - self.epochs_done)
                * sum(self.epoch_times)
                / len(self.epoch_times)
            )
            text += f" (at most about {advice.duration_words(max(left, 1))} left)"
        self.status.setText(text)
        self.progress_changed.emit(text, self.fraction_done())

    def confirm_cancel(self) -> None:
        """The Cancel button: a run that has gone on for more than a minute is only cancelled when the user says so."""
        if not self.running():
            return
        elapsed = time.monotonic() - self.started_at
        if elapsed > CONFIRM_CANCEL_AFTER_S:
            answer = QMessageBox.question(
                self,
                "Cancel training?",
                f"This run has gone on for {clock(elapsed)}. Cancel it? Nothing of it is kept.",
                QMessageBox.Yes | QMessageBox.No,
                QMessageBox.No,
            )
            if answer != QMessageBox.Yes:
                return
        self.cancel()

    def cancel(self) -> None:
        if self.process is not None and self.process.state() != QProcess.NotRunning:
            self.cancelled = True
            self.status.setText("Cancelling…")
            stop_trainer(self.process, self.KILL_AFTER_MS)

    def shutdown(self, wait_ms: int = 5000) -> None:
        """Stop a running trainer because the app is closing: cancel, wait briefly for its own clean-up, then kill.

        Blocking is fine here (the window is going away); it keeps the trainer from outliving the app or leaving
        its staging folder behind.
        """
        if not self.running():
            return
        process = self.process
        self.cancel()
        if not process.waitForFinished(wait_ms):
            process.kill()
            process.waitForFinished(2000)
        self._remove_staging()

    def running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.NotRunning

    def _read_stdout(self) -> None:
        for item in trainer_lines(self.process) if self.process is not None else ():
            if isinstance(item, Event):
                self._handle(item)
            else:
                self.log.appendPlainText(item)

    def _read_stderr(self) -> None:
        self.append_stderr(bytes(self.process.readAllStandardError()).decode("utf-8", "replace"))

    def append_stderr(self, text: str) -> None:
        """The trainer's stderr in the log, less TensorFlow's own logging (noise to the user)."""
        kept = trainer_log(text)
        if kept:
            self.log.appendPlainText(kept)

    def _handle(self, event: Event) -> None:
        if isinstance(event, Message):
            self.log.appendPlainText(event.text)
            self._check_data(event.text)
        elif isinstance(event, FitStarted):
            self.overall.setRange(0, self.total_fits)
            self.epoch_bar.setRange(0, event.epochs)
            self.epoch_bar.setValue(0)
            self.last_epoch_at = time.monotonic()
            self.stage = f"Training {event.model}, {event.where}: epoch 1 of {event.epochs}"
            self._tick()
        elif isinstance(event, Epoch):
            now = time.monotonic()
            self.epoch_times.append(now - self.last_epoch_at)
            self.last_epoch_at = now
            self.epochs_done += 1
            self.stage = (
                f"Training {event.model}, {event.where}: epoch {min(event.epoch + 1, event.epochs)} of {event.epochs}"
            )
            self.epoch_bar.setValue(event.epoch)
            acc = event.val_accuracy
            self.log.appendPlainText(
                f"{event.model} {event.where} epoch {event.epoch}/{event.epochs}"
                + (f"  val accuracy {acc:.3f}" if acc is not None else "")
            )
        elif isinstance(event, FitDone):
            self.fits_done += 1
            self.epochs_done = self.fits_done * self.epochs.value()  # a fit stopped early leaves no epochs to wait for
            self.overall.setValue(min(self.fits_done, self.total_fits))
            self.stage = "Saving the model" if self.fits_done >= self.total_fits else self.stage
            self._tick()
        elif isinstance(event, Done):
            self.status.setText("Finished")

    def _check_data(self, text: str) -> None:
        """Once the trainer has described the data, warn at once when there is far too little of it."""
        match = TRAINING_LINE.search(text)
        if match is None or self.faces_seen is not None:
            return
        counts = dict(re.findall(r"(\S+) (\d+)", match.group(1)))
        self.faces_seen = {k: int(v) for k, v in counts.items()}
        self.stage = "Preparing the fits"
        warned = advice.warnings(self.faces_seen, self.epochs.value(), self.fine_tune.isChecked())
        if warned:
            self.advice.setText("\n".join(warned))
            self.advice.setStyleSheet("QLabel { color: #8a4b00; }")

    def _finished(self, code: int, status) -> None:
        self._read_stdout()
        self.ticker.stop()
        self.settings_box.setEnabled(True)
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.overall.setRange(0, max(1, self.total_fits))
        self.epoch_bar.setRange(0, max(1, self.epoch_bar.maximum()))
        if self.cancelled:
            self._remove_staging()
            self.status.setText("Cancelled: the current model is unchanged and nothing was saved.")
        elif code != 0 or self.out_dir is None or not (self.out_dir / "report.json").is_file():
            self._remove_staging()
            self.status.setText(f"Training failed (exit code {code}); the current model is unchanged. See the log.")
        else:
            self.show_result(self.out_dir)
        self.progress_changed.emit(self.status.text(), 1.0)
        self.running_changed.emit(False)

    def _remove_staging(self) -> None:
        """A trainer killed outright cannot clean up after itself: remove its hidden staging folder here."""
        if self.out_dir is not None:
            outputs.remove_leftovers(self.out_dir, is_dir=True)

    def show_result(self, folder: Path) -> None:
        """The scores, said plainly: whether the model beats guessing and the model in use; Use is only the
        highlighted choice when it does."""
        report = RunReport.read(folder)
        self._keep_speeds(report)
        useful, words = advice.verdict(report, self.current_model)
        lines = [
            f"<b>{'The new model is ready.' if useful else 'The new model is not worth using.'}</b> {escape(words)}",
            "",
            f"<b>Saved to</b> {escape(str(folder))}",
            "",
        ]
        for m in report.models:
            cv = m.cv
            cv_text = (
                f"CV {cv.accuracy_mean:.1%} ± {cv.accuracy_std or 0:.1%}, " if cv.accuracy_mean is not None else ""
            )
            best = " <b>(best)</b>" if m.name == report.best_model else ""
            lines.append(f"{m.name}{best}: {cv_text}test {m.test.accuracy:.1%}")
        self.result_label.setText("<br>".join(lines))
        pixmap = QPixmap(str(folder / "confusion_matrix.png"))
        if not pixmap.isNull():
            self.confusion.setPixmap(
                pixmap
                if pixmap.height() <= CONFUSION_HEIGHT
                else pixmap.scaledToHeight(CONFUSION_HEIGHT, Qt.SmoothTransformation)
            )
        self.report_button.setEnabled(True)
        self.pages.setCurrentIndex(1)
        offer_model(self.status, self.use_button, useful, "the new model", "is not worth using: see the result")
        self.propose_name()  # ready for another run

    def _keep_speeds(self, report: RunReport) -> None:
        """Remember each network's measured speed on this machine, for the next run's estimate."""
        for name, speed in advice.measured_speeds([report]).items():
            self.settings.setValue(f"retrain/images_per_second/{name}", speed)

    def _show_report(self) -> None:
        from ferdesk.gui.model_info import ModelInfoDialog

        try:
            card = read_card(self.out_dir, need=())
        except ModelFolderError as exc:
            QMessageBox.warning(self, "Report", str(exc))
            return
        ModelInfoDialog(card, self).exec_()

    def _use_model(self) -> None:
        if self.out_dir is not None:
            self.model_ready.emit(str(self.out_dir))
        self.accept()

    def reject(self) -> None:
        """Close or Esc: the dialog goes, a run goes on (the main window shows its progress and brings it back)."""
        super().reject()
