"""Retrain and Teach it my face, seen from the window: one dialog of each (made when first asked for and kept while
the app runs, so a run goes on with its dialog closed), the faces the user labelled, and the status-bar indicator
of a run whose dialog is closed. The dialogs run the trainer (gui/trainer_process.py); this holds no ML logic."""

from __future__ import annotations

from collections.abc import Callable

from PyQt5.QtCore import QObject, QSettings, pyqtSignal
from PyQt5.QtWidgets import QWidget

from ferdesk.gui.notices import TrainingIndicator
from ferdesk.gui.personalise import PersonaliseDialog
from ferdesk.gui.retrain import RetrainDialog
from ferdesk.model_card import ModelCard
from ferdesk.personalise import CORRECTION, SampleSet
from ferdesk.pipeline import FaceResult, FrameResult


class TrainingController(QObject):
    """The training dialogs; `current_card` gives the model in use, `parent` is the window they belong to."""

    model_ready = pyqtSignal(str)  # a new model's folder, when the user chooses to use it

    def __init__(self, settings: QSettings, current_card: Callable[[], ModelCard | None], parent: QWidget):
        super().__init__(parent)
        self.settings = settings
        self.current_card = current_card
        self.retrain_dialog: RetrainDialog | None = None
        self.personalise_dialog: PersonaliseDialog | None = None
        self.own_faces = SampleSet()  # the user's labelled faces for Teach it my face, in memory only
        self.indicator = TrainingIndicator()
        self.indicator.button.clicked.connect(self.open_retrain)

    def open_retrain(self) -> None:
        if self.retrain_dialog is None:
            self.retrain_dialog = RetrainDialog(
                self.parent(), data_path=str(self.settings.value("retrain/data", "")), settings=self.settings
            )
            self.retrain_dialog.model_ready.connect(self.model_ready)
            self.retrain_dialog.progress_changed.connect(self._show_progress)
            self.retrain_dialog.running_changed.connect(self._running_changed)
        if not self.retrain_dialog.running():
            self.retrain_dialog.set_start_model(self.current_card())
            self.indicator.hide()  # a finished run's result is seen now
        self.retrain_dialog.show()
        self.retrain_dialog.raise_()
        self.retrain_dialog.activateWindow()

    def personalise(self) -> PersonaliseDialog:
        """Teach it my face's dialog, made on first use (it also saves the labelled faces)."""
        if self.personalise_dialog is None:
            self.personalise_dialog = PersonaliseDialog(self.own_faces, self.current_card, self.parent())
            self.personalise_dialog.model_ready.connect(self.model_ready)
        return self.personalise_dialog

    def open_personalise(self) -> None:
        dialog = self.personalise()
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()

    def add_correction(self, result: FrameResult, face: FaceResult, emotion: str) -> None:
        """A face the user says shows `emotion`: its crop joins Teach it my face's samples."""
        self.own_faces.add_face(result.frame, face, emotion, CORRECTION, result.timestamp)
        if self.personalise_dialog is not None:
            self.personalise_dialog.refresh()

    def offer(self, result: FrameResult, face: FaceResult | None) -> None:
        """An analysed frame and the face the window shows: Teach it my face's capture takes crops of it."""
        if self.personalise_dialog is not None:
            self.personalise_dialog.offer(result, face)

    def retraining(self) -> bool:
        return self.retrain_dialog is not None and self.retrain_dialog.running()

    def busy(self) -> bool:
        """A Retrain or Teach it my face trainer is running (sharing the CPU with the video)."""
        return self.retraining() or (self.personalise_dialog is not None and self.personalise_dialog.running())

    def shutdown(self) -> None:
        """The window closes: stop the trainers (a run is cancelled, its partial output removed)."""
        if self.retrain_dialog is not None:
            self.retrain_dialog.shutdown()
        if self.personalise_dialog is not None:
            self.personalise_dialog.shutdown()

    def _show_progress(self, text: str, fraction: float) -> None:
        self.indicator.show_progress(text, fraction, self.retraining())

    def _running_changed(self, running: bool) -> None:
        """Shown from Start on; after the run, only while its result is still unseen (the dialog closed)."""
        dialog_open = self.retrain_dialog is not None and self.retrain_dialog.isVisible()
        self.indicator.setVisible(running or not dialog_open)
