"""The window's source: which one to open (at start, as a stand-in, again), what the worker says of it, the playback
bar's requests, and the camera poll while the demo stands in for a missing camera.

SourcesController owns that state and tells the window what to show through its signals; the window keeps its
widgets (but for the playback bar, which is the source's own) and passes the menus' requests on.
"""

from __future__ import annotations

import sys

from PyQt5.QtCore import QObject, QSettings, QTimer, pyqtSignal
from PyQt5.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from ferdesk.gui.camera_settings import CameraSettingsDialog, camera_options
from ferdesk.gui.playback import PlaybackBar
from ferdesk.gui.worker import PipelineWorker
from ferdesk.sources import FramePlace, GrabberState, SourceError, list_cameras, open_source

VIDEO_FILTER = "Videos and images (*.mp4 *.avi *.mov *.mkv *.webm *.png *.jpg *.jpeg *.bmp *.webp);;All files (*)"
NO_CAMERA = "no camera found"
CAMERA_POLL_MS = 3000


def start_source(requested: str | None, saved: str, cameras: list[int]) -> tuple[str, str]:
    """The source to start with, and why it is only a fallback ('' when it is the one asked for or saved).

    A source named on the command line or chosen last time is tried as it is: if it cannot be opened the app says
    so and shows the demo, never a camera in place of a file. Without one, the first camera; without a camera, the
    demo, as a fallback that is not remembered, so a camera present at the next start is used again.
    """
    if requested:
        return requested, ""
    if saved and not saved.isdigit():
        return saved, ""
    if saved.isdigit() and int(saved) in cameras:
        return saved, ""
    if cameras:
        return str(cameras[0]), ""
    return "demo", NO_CAMERA


def describe_source(spec: str) -> str:
    return f"camera {spec}" if spec.isdigit() else spec


class SourcesController(QObject):
    """The source on screen and the requests about it; `parent` is the window, over which its dialogs open."""

    alert_changed = pyqtSignal(object, object)  # the source's problem (None: there is none), its button (text, slot)
    banner_changed = pyqtSignal(object)  # the "stopped delivering / ended" banner's text; None hides it
    video_message = pyqtSignal(str)  # said on the video in place of frames ('' clears it)
    opening = pyqtSignal()  # a source is asked for: it plays, so the window lifts a pause
    shown = pyqtSignal()  # a new source is on screen: faces followed and their history start afresh

    def __init__(
        self,
        worker: PipelineWorker,
        settings: QSettings,
        playback: PlaybackBar,
        requested: str | None,
        sequence: bool,
        parent: QWidget,
    ):
        super().__init__(parent)
        self.worker = worker
        self.settings = settings
        self.playback = playback
        self.requested = requested  # named on the command line
        self.sequence = sequence  # an image folder is one scene: faces are followed across its images
        self.spec = ""  # the source on screen, once the worker has opened it
        self.name = "—"
        self.fallback = ""  # why the source on screen is a fallback; '' when the user chose it
        self._pending_fallback: tuple[str, str] | None = None  # (spec, reason) of a fallback being opened
        self.place = FramePlace()  # where the frame on screen lies in its source (image folders: which file)
        self.camera_dialog: CameraSettingsDialog | None = None
        self.camera_poll = QTimer(self, interval=CAMERA_POLL_MS)
        self.camera_poll.timeout.connect(self._poll_cameras)
        playback.step.connect(self.step)
        playback.seek.connect(self.seek)
        playback.options_changed.connect(self._set_image_options)
        worker.source_changed.connect(self._on_source_changed)
        worker.source_failed.connect(self._on_source_failed)
        worker.source_state.connect(self._on_source_state)

    # ---------------------------------------------------------------- asked by the window and its menus
    def start(self) -> None:
        """The first source: the one asked for or saved, else a camera, else the demo."""
        saved = str(self.settings.value("source", "") or "")
        spec, fallback = start_source(self.requested, saved, list_cameras())
        if fallback == NO_CAMERA:
            self.alert_changed.emit(
                "No camera found: showing the built-in demo faces. Plug in a camera and "
                "choose it from the Source menu.",
                None,
            )
        self.open(spec, fallback=fallback)

    def open(self, spec: str, fallback: str = "", start: int = 0) -> bool:
        """Ask the worker for a source; it is shown once it opens (else _on_source_failed says why).

        `fallback`: why this source stands in for the one wanted ('' when the user chose it); `start`: the image
        of a folder to show first.
        """
        try:  # each image stays on screen until the user moves on (or a slideshow)
            source = open_source(
                spec,
                camera_options=camera_options(self.settings),
                loop=self.playback.loop.isChecked(),
                hold=True,
                interval=self.playback.interval,
                sequence=self.sequence,
                start=start,
            )
        except (SourceError, OSError, ValueError) as exc:
            QMessageBox.warning(self.parent(), "Cannot open source", str(exc))
            return False
        self._pending_fallback = (spec, fallback)
        self.opening.emit()
        self.worker.set_source(source, spec)
        return True

    def add_cameras_to(self, menu: QMenu) -> None:
        """An entry for each camera found now, and Camera settings… (which lists the same cameras)."""
        cameras = list_cameras()
        for index in cameras:
            action = menu.addAction(f"Camera {index}")
            action.triggered.connect(lambda _=False, i=index: self.open(str(i)))
        if not cameras:
            menu.addAction("No cameras found").setEnabled(False)
        menu.addAction("Camera &settings…").triggered.connect(lambda: self.show_camera_settings(cameras))

    def show_camera_settings(self, cameras: list[int] | None = None) -> None:
        """Choose the camera and what to ask of it; a camera on screen is opened again with the new choices."""
        cameras = list_cameras() if cameras is None else cameras
        current = int(self.spec) if self.spec.isdigit() else None
        self.camera_dialog = dialog = CameraSettingsDialog(cameras, current, self.settings, self.parent())
        dialog.accepted.connect(lambda: dialog.chosen_camera is not None and self.open(str(dialog.chosen_camera)))
        dialog.open()

    def open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.parent(), "Open video or image", "", VIDEO_FILTER)
        if path:
            self.open(path)

    def open_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self.parent(), "Open a folder of images")
        if path:
            self.open(path)

    def reconnect(self) -> None:
        if self.spec:
            self.open(self.spec, fallback=self.fallback)

    def step(self, delta: int) -> None:
        """Previous (-1) or next (+1) image of an image folder, or frame of a video file."""
        if self.place.file is not None:
            self.worker.go_to_image(step=delta)
        elif self.place.fps > 0:
            self.worker.seek(step=delta)

    def seek(self, index: int) -> None:
        """Image `index` of a folder, or frame `index` of a video file (the seek bar)."""
        if self.place.file is not None:
            self.worker.go_to_image(index)
        elif self.place.fps > 0:
            self.worker.seek(index)

    def set_sequence(self, on: bool) -> None:
        """Separate photos or frames of one scene: the folder is opened again, at the image on screen."""
        self.sequence = on
        self.settings.setValue("images/sequence", on)
        if self.place.file is not None and self.spec:
            self.open(self.spec, fallback=self.fallback, start=max(0, self.place.index))

    def set_paused(self, paused: bool) -> None:
        self.worker.set_paused(paused)
        self.playback.set_playing(not paused)

    def show_place(self, place: FramePlace) -> None:
        """Where the frame now on screen lies in its source, on the playback bar."""
        if place != self.place:
            self.place = place
            self.playback.show_place(place, self.name)

    def status_text(self) -> str:
        """The source for the status bar: its name, why it stands in, and for an image folder which image."""
        text = self.name + (f" ({self.fallback})" if self.fallback else "")
        if self.place.file is not None and self.place.count > 1:
            text += f": {self.place.file.name} ({self.place.index + 1} of {self.place.count})"
        return text

    def remember(self) -> None:
        """Save the source on screen as the next start's; a stand-in is never remembered as the user's choice."""
        if self.spec and not self.fallback:
            self.settings.setValue("source", self.spec)

    # ---------------------------------------------------------------- the playback bar's options
    def _set_image_options(self, loop: bool, interval) -> None:
        self.settings.setValue("images/loop", loop)
        self.settings.setValue("images/slideshow", self.playback.slideshow.currentText())
        self.worker.set_image_options(loop, interval)
        self.playback.show_place(self.place)

    # ---------------------------------------------------------------- the worker's word on the source
    def _on_source_changed(self, name: str, spec: str) -> None:
        pending, self._pending_fallback = self._pending_fallback, None
        self.fallback = pending[1] if pending is not None and pending[0] == spec else ""
        if not self.fallback:
            self.alert_changed.emit(None, None)  # the user's own choice is on screen: earlier problems are past
        self.camera_poll.stop()
        if self.fallback == NO_CAMERA and sys.platform.startswith("linux"):  # cheap there: /dev/video*
            self.camera_poll.start()
        self.spec = spec
        self.name = name
        self.banner_changed.emit(None)
        self.place = FramePlace()
        self.playback.show_place(self.place)
        self.shown.emit()

    def _on_source_failed(self, spec: str, error: str) -> None:
        what = describe_source(spec)
        if not self.spec and spec != "demo":  # at start-up: nothing on screen yet
            self.alert_changed.emit(f"Cannot open {what}: {error}. Showing the built-in demo faces instead.", None)
            if spec == str(self.settings.value("source", "") or ""):
                self.settings.remove("source")  # next time, start as if none was chosen (a camera if present)
            self.open("demo", fallback=f"{what} could not be opened")
        elif not self.spec:
            self.alert_changed.emit(
                f"Cannot show the demo faces: {error}. Open a video, image or folder from the File menu.", None
            )
            self.video_message.emit("No source: use File > Open…")
        elif spec == self.spec:
            self.alert_changed.emit(f"Cannot reopen {what}: {error}. Choose another source from the Source menu.", None)
        else:
            self.alert_changed.emit(f"Cannot open {what}: {error}. Still showing {self.name}.", None)

    def _poll_cameras(self) -> None:
        """While the demo stands in for a missing camera, offer a camera as soon as one is plugged in."""
        cameras = list_cameras()
        if cameras and self.fallback == NO_CAMERA:
            self.camera_poll.stop()
            self.alert_changed.emit(
                f"Camera {cameras[0]} is connected now (the demo faces are still shown).",
                (f"Use camera {cameras[0]}", lambda: self.open(str(cameras[0]))),
            )

    def _on_source_state(self, state: str, error: str) -> None:
        if state == GrabberState.RETRYING:
            self.banner_changed.emit(f"The source stopped delivering frames ({error or 'no frames'}). Retrying…")
            self.video_message.emit("Source lost: retrying…")
        elif state == GrabberState.RUNNING:
            self.banner_changed.emit(None)
            self.video_message.emit("")
        elif state == GrabberState.ENDED:
            self.banner_changed.emit("End of the video or images." + (f" ({error})" if error else ""))
