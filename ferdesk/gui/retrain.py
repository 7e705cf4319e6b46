"""Model > Retrain...: runs `python -m training` in a separate process, shows progress, log and the result.

The window and the camera stay live because training runs in its own process (QProcess). The training
command writes to a hidden staging folder and renames it only on success, so Cancel or a failure leaves
no model folder behind and never touches the model in use.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

from PyQt5.QtCore import QProcess, QProcessEnvironment, QTimer, pyqtSignal
from PyQt5.QtGui import QPixmap
from PyQt5.QtWidgets import (
    QCheckBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
    QPlainTextEdit, QProgressBar, QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

from ferdesk import defaults
from ferdesk.labels import EMOTIONS
from ferdesk import paths
from ferdesk.architectures import ARCHITECTURES, is_zoo_cnn
from ferdesk.model_card import ModelCard

FINE_TUNE_LEARNING_RATE = 3e-4  # a third of a fresh fit's: the start weights are already good


def _check_grid(names: list[str], checked: set[str]) -> tuple[QWidget, dict[str, QCheckBox]]:
    box, layout, boxes = QWidget(), QHBoxLayout(), {}
    layout.setContentsMargins(0, 0, 0, 0)
    for name in names:
        boxes[name] = QCheckBox(name)
        boxes[name].setChecked(name in checked)
        layout.addWidget(boxes[name])
    box.setLayout(layout)
    return box, boxes


class RetrainDialog(QDialog):
    model_ready = pyqtSignal(str)  # folder of the newly trained model, when the user chooses to use it
    KILL_AFTER_MS = 15000  # grace period for a cancelled trainer to clean up and exit

    def __init__(self, parent=None, data_path: str = "", output_root: Path | None = None):
        super().__init__(parent)
        self.setWindowTitle("Retrain a model")
        self.resize(720, 620)
        self.output_root = Path(output_root or paths.USER_MODELS_DIR)
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
        self.fine_tune = QCheckBox("Start from the model in use (fine-tune)")
        self.fine_tune.setEnabled(False)
        self.fine_tune.toggled.connect(self._lock_to_start_model)
        form = QFormLayout()
        form.addRow("Dataset (CSV or folder)", data_row)
        form.addRow("", self.fine_tune)
        form.addRow("Emotions", emotions_widget)
        form.addRow("Architectures", models_widget)
        form.addRow("Folds", self.folds)
        form.addRow("Max epochs", self.epochs)
        form.addRow("Output name", self.name_edit)
        form.addRow("", self.parallel)
        form.addRow("Ray cluster address", self.address_edit)
        self.settings_box = QGroupBox("Training settings")
        self.settings_box.setLayout(form)

        self.overall = QProgressBar(format="fits %v/%m")
        self.epoch_bar = QProgressBar(format="epoch %v/%m")
        self.status = QLabel("Ready")
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(2000)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.confusion = QLabel()

        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel training")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.use_button = QPushButton("Use this model")
        self.use_button.setEnabled(False)
        self.use_button.clicked.connect(self._use_model)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        buttons.addButton(self.start_button, QDialogButtonBox.ActionRole)
        buttons.addButton(self.cancel_button, QDialogButtonBox.ActionRole)
        buttons.addButton(self.use_button, QDialogButtonBox.AcceptRole)

        layout = QVBoxLayout(self)
        layout.addWidget(self.settings_box)
        layout.addWidget(self.status)
        layout.addWidget(self.overall)
        layout.addWidget(self.epoch_bar)
        layout.addWidget(self.log, 1)
        result_row = QHBoxLayout()
        result_row.addWidget(self.result_label, 1)
        result_row.addWidget(self.confusion)
        layout.addLayout(result_row)
        layout.addWidget(buttons)

    # ---- inputs
    def set_start_model(self, card: ModelCard | None) -> None:
        """The model in use, offered as the fine-tuning start when it is a CNN of the zoo."""
        usable = card is not None and is_zoo_cnn(card.architecture)
        self.start_model = card if usable else None
        if not usable:
            self.fine_tune.setChecked(False)
        self.fine_tune.setEnabled(usable)
        if usable:
            text = f"Start from the model in use, {card.name} ({card.architecture}): fine-tune"
        elif card is not None:
            text = f"Fine-tune: only a single zoo CNN can be; the model in use is a {card.architecture} model"
        else:
            text = "Start from the model in use (fine-tune): needs a CNN model"
        self.fine_tune.setText(text)
        self._lock_to_start_model(self.fine_tune.isChecked())

    def _lock_to_start_model(self, locked: bool) -> None:
        # A fine-tune keeps the start model's network and emotions, so those choices are fixed.
        for boxes, wanted in ((self.emotion_boxes, self.start_model and self.start_model.labels),
                              (self.model_boxes, self.start_model and [self.start_model.architecture])):
            for name, box in boxes.items():
                if locked and wanted:
                    box.setChecked(name in wanted)
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
        args = ["-m", "training", "--data", self.data_edit.text().strip(), "--emotions", ",".join(emotions),
                "--models", ",".join(models), "--folds", str(self.folds.value()), "--epochs",
                str(self.epochs.value()), "--out", str(self.out_dir), "--progress", "json"]
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
        self.result_label.clear()
        self.confusion.clear()
        self.use_button.setEnabled(False)
        self.process = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        env.insert(defaults.TF_LOG_LEVEL_ENV, defaults.TF_LOG_LEVEL)
        self.process.setProcessEnvironment(env)
        self.process.setWorkingDirectory(str(paths.PROJECT_ROOT))
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._finished)
        self.process.start(sys.executable, args)
        self.settings_box.setEnabled(False)
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("Loading data…")

    def cancel(self) -> None:
        if self.process is not None and self.process.state() != QProcess.NotRunning:
            self.cancelled = True
            self.status.setText("Cancelling…")
            self.process.terminate()  # SIGTERM: the trainer removes its staging folder and exits
            # A trainer that ignores SIGTERM is killed later, without blocking the window. The timer is the
            # process's child, so it goes with it when the dialog (and the process) is deleted first.
            process = self.process
            kill_timer = QTimer(process)
            kill_timer.setSingleShot(True)
            kill_timer.timeout.connect(lambda: process.state() != QProcess.NotRunning and process.kill())
            kill_timer.start(self.KILL_AFTER_MS)

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
        while self.process is not None and self.process.canReadLine():
            line = bytes(self.process.readLine()).decode("utf-8", "replace").strip()
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                self.log.appendPlainText(line)
                continue
            self._handle(event)

    def _read_stderr(self) -> None:
        text = bytes(self.process.readAllStandardError()).decode("utf-8", "replace").rstrip()
        if text:
            self.log.appendPlainText(text)

    def _handle(self, event: dict) -> None:
        kind = event.get("event")
        where = (f"fold {event.get('fold')}/{event.get('folds')}" if event.get("stage") == "cv" else "final fit")
        if kind == "message":
            self.log.appendPlainText(event.get("text", ""))
        elif kind == "fit_started":
            self.epoch_bar.setRange(0, int(event.get("epochs", 1)))
            self.epoch_bar.setValue(0)
            self.status.setText(f"Training {event.get('model')}: {where}")
        elif kind == "epoch":
            self.epoch_bar.setValue(int(event.get("epoch", 0)))
            acc = event.get("val_accuracy")
            self.log.appendPlainText(f"{event.get('model')} {where} epoch {event.get('epoch')}/{event.get('epochs')}"
                                     + (f"  val accuracy {acc:.3f}" if isinstance(acc, float) else ""))
        elif kind == "fit_done":
            self.fits_done += 1
            self.overall.setValue(min(self.fits_done, self.total_fits))
        elif kind == "done":
            self.status.setText("Finished")

    def _finished(self, code: int, status) -> None:
        self._read_stdout()
        self.settings_box.setEnabled(True)
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if self.cancelled:
            self._remove_staging()
            self.status.setText("Cancelled: the current model is unchanged and nothing was saved.")
            return
        if code != 0 or self.out_dir is None or not (self.out_dir / "report.json").is_file():
            self._remove_staging()
            self.status.setText(f"Training failed (exit code {code}); the current model is unchanged. See the log.")
            return
        self.show_result(self.out_dir)

    def _remove_staging(self) -> None:
        """A trainer killed outright cannot clean up after itself: remove its hidden staging folder here."""
        if self.out_dir is not None:
            for partial in self.output_root.glob(f".{self.out_dir.name}.partial-*"):
                shutil.rmtree(partial, ignore_errors=True)

    def show_result(self, folder: Path) -> None:
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        lines = [f"<b>Saved to</b> {folder}", ""]
        for m in report["models"]:
            cv = m["cv"]
            cv_text = (f"CV {cv['accuracy_mean']:.1%} ± {cv['accuracy_std']:.1%}, " if cv["accuracy_mean"] is not None
                       else "")
            best = " <b>(best)</b>" if m["name"] == report["best_model"] else ""
            lines.append(f"{m['name']}{best}: {cv_text}test {m['test']['accuracy']:.1%}")
        self.result_label.setText("<br>".join(lines))
        pixmap = QPixmap(str(folder / "confusion_matrix.png"))
        if not pixmap.isNull():
            self.confusion.setPixmap(pixmap.scaledToHeight(220))
        self.status.setText("Finished: the new model is ready.")
        self.use_button.setEnabled(True)

    def _use_model(self) -> None:
        if self.out_dir is not None:
            self.model_ready.emit(str(self.out_dir))
        self.accept()

    def reject(self) -> None:
        if self.running():
            self.cancel()
        super().reject()
