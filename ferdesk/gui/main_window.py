"""The main window: live view, side panel, menus and status bar. It drives PipelineWorker and shows its results."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import cv2
import numpy as np
from PyQt5.QtCore import QSettings, QTimer
from PyQt5.QtWidgets import (
    QAction, QActionGroup, QFileDialog, QHBoxLayout, QLabel, QMainWindow, QMessageBox, QPushButton, QSplitter,
    QVBoxLayout, QWidget,
)

from ferdesk import __version__
from ferdesk.facelog import FaceLog
from ferdesk.gui.model_info import ModelInfoDialog
from ferdesk.gui.retrain import RetrainDialog
from ferdesk.gui.views import HistoryPlot, ProbabilityPanel, VideoView, bgr_to_qimage
from ferdesk.gui.worker import PipelineWorker
from ferdesk.model_card import ModelCard, ModelFolderError, read_card
from ferdesk.paths import model_folders
from ferdesk.pipeline import DEFAULT_MODEL, ViewOptions
from ferdesk.sources import ImageSource, SourceError, list_cameras, open_source

SMOOTHING = {"Off": 1.0, "Light": 0.6, "Medium": 0.4, "Strong": 0.2}
VIDEO_FILTER = "Videos and images (*.mp4 *.avi *.mov *.mkv *.webm *.png *.jpg *.jpeg *.bmp *.webp);;All files (*)"


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, source: str | None = None, model: str | None = None):
        super().__init__()
        self.settings = settings or QSettings()
        self.setWindowTitle("ferdesk — facial expression recognition")
        self.resize(1180, 720)
        self.view = ViewOptions(
            show_boxes=self._bool("view/boxes", True), show_labels=self._bool("view/labels", True),
            show_bars=self._bool("view/bars", True), mirror=self._bool("view/mirror", False))
        smoothing = str(self.settings.value("view/smoothing", "Medium"))
        self.smoothing_name = smoothing if smoothing in SMOOTHING else "Medium"
        self.card: ModelCard | None = None
        self.last_result = None
        self.selected_track: int | None = None
        self.history_track: int | None = None
        self.source_spec = source or str(self.settings.value("source", ""))
        self.session_log = FaceLog([], {"app": f"ferdesk {__version__}"})
        self.notice = ""
        self.retrain_dialog: RetrainDialog | None = None

        self.video = VideoView()
        self.video.face_clicked.connect(self._select_face)
        self.probabilities = ProbabilityPanel()
        self.history = HistoryPlot()
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.reconnect_button = QPushButton("Reconnect")
        self.reconnect_button.clicked.connect(self.reconnect)
        self.demo_button = QPushButton("Switch to demo")
        self.demo_button.clicked.connect(lambda: self.set_source("demo"))
        self.banner_box = QWidget()
        banner_layout = QVBoxLayout(self.banner_box)
        banner_layout.addWidget(self.banner)
        buttons = QHBoxLayout()
        buttons.addWidget(self.reconnect_button)
        buttons.addWidget(self.demo_button)
        banner_layout.addLayout(buttons)
        self.banner_box.hide()
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.addWidget(self.probabilities, 3)
        side_layout.addWidget(QLabel("Recent emotions of this face"))
        side_layout.addWidget(self.history, 2)
        side_layout.addWidget(self.banner_box)
        splitter = QSplitter()
        splitter.addWidget(self.video)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)
        self.setCentralWidget(splitter)
        self.status_label = QLabel("Loading…")
        self.statusBar().addWidget(self.status_label, 1)

        self.notice_timer = QTimer(self, singleShot=True)
        self.notice_timer.timeout.connect(lambda: self.video.show_message(""))
        self._build_menus()
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)

        self.model_dir = self._initial_model(model)
        self.worker = PipelineWorker(self.model_dir or DEFAULT_MODEL, self.view, SMOOTHING[self.smoothing_name])
        self.worker.on_result = self.session_log.add
        self.worker.initialized.connect(self._on_initialized)
        self.worker.init_failed.connect(self._on_init_failed)
        self.worker.result_ready.connect(self._on_result)
        self.worker.source_changed.connect(self._on_source_changed)
        self.worker.source_state.connect(self._on_source_state)
        self.worker.model_changed.connect(self._on_model_changed)
        self.worker.model_failed.connect(self._on_model_failed)
        self.worker.recording_changed.connect(self._on_recording_changed)
        # Heavy work (MediaPipe, TensorFlow Lite) starts once the window is on screen.
        QTimer.singleShot(0, self._start)

    # ---------------------------------------------------------------- settings helpers
    def _bool(self, key: str, default: bool) -> bool:
        value = self.settings.value(key, default)
        return value in (True, "true", "1", 1) if not isinstance(value, bool) else value

    def _initial_model(self, requested: str | None) -> Path | None:
        for candidate in (requested, self.settings.value("model"), DEFAULT_MODEL, *model_folders()):
            if candidate:
                try:
                    return read_card(candidate).folder
                except ModelFolderError:
                    continue
        return None

    # ---------------------------------------------------------------- menus
    def _action(self, menu, text: str, slot, shortcut: str | None = None, checkable: bool = False,
                checked: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(shortcut)
        action.setCheckable(checkable)
        if checkable:
            action.setChecked(checked)
            action.toggled.connect(slot)
        else:
            action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.open_action = self._action(file_menu, "&Open video or image…", self.open_file, "Ctrl+O")
        self.open_folder_action = self._action(file_menu, "Open image &folder…", self.open_folder, "Ctrl+Shift+O")
        file_menu.addSeparator()
        self.snapshot_action = self._action(file_menu, "Save &snapshot…", self.save_snapshot, "Ctrl+S")
        self.record_action = self._action(file_menu, "&Record annotated video", self.toggle_recording, "Ctrl+R",
                                          checkable=True)
        self.export_action = self._action(file_menu, "&Export face log (CSV/JSON)…", self.export_log, "Ctrl+E")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, "Ctrl+Q")

        self.source_menu = bar.addMenu("&Source")
        self.source_menu.aboutToShow.connect(self._fill_source_menu)
        self.demo_action = QAction("&Demo faces", self)
        self.demo_action.setShortcut("Ctrl+D")
        self.demo_action.triggered.connect(lambda: self.set_source("demo"))
        self.pause_action = QAction("&Pause", self, checkable=True)
        self.pause_action.setShortcut("Space")
        self.pause_action.toggled.connect(lambda paused: self.worker.set_paused(paused))
        self.reconnect_action = QAction("&Reconnect", self)
        self.reconnect_action.setShortcut("Ctrl+Shift+R")
        self.reconnect_action.triggered.connect(self.reconnect)
        self._fill_source_menu()

        self.model_menu = bar.addMenu("&Model")
        self.model_menu.aboutToShow.connect(self._fill_model_menu)
        self.load_model_action = QAction("&Load model folder…", self)
        self.load_model_action.setShortcut("Ctrl+L")
        self.load_model_action.triggered.connect(self.load_model_folder)
        self.card_action = QAction("Model &card and report…", self)
        self.card_action.setShortcut("Ctrl+I")
        self.card_action.triggered.connect(self.show_model_info)
        self.retrain_action = QAction("&Retrain…", self)
        self.retrain_action.setShortcut("Ctrl+T")
        self.retrain_action.triggered.connect(self.open_retrain)
        self._fill_model_menu()

        view_menu = bar.addMenu("&View")
        self._action(view_menu, "&Boxes", lambda on: self._set_view("boxes", on), "B", True, self.view.show_boxes)
        self._action(view_menu, "&Labels", lambda on: self._set_view("labels", on), "L", True, self.view.show_labels)
        self._action(view_menu, "Probability &bars", lambda on: self._set_view("bars", on), "P", True,
                     self.view.show_bars)
        self._action(view_menu, "&Mirror image", lambda on: self._set_view("mirror", on), "M", True, self.view.mirror)
        smoothing_menu = view_menu.addMenu("&Smoothing")
        group = QActionGroup(self)
        self.smoothing_actions = {}
        for name in SMOOTHING:
            action = QAction(name, self, checkable=True)
            action.setChecked(name == self.smoothing_name)
            action.triggered.connect(lambda _=False, n=name: self.set_smoothing(n))
            group.addAction(action)
            smoothing_menu.addAction(action)
            self.smoothing_actions[name] = action
        view_menu.addSeparator()
        self._action(view_menu, "&Full screen", self.toggle_full_screen, "F11", True, False)

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", self.show_shortcuts, "F1")
        self._action(help_menu, "&About ferdesk", self.show_about)

    def _fill_source_menu(self) -> None:
        self.source_menu.clear()
        cameras = list_cameras()
        for index in cameras:
            action = self.source_menu.addAction(f"Camera {index}")
            action.triggered.connect(lambda _=False, i=index: self.set_source(str(i)))
        if not cameras:
            self.source_menu.addAction("No cameras found").setEnabled(False)
        self.source_menu.addAction(self.demo_action)
        self.source_menu.addSeparator()
        self.source_menu.addAction(self.pause_action)
        self.source_menu.addAction(self.reconnect_action)

    def _fill_model_menu(self) -> None:
        self.model_menu.clear()
        self.model_actions = {}
        for folder in model_folders():
            try:
                card = read_card(folder)
            except ModelFolderError:
                continue
            action = self.model_menu.addAction(card.summary)
            action.setCheckable(True)
            action.setChecked(self.card is not None and self.card.folder == card.folder)
            action.triggered.connect(lambda _=False, f=folder: self.set_model(f))
            self.model_actions[str(folder)] = action
        self.model_menu.addSeparator()
        for action in (self.load_model_action, self.card_action, self.retrain_action):
            self.model_menu.addAction(action)

    # ---------------------------------------------------------------- start-up
    def _start(self) -> None:
        self.worker.start()
        self.set_source(self._initial_source())

    def _initial_source(self) -> str:
        spec = self.source_spec
        cameras = list_cameras()
        if spec.isdigit() and int(spec) in cameras:
            return spec
        if spec and not spec.isdigit() and (spec == "demo" or Path(spec).exists()):
            return spec
        if cameras:
            return str(cameras[0])
        self.notice = "No camera found: showing the built-in demo faces."
        return "demo"

    # ---------------------------------------------------------------- sources
    def set_source(self, spec: str) -> bool:
        try:
            source = open_source(spec)
        except (SourceError, OSError, ValueError) as exc:
            QMessageBox.warning(self, "Cannot open source", str(exc))
            return False
        if isinstance(source, ImageSource):
            source.loop = True  # stills stay on screen and follow view changes
        self.source_spec = spec
        self.banner_box.hide()
        self.pause_action.setChecked(False)
        self.worker.set_source(source)
        return True

    def reconnect(self) -> None:
        if self.source_spec:
            self.set_source(self.source_spec)

    def open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video or image", "", VIDEO_FILTER)
        if path:
            self.set_source(path)

    def open_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of images")
        if path:
            self.set_source(path)

    def _on_source_changed(self, name: str) -> None:
        self.source_name = name
        self.history.clear()
        self.selected_track = None
        self._update_status()

    def _on_source_state(self, state: str, error: str) -> None:
        if state == "retrying":
            self.banner.setText(f"The source stopped delivering frames ({error or 'no frames'}). Retrying…")
            self.banner_box.show()
            self.video.show_message("Source lost: retrying…")
        elif state == "running":
            self.banner_box.hide()
            self.video.show_message("")
        elif state == "ended":
            self.banner.setText("End of the video or images." + (f" ({error})" if error else ""))
            self.banner_box.show()

    # ---------------------------------------------------------------- models
    def set_model(self, folder) -> None:
        self.worker.set_model(Path(folder))

    def load_model_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Load a model folder (card.json, model.tflite)")
        if not path:
            return
        try:
            read_card(path)
        except ModelFolderError as exc:
            QMessageBox.warning(self, "Not a model folder", f"{exc}\n\nThe current model stays in use.")
            return
        self.set_model(path)

    def _on_initialized(self, card: ModelCard) -> None:
        self._on_model_changed(card)
        self.video.show_message(self.notice or "Starting source…")
        if self.notice:
            self.notice_timer.start(4000)

    def _on_init_failed(self, error: str) -> None:
        self.video.show_message(f"No usable model: {error}\nUse Model > Load model folder… or Model > Retrain….")

    def _on_model_changed(self, card: ModelCard) -> None:
        self.card = card
        self.model_dir = card.folder
        self.settings.setValue("model", str(card.folder))
        self.probabilities.set_values(card.labels, None, "No face")
        self.history.clear(card.labels)
        self._update_status()

    def _on_model_failed(self, folder: str, error: str) -> None:
        QMessageBox.warning(self, "Cannot load model", f"{folder}:\n{error}\n\nThe current model stays in use.")

    def show_model_info(self) -> None:
        if self.card is not None:
            ModelInfoDialog(self.card, self).exec_()

    def open_retrain(self) -> None:
        if self.retrain_dialog is None:
            self.retrain_dialog = RetrainDialog(self, data_path=str(self.settings.value("retrain/data", "")))
            self.retrain_dialog.model_ready.connect(self.set_model)
        if not self.retrain_dialog.running():
            self.retrain_dialog.set_start_model(self.card)
        self.retrain_dialog.show()
        self.retrain_dialog.raise_()

    # ---------------------------------------------------------------- results
    def _select_face(self, track_id: int) -> None:
        self.selected_track = track_id

    def _shown_face(self, faces):
        """The clicked face; else the face already shown, while it stays in view; else the largest."""
        for wanted in (self.selected_track, self.history_track):
            chosen = [f for f in faces if f.track_id == wanted]
            if chosen:
                return chosen[0]
        return max(faces, key=lambda f: f.box.w * f.box.h) if faces else None

    def _on_result(self) -> None:
        result = self.worker.take_result()
        if result is None:
            return
        self.last_result = result
        self.video.show_frame(bgr_to_qimage(result.annotated), result.faces)
        face = self._shown_face(result.faces)
        if face is None:
            self.probabilities.set_values(result.labels, None, "No face in view")
        else:
            top, confidence = face.top(result.labels)
            self.probabilities.set_values(result.labels, face.probabilities,
                                          f"Face #{face.track_id}: {top} ({confidence:.0%})")
            if face.track_id != self.history_track:
                self.history.clear(result.labels)
                self.history_track = face.track_id
            self.history.add(result.timestamp, face.probabilities)
        self._update_status()

    def _update_status(self) -> None:
        result = self.last_result
        parts = [f"Source: {getattr(self, 'source_name', self.source_spec or '—')}",
                 f"Model: {self.card.name if self.card else '—'}"]
        if result is not None:
            parts += [f"Faces: {len(result.faces)}", f"{self.worker.fps:.1f} FPS", f"{result.total_ms:.1f} ms/frame"]
        if self.record_action.isChecked():
            parts.append("● REC")
        self.status_label.setText("   |   ".join(parts))

    # ---------------------------------------------------------------- files
    def save_snapshot(self) -> None:
        if self.last_result is None:
            QMessageBox.information(self, "Snapshot", "No frame yet.")
            return
        frame = self.last_result.annotated  # taken now, so the saved frame is the one on screen
        path, _ = QFileDialog.getSaveFileName(self, "Save snapshot", "ferdesk-snapshot.png", "PNG (*.png)")
        if path and not cv2.imwrite(path, frame):
            QMessageBox.warning(self, "Snapshot", f"Could not write {path}")

    def toggle_recording(self, on: bool) -> None:
        if on:
            path, _ = QFileDialog.getSaveFileName(self, "Record annotated video", "ferdesk-recording.mp4",
                                                  "MP4 video (*.mp4);;AVI video (*.avi)")
            if not path:
                self.record_action.blockSignals(True)
                self.record_action.setChecked(False)
                self.record_action.blockSignals(False)
                return
            self.worker.start_recording(Path(path))
        else:
            self.worker.stop_recording()
        self._update_status()

    def _on_recording_changed(self, recording: bool, detail: str) -> None:
        if not recording and detail.startswith("cannot"):
            QMessageBox.warning(self, "Recording", detail)
        self.record_action.blockSignals(True)
        self.record_action.setChecked(recording)
        self.record_action.blockSignals(False)
        self.statusBar().showMessage(f"Recording to {detail}" if recording else f"Saved {detail}", 5000)
        self._update_status()

    def export_log(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export face log", "ferdesk-log.csv", "CSV (*.csv);;JSON (*.json)")
        if path:
            self.session_log.write(path)
            self.statusBar().showMessage(f"Wrote {self.session_log.face_count} face rows to {path}", 5000)

    # ---------------------------------------------------------------- view and help
    def _set_view(self, key: str, on: bool) -> None:
        attribute = {"boxes": "show_boxes", "labels": "show_labels", "bars": "show_bars", "mirror": "mirror"}[key]
        setattr(self.view, attribute, bool(on))
        self.settings.setValue(f"view/{key}", bool(on))

    def set_smoothing(self, name: str) -> None:
        self.smoothing_name = name
        self.smoothing_actions[name].setChecked(True)
        self.worker.set_smoothing(SMOOTHING[name])
        self.settings.setValue("view/smoothing", name)

    def toggle_full_screen(self, on: bool) -> None:
        self.showFullScreen() if on else self.showNormal()

    def shortcuts_text(self) -> str:
        rows = []
        for menu in self.menuBar().findChildren(type(self.source_menu)):
            for action in menu.actions():
                if action.shortcut().toString():
                    rows.append(f"{action.shortcut().toString():<14} {action.text().replace('&', '')}")
        for action in (self.demo_action, self.pause_action, self.reconnect_action, self.load_model_action,
                       self.card_action, self.retrain_action):
            line = f"{action.shortcut().toString():<14} {action.text().replace('&', '')}"
            if line not in rows:
                rows.append(line)
        return "\n".join(sorted(set(rows)))

    def show_shortcuts(self) -> None:
        box = QMessageBox(QMessageBox.Information, "Keyboard shortcuts", self.shortcuts_text(), parent=self)
        box.setStyleSheet("QLabel { font-family: monospace; }")
        box.exec_()

    def about_text(self) -> str:
        def version(name: str) -> str:
            try:
                return metadata.version(name)
            except metadata.PackageNotFoundError:
                return "not installed"

        model = self.card.summary if self.card else "none"
        return (f"ferdesk {__version__}: real-time facial expression recognition.\n\n"
                f"Model in use: {model}\n\nPyQt5 {version('PyQt5')}, OpenCV {cv2.__version__}, "
                f"MediaPipe {version('mediapipe')}, LiteRT {version('ai-edge-litert')}, NumPy {np.__version__}.\n"
                "Face detector: MediaPipe BlazeFace (Apache-2.0).")

    def show_about(self) -> None:
        QMessageBox.about(self, "About ferdesk", self.about_text())

    # ---------------------------------------------------------------- shutdown
    def closeEvent(self, event) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("source", self.source_spec)
        if self.retrain_dialog is not None:
            self.retrain_dialog.shutdown()
        if self.record_action.isChecked():
            self.worker.stop_recording()
        self.worker.stop()
        self.settings.sync()
        super().closeEvent(event)
