"""The window's model: which folders the worker tries at start, the card in use, the models that failed and why.

ModelsController owns that state and tells the window what to show through its signals; the worker loads and checks
each model (ferdesk.pipeline), so a model that fails never replaces the one in use.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from PyQt5.QtCore import QObject, QSettings, pyqtSignal
from PyQt5.QtWidgets import QAction, QFileDialog, QMenu, QWidget

from ferdesk.gui.model_info import ModelInfoDialog
from ferdesk.gui.worker import PipelineWorker
from ferdesk.model_card import ModelCard, ModelFolderError, lighter_model, read_card
from ferdesk.paths import model_folders
from ferdesk.pipeline import DEFAULT_MODEL, FrameResult

# At 4 ms a face, five faces take 20 ms of classifying, most of a 30 frames/s budget: worth trading for a lighter
# model. The default takes 5.6-8.7 ms a face on a 2-core AVX2-only AMD EPYC, 1.4-1.5 ms on 2-core CPUs with AVX-512
# VNNI (an AMD EPYC; an Intel one with AMX too).
SLOW_MS_PER_FACE = 4.0
TIMED_FRAMES = 60  # frames with faces whose classifier time decides, once per model
SPEED_TIP_OFF = "models/speed_tip_off"  # the user said not to suggest lighter models again


def model_candidates(requested: str | None, last_used) -> list[Path]:
    """The model asked for (else the last used), then the default, then every other model folder.

    The worker loads the first that works and reports each one that does not.
    """
    first = requested or last_used or None
    candidates = [Path(first)] if first else []
    for folder in (DEFAULT_MODEL, *model_folders()):
        if Path(folder) not in candidates:
            candidates.append(Path(folder))
    return candidates


def readable_cards() -> list[ModelCard]:
    """The cards of the model folders (model_folders() order) that can be read; the others are left out."""
    cards = []
    for folder in model_folders():
        try:
            cards.append(read_card(folder))
        except ModelFolderError:
            continue
    return cards


class ModelsController(QObject):
    """The model in use and the requests about it; `parent` is the window, over which its dialogs open."""

    alert_changed = pyqtSignal(object)  # the models' problems, in words (None: there are none)
    card_changed = pyqtSignal(object)  # the ModelCard now in use
    video_message = pyqtSignal(str)  # said on the video in place of frames
    speed_tip = pyqtSignal(object)  # (text, folder, name) of a lighter model when classifying is slow; None: no tip

    def __init__(self, worker: PipelineWorker, settings: QSettings, requested: str | None, parent: QWidget):
        super().__init__(parent)
        self.worker = worker
        self.settings = settings
        self.requested = requested  # named on the command line: never remembered if it fails
        self.card: ModelCard | None = None
        self.started = False  # the worker has loaded its start-up model (or given up)
        self.failed: dict[str, str] = {}  # folder -> why it could not be loaded
        self.problem: str | None = None  # the alert shown about models
        self.actions: dict[str, QAction] = {}  # folder -> its entry in the Model menu
        self.ms_per_face: list[float] = []  # the classifier's time a face on the model's first frames (speed tip)
        self.last_index: int | None = None  # the last frame note_speed saw (kept across models: redraws repeat it)
        worker.initialized.connect(self._on_initialized)
        worker.init_failed.connect(self._on_init_failed)
        worker.model_changed.connect(self._on_model_changed)
        worker.model_failed.connect(self._on_model_failed)

    # ---------------------------------------------------------------- asked by the window and its menus
    def set_model(self, folder) -> None:
        """Ask the worker for a model; it loads and checks the whole model, and keeps the current one if that fails."""
        self.worker.set_model(Path(folder))

    def note_speed(self, result: FrameResult) -> None:
        """After TIMED_FRAMES frames with faces, offer a lighter model once if classifying is slow on this CPU."""
        if result.index == self.last_index:  # a redraw (a view change, a click) of a frame timed or skipped already
            return
        self.last_index = result.index
        if self.card is None or not result.faces or len(self.ms_per_face) >= TIMED_FRAMES:
            return
        self.ms_per_face.append(result.timings_ms.get("classify", 0.0) / len(result.faces))
        if len(self.ms_per_face) < TIMED_FRAMES or not self.speed_tips_on():
            return
        ms = statistics.median(self.ms_per_face)
        lighter = self._lighter_model(ms) if ms > SLOW_MS_PER_FACE else None
        if lighter is not None:
            share = lighter.multiply_adds / self.card.multiply_adds
            text = (
                f"{self.card.name} takes {ms:.1f} ms a face on this computer. {lighter.name} does {share:.0%} of "
                f"its work a face: {self._accuracy_text(lighter)} instead of {self._accuracy_text(self.card)}."
            )
            self.speed_tip.emit((text, lighter.folder, lighter.name))

    def _lighter_model(self, ms_per_face: float) -> ModelCard | None:
        usable = [card for card in readable_cards() if str(card.folder) not in self.failed]
        return lighter_model(self.card, usable, ms_per_face, SLOW_MS_PER_FACE)

    @staticmethod
    def _accuracy_text(card: ModelCard) -> str:
        acc = card.app_accuracy  # as the Model menu shows it
        return "accuracy not measured" if acc is None else f"{acc:.1%} test accuracy"

    def set_speed_tips(self, on: bool) -> None:
        """Model > Suggest a lighter model when slow; "Don't suggest again" turns it off."""
        self.settings.setValue(SPEED_TIP_OFF, not on)
        if not on:
            self.speed_tip.emit(None)

    def speed_tips_on(self) -> bool:
        return not self.settings.value(SPEED_TIP_OFF, False, type=bool)

    def load_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self.parent(), "Load a model folder (card.json, model.tflite)")
        if path:
            self.set_model(path)

    def show_info(self) -> None:
        if self.card is not None:
            ModelInfoDialog(self.card, self.parent()).exec_()

    def add_models_to(self, menu: QMenu) -> None:
        """A checkable entry for each model folder with a readable card; one that failed to load says so."""
        self.actions = {}
        for card in readable_cards():
            folder = card.folder
            failed = str(folder) in self.failed
            action = menu.addAction(card.summary + (" — could not be loaded" if failed else ""))
            action.setCheckable(True)
            action.setChecked(self.card is not None and self.card.folder == card.folder)
            action.triggered.connect(lambda _=False, f=folder: self.set_model(f))
            self.actions[str(folder)] = action

    # ---------------------------------------------------------------- the worker's word on models
    def _alert(self, text: str | None) -> None:
        self.problem = text
        self.alert_changed.emit(text)

    def _on_initialized(self, card: ModelCard) -> None:
        self.started = True
        failures = self.problem
        if failures:
            self._alert(f"{failures} Using {card.name} ({card.folder}) instead.")
        # A model given with --model that failed stays unremembered; a failed last-used one is replaced.
        self._use_card(card, remember=not (failures and self.requested))
        self.video_message.emit("Starting source…")

    def _on_init_failed(self, error: str) -> None:
        self.started = True
        failures = self.problem  # each candidate's own reason is said already
        cause = "" if failures else f" ({error})"
        self._alert(
            " ".join(filter(None, [failures, f"No model could be loaded{cause}: choose one from the Model menu."]))
        )
        self.video_message.emit(f"No usable model: {error}\nUse the Model menu to load a model folder or retrain.")

    def _on_model_changed(self, card: ModelCard) -> None:
        self._alert(None)
        self._use_card(card, remember=True)

    def _use_card(self, card: ModelCard, remember: bool) -> None:
        self.card = card
        self.ms_per_face = []  # a new model is timed afresh
        self.speed_tip.emit(None)
        self.failed.pop(str(card.folder), None)
        if remember:
            self.settings.setValue("model", str(card.folder))
        self.card_changed.emit(card)

    def _on_model_failed(self, folder: str, error: str) -> None:
        self.failed[str(Path(folder))] = error
        detail = error.removeprefix(str(Path(folder))).lstrip("/\\: ") or error  # the error often names the folder too
        problem = f"Cannot load model {folder}: {detail}."
        if not self.started:  # start-up: the worker goes on to the next candidate
            self._alert(" ".join(filter(None, [self.problem, problem])))
        elif self.card is not None:
            self._alert(f"{problem} The current model, {self.card.name}, stays in use.")
        else:
            self._alert(f"{problem} No model is loaded: choose another from the Model menu.")
