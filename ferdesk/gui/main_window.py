"""The main window: it builds the live view, side panel and status bar, starts PipelineWorker and the controllers
of its sources (gui/sources_control.py), models (gui/models_control.py) and training dialogs
(gui/training_control.py), and shows the results. Menus: gui/menus.py; snapshots, recording, export and saving
before quitting: gui/saving.py."""

from __future__ import annotations

import time
from dataclasses import replace
from importlib import metadata

import cv2
import numpy as np
from PyQt5.QtCore import QSettings, Qt, QTimer, QUrl
from PyQt5.QtGui import QDesktopServices
from PyQt5.QtWidgets import QLabel, QMainWindow, QMessageBox, QSplitter, QVBoxLayout, QWidget

from ferdesk import __version__
from ferdesk.defaults import ANALYSE_EVERY, ANALYSE_EVERY_CHOICES, FRAME_RATE_CAP, FRAME_RATE_CAPS
from ferdesk.facelog import FaceLog
from ferdesk.gui.menus import FACE_DETECTION, SMOOTHING_CHOICES, MenusMixin
from ferdesk.gui.models_control import ModelsController, model_candidates
from ferdesk.gui.notices import AlertBar, SourceBanner, SpeedTip
from ferdesk.gui.onboarding import FirstRunHint, UserGuideDialog
from ferdesk.gui.personalise import ask_correction
from ferdesk.gui.playback import PlaybackBar
from ferdesk.gui.saving import SavingMixin
from ferdesk.gui.sources_control import SourcesController
from ferdesk.gui.summary import SummaryDialog
from ferdesk.gui.training_control import TrainingController
from ferdesk.gui.views import HistoryPlot, ProbabilityPanel, VideoView, bgr_to_qimage
from ferdesk.gui.worker import CpuMeter, PipelineWorker
from ferdesk.model_card import ModelCard
from ferdesk.paths import USER_GUIDE
from ferdesk.pipeline import FrameResult, ViewOptions
from ferdesk.session import SessionSummary
from ferdesk.sources import FramePlace

LOAD_POLL_MS = 1000  # how often the status bar's CPU load is measured


class MainWindow(MenusMixin, SavingMixin, QMainWindow):
    def __init__(self, settings: QSettings | None = None, source: str | None = None, model: str | None = None):
        super().__init__()
        self.settings = settings or QSettings()
        self.setWindowTitle("ferdesk — facial expression recognition")
        self.resize(1180, 720)
        self._restore_options()
        self.last_result: FrameResult | None = None
        self.selected_track: int | None = None  # the face the user clicked
        self.history_track: int | None = None  # the face the side panel shows
        self.session_log = FaceLog([], {"app": f"ferdesk {__version__}"})
        self.summary = SessionSummary()
        self.summary_dialog: SummaryDialog | None = None
        self.guide_dialog: UserGuideDialog | None = None
        self.worker = PipelineWorker(
            model_candidates(model, self.settings.value("model")),
            self.view,
            SMOOTHING_CHOICES[self.smoothing_name],
            self.detector_mode,
            self.max_fps,
            self.analyse_every,
        )
        self._build_widgets()
        self._start_controllers(source, model)
        self._build_status_bar()
        self._connect_worker()
        self._build_menus()
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        # Heavy work (MediaPipe, TensorFlow Lite) starts once the window is on screen.
        QTimer.singleShot(0, self._start)

    # ---------------------------------------------------------------- building the window
    def _restore_options(self) -> None:
        """The view and performance choices of the last session (a value no longer offered gives the default)."""
        self.view = ViewOptions(
            show_boxes=self._bool("view/boxes", True),
            show_labels=self._bool("view/labels", True),
            show_bars=self._bool("view/bars", True),
            mirror=self._bool("view/mirror", False),
        )
        smoothing = str(self.settings.value("view/smoothing", "Medium"))
        self.smoothing_name = smoothing if smoothing in SMOOTHING_CHOICES else "Medium"
        detector = str(self.settings.value("view/detector", "auto"))
        self.detector_mode = detector if detector in FACE_DETECTION else "auto"
        self.max_fps = self._choice("performance/max_fps", FRAME_RATE_CAPS, FRAME_RATE_CAP)
        self.analyse_every = self._choice("performance/analyse_every", ANALYSE_EVERY_CHOICES, ANALYSE_EVERY)

    def _build_widgets(self) -> None:
        """The alert bar and first-run hint over the video (with the playback bar) and the side panel."""
        self.video = VideoView()
        self.video.face_clicked.connect(self._select_face)
        self.video.setContextMenuPolicy(Qt.CustomContextMenu)
        self.video.customContextMenuRequested.connect(self._correct_face)
        self.playback = PlaybackBar()
        self.playback.loop.setChecked(self._bool("images/loop", False))
        interval = str(self.settings.value("images/slideshow", ""))
        if interval in [self.playback.slideshow.itemText(i) for i in range(self.playback.slideshow.count())]:
            self.playback.slideshow.setCurrentText(interval)
        self.playback.play_toggled.connect(lambda playing: self.pause_action.setChecked(not playing))
        self.probabilities = ProbabilityPanel()
        self.history = HistoryPlot()
        self.banner_box = SourceBanner()
        self.banner, self.demo_button = self.banner_box.label, self.banner_box.demo_button
        self.banner_box.reconnect_button.clicked.connect(self.reconnect)
        self.demo_button.clicked.connect(lambda: self.set_source("demo"))
        self.alert_box = AlertBar()
        self.alert, self.alert_action = self.alert_box.label, self.alert_box.action
        self.speed_tip = SpeedTip()
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.addWidget(self.probabilities, 3)
        side_layout.addWidget(QLabel("Recent emotions of this face"))
        side_layout.addWidget(self.history, 2)
        side_layout.addWidget(self.banner_box)
        video_box = QWidget()
        video_layout = QVBoxLayout(video_box)
        video_layout.setContentsMargins(0, 0, 0, 0)
        video_layout.addWidget(self.video, 1)
        video_layout.addWidget(self.playback)
        splitter = QSplitter()
        splitter.addWidget(video_box)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)
        central = QWidget()
        central_layout = QVBoxLayout(central)
        central_layout.setContentsMargins(0, 0, 0, 0)
        central_layout.addWidget(self.alert_box)
        central_layout.addWidget(self.speed_tip)
        # Shown on the first launch only (until dismissed): how to read the window.
        self.first_run_hint = FirstRunHint()
        self.first_run_hint.guide_requested.connect(self.show_user_guide)
        self.first_run_hint.setVisible(not self._bool("onboarding/hint_shown", False))
        self.settings.setValue("onboarding/hint_shown", True)
        central_layout.addWidget(self.first_run_hint)
        central_layout.addWidget(splitter, 1)
        self.setCentralWidget(central)

    def _start_controllers(self, source: str | None, model: str | None) -> None:
        """Sources, models and training dialogs: each keeps its own state and says through signals what to show."""
        sequence = self._bool("images/sequence", False)
        self.sources = SourcesController(self.worker, self.settings, self.playback, source, sequence, self)
        self.sources.alert_changed.connect(lambda text, action: self.alert_box.say("source", text, action))
        self.sources.banner_changed.connect(self.banner_box.say)
        self.sources.video_message.connect(self.video.show_message)
        self.sources.opening.connect(lambda: self.pause_action.setChecked(False))
        self.sources.shown.connect(self._on_source_shown)
        self.models = ModelsController(self.worker, self.settings, model, self)
        self.models.alert_changed.connect(lambda text: self.alert_box.say("model", text))
        self.models.speed_tip.connect(self.speed_tip.say)
        self.speed_tip.switch_requested.connect(self.models.set_model)
        self.speed_tip.turned_off.connect(lambda: self.set_speed_tips(False))
        self.models.card_changed.connect(self._show_card)
        self.models.video_message.connect(self._show_model_message)
        self.training = TrainingController(self.settings, lambda: self.card, self)
        self.training.model_ready.connect(self.set_model)
        self.own_faces = self.training.own_faces  # the user's labelled faces for Teach it my face, in memory only

    def _build_status_bar(self) -> None:
        """What is on screen and how fast; the last file saved; recording; a training run going on."""
        self.status_label = QLabel("Loading…")
        self.statusBar().addWidget(self.status_label, 1)
        # The last file saved, with a link to its folder.
        self.notice = QLabel()
        self.notice.setTextFormat(Qt.RichText)
        self.notice.linkActivated.connect(lambda folder: QDesktopServices.openUrl(QUrl.fromLocalFile(folder)))
        self.notice.hide()
        self.notice_timer = QTimer(self, singleShot=True, interval=15000)
        self.notice_timer.timeout.connect(self.notice.hide)
        self.statusBar().addPermanentWidget(self.notice)
        self.rec_label = QLabel()
        self.rec_label.setStyleSheet("QLabel { color: #e62828; font-weight: bold; }")
        self.rec_label.hide()
        self.statusBar().addPermanentWidget(self.rec_label)
        self.rec_timer = QTimer(self, interval=500)
        self.rec_timer.timeout.connect(self._show_recording_time)
        self.training_indicator = self.training.indicator
        self.training_button, self.training_bar = self.training_indicator.button, self.training_indicator.bar
        self.statusBar().addPermanentWidget(self.training_indicator)
        self.cpu_meter = CpuMeter()
        self.cpu_percent: float | None = None  # of all cores, over the last LOAD_POLL_MS
        self.load_timer = QTimer(self, interval=LOAD_POLL_MS)
        self.load_timer.timeout.connect(self._measure_load)
        self.load_timer.start()

    def _connect_worker(self) -> None:
        """The worker's results and recording reach the window (its source and model signals go to the controllers)."""
        self.worker.on_result = self._log_result
        self.worker.result_ready.connect(self._on_result)
        self.worker.recording_changed.connect(self._on_recording_changed)

    def _start(self) -> None:
        self.worker.start()
        self.sources.start()

    # ---------------------------------------------------------------- settings helpers
    def _bool(self, key: str, default: bool) -> bool:
        value = self.settings.value(key, default)
        return value in (True, "true", "1", 1) if not isinstance(value, bool) else value

    def _choice(self, key: str, choices: tuple[int, ...], default: int) -> int:
        try:
            value = int(self.settings.value(key, default))
        except (TypeError, ValueError):
            return default
        return value if value in choices else default

    # ---------------------------------------------------------------- sources (gui/sources_control.py)
    # What menus.py and the tests use of the window's source, passed on to the controller.
    source_spec = property(lambda self: self.sources.spec)
    source_fallback = property(lambda self: self.sources.fallback)
    last_place = property(lambda self: self.sources.place)
    camera_poll = property(lambda self: self.sources.camera_poll)
    camera_dialog = property(lambda self: self.sources.camera_dialog)

    def set_source(self, spec: str, fallback: str = "", start: int = 0) -> bool:
        return self.sources.open(spec, fallback, start)

    def show_camera_settings(self, cameras: list[int] | None = None) -> None:
        self.sources.show_camera_settings(cameras)

    def reconnect(self) -> None:
        self.sources.reconnect()

    def step_image(self, delta: int) -> None:
        self.sources.step(delta)

    def _set_sequence(self, on: bool) -> None:
        self.sources.set_sequence(on)

    def _set_paused(self, paused: bool) -> None:
        self.sources.set_paused(paused)
        self.video.set_badge("paused", "❚❚ Paused" if paused else None)
        self._update_status()

    def open_file(self) -> None:
        self.sources.open_file()

    def open_folder(self) -> None:
        self.sources.open_folder()

    def _on_source_shown(self) -> None:
        self.history.clear()
        self.selected_track = None
        self.history_track = None
        self._change_view(followed=None, redraw=False)
        self._update_status()

    # ---------------------------------------------------------------- models (gui/models_control.py)
    card = property(lambda self: self.models.card)  # the model in use; None while none is loaded
    model_actions = property(lambda self: self.models.actions)

    def set_model(self, folder) -> None:
        self.models.set_model(folder)

    def load_model_folder(self) -> None:
        self.models.load_folder()

    def show_model_info(self) -> None:
        self.models.show_info()

    def _show_card(self, card: ModelCard) -> None:
        self.probabilities.set_values(card.labels, None, "No face")
        self.history.clear(card.labels)
        self._update_status()

    def _show_model_message(self, text: str) -> None:
        self.video.show_message(text)
        self._update_status()

    # ---------------------------------------------------------------- training dialogs (gui/training_control.py)
    retrain_dialog = property(
        lambda self: self.training.retrain_dialog, lambda self, dialog: setattr(self.training, "retrain_dialog", dialog)
    )
    personalise_dialog = property(lambda self: self.training.personalise_dialog)

    def open_retrain(self) -> None:
        self.training.open_retrain()

    def open_personalise(self) -> None:
        self.training.open_personalise()

    def _correct_face(self, pos) -> None:
        """Right-click on a face: "This is actually …" adds its crop, so labelled, to Teach it my face's samples."""
        face, result = self.video.face_at(pos), self.last_result
        if face is None or result is None:
            return
        emotion = ask_correction(self, result.labels, self.video.mapToGlobal(pos))
        if emotion is None:
            return
        self.training.add_correction(result, face, emotion)
        self.statusBar().showMessage(
            f"Face #{face.track_id} added as {emotion} to your samples "
            f"({len(self.own_faces)}): Model > Teach it my face…",
            8000,
        )

    # ---------------------------------------------------------------- results
    def _log_result(self, result: FrameResult, place: FramePlace) -> None:
        """Every analysed frame, on the worker thread: into the session's log and its summary."""
        worker, at = self.worker, time.time()
        model = worker.pipeline.classifier.card.name if worker.pipeline is not None else ""
        file = place.file.name if place.file is not None else None  # an image's file
        self.session_log.add(result, worker.source_opened, file or worker.source_file, model, at)
        self.summary.add(result, worker.scene_number, worker.source_label, model, at, file)

    def show_summary(self) -> None:
        if self.summary_dialog is None:
            self.summary_dialog = SummaryDialog(self.summary, self)
        self.summary_dialog.refresh(fit=True)
        self.summary_dialog.show()
        self.summary_dialog.raise_()

    def _select_face(self, track_id: int) -> None:
        self.selected_track = track_id
        self._change_view(followed=track_id)  # paused, or an image held on screen: mark it now

    def _shown_face(self, faces):
        """The clicked face; else the face already shown, while it stays in view; else the largest."""
        for wanted in (self.selected_track, self.history_track):
            chosen = [f for f in faces if f.track_id == wanted]
            if chosen:
                return chosen[0]
        return max(faces, key=lambda f: f.box.w * f.box.h) if faces else None

    def _on_result(self) -> None:
        shown = self.worker.take_result()
        if shown is None:
            return
        result = shown.result
        self.last_result = result
        self.sources.show_place(shown.place)
        self.video.show_frame(bgr_to_qimage(result.annotated), result.faces)
        face = self._shown_face(result.faces)
        if shown.analysed:
            self.training.offer(result, face)  # Teach it my face's capture takes crops of this face
            if not self.training.busy():  # a trainer sharing the CPU would make any model look slow
                self.models.note_speed(result)  # where classifying is slow, a lighter model is offered
        if face is None:
            self.probabilities.set_values(result.labels, None, "No face in view")
        else:
            top, confidence = face.top(result.labels)
            self.probabilities.set_values(
                result.labels, face.probabilities, f"Face #{face.track_id}: {top} ({confidence:.0%})"
            )
            if face.track_id != self.history_track:
                self.history.clear(result.labels)
                self.history_track = face.track_id
                self._change_view(followed=face.track_id)  # mark it at once, also on an image held on screen
            self.history.add(result.timestamp, face.probabilities)
        self._update_status()

    def set_speed_tips(self, on: bool) -> None:
        """Whether the window may suggest a lighter model where classifying is slow (remembered)."""
        self.models.set_speed_tips(on)
        self.speed_tips_action.setChecked(on)

    def _update_status(self) -> None:
        result = self.last_result
        parts = [f"Source: {self.sources.status_text()}", f"Model: {self.card.name if self.card else '—'}"]
        if self.pause_action.isChecked():
            parts.append("Paused")
        if result is not None:
            worker = self.worker
            shown = f" ({worker.shown_fps:.1f} shown)" if worker.analyse_every > 1 else ""
            parts += [
                f"Faces: {len(result.faces)}",
                f"{worker.fps:.1f} FPS analysed{shown}",
                f"{result.total_ms:.1f} ms/frame",
                f"Dropped {worker.frames_dropped} of {worker.frames_from_source} frames",
            ]
        if self.cpu_percent is not None:
            parts.append(f"CPU {self.cpu_percent:.0f}% of {self.cpu_meter.cores} cores")
        self.status_label.setText("   |   ".join(parts))

    def _measure_load(self) -> None:
        self.cpu_percent = self.cpu_meter.read()
        self._update_status()

    # ---------------------------------------------------------------- view and help
    def _set_view(self, key: str, on: bool) -> None:
        attribute = {"boxes": "show_boxes", "labels": "show_labels", "bars": "show_bars", "mirror": "mirror"}[key]
        self.settings.setValue(f"view/{key}", bool(on))
        self._change_view(**{attribute: bool(on)})

    def _change_view(self, redraw: bool = True, **changes) -> None:
        """The window's view options, changed and sent to the worker as a command (never shared with its thread);
        redrawn at once, as a paused video or an image held on screen shows no new frame."""
        self.view = replace(self.view, **changes)
        self.worker.set_view(self.view)
        if redraw:
            self.worker.redraw()

    def set_detector_mode(self, mode: str) -> None:
        self.detector_mode = mode
        self.detector_actions[mode].setChecked(True)
        self.worker.set_detector_mode(mode)
        self.settings.setValue("view/detector", mode)

    def set_smoothing(self, name: str) -> None:
        self.smoothing_name = name
        self.smoothing_actions[name].setChecked(True)
        self.worker.set_smoothing(SMOOTHING_CHOICES[name])
        self.settings.setValue("view/smoothing", name)

    def set_frame_rate_cap(self, fps: int) -> None:
        """Take at most `fps` frames a second from the source (0: no cap)."""
        self.max_fps = fps
        self.frame_rate_actions[fps].setChecked(True)
        self.worker.set_frame_rate_cap(fps)
        self.settings.setValue("performance/max_fps", fps)

    def set_analyse_every(self, n: int) -> None:
        """Analyse one frame in `n`; the others are shown with the last boxes and bars."""
        self.analyse_every = n
        self.analyse_every_actions[n].setChecked(True)
        self.worker.set_analyse_every(n)
        self.settings.setValue("performance/analyse_every", n)

    def toggle_full_screen(self, on: bool) -> None:
        self.showFullScreen() if on else self.showNormal()

    def about_text(self) -> str:
        def version(name: str) -> str:
            try:
                return metadata.version(name)
            except metadata.PackageNotFoundError:
                return "not installed"

        model = self.card.summary if self.card else "none"
        return (
            f"ferdesk {__version__}: real-time facial expression recognition.\n\n"
            f"Model in use: {model}\n\nPyQt5 {version('PyQt5')}, OpenCV {cv2.__version__}, "
            f"MediaPipe {version('mediapipe')}, LiteRT {version('ai-edge-litert')}, NumPy {np.__version__}.\n"
            "Face detector: MediaPipe BlazeFace (Apache-2.0)."
        )

    def show_user_guide(self) -> None:
        if self.guide_dialog is None:
            self.guide_dialog = UserGuideDialog(USER_GUIDE, self)
        self.guide_dialog.show()
        self.guide_dialog.raise_()

    def show_about(self) -> None:
        QMessageBox.about(self, "About ferdesk", self.about_text())

    # ---------------------------------------------------------------- shutdown (asking first: gui/saving.py)
    def closeEvent(self, event) -> None:
        if event.spontaneous() and not self.confirm_quit():  # the window's close button (a program's close() is not)
            event.ignore()
            return
        self.settings.setValue("geometry", self.saveGeometry())
        self.sources.remember()
        self.training.shutdown()
        if self.record_action.isChecked():
            self.worker.stop_recording()
        self.worker.stop()
        self.settings.sync()
        super().closeEvent(event)
