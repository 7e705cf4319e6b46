"""The pipeline's own thread: grab the newest frame, run the pipeline, record, hand results to the GUI.

The GUI talks to it only through `submit` (commands run on this thread) and Qt signals, so nothing heavy
ever runs on the GUI thread. Results are offered one at a time: while the GUI has not taken the last one,
newer ones replace it instead of queueing (a slow screen never makes the video lag behind).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
from PyQt5.QtCore import QThread, pyqtSignal

from ferdesk.defaults import ANALYSE_EVERY, FRAME_RATE_CAP, SMOOTHING
from ferdesk.media import VideoWriteError, VideoWriter
from ferdesk.model_card import ModelFolderError
from ferdesk.overlay import draw_overlay
from ferdesk.pipeline import EmotionPipeline, FrameResult, ViewOptions
from ferdesk.preprocess import Box, to_color
from ferdesk.sources import (
    FramePlace,
    FrameSource,
    GrabberState,
    ImageSource,
    LatestFrameGrabber,
    SourceError,
    VideoFileSource,
    check_source,
)

MAX_RECORDING_GAP_S = 10.0  # a longer stall (e.g. a suspended laptop) is not written out as a frozen frame

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shown:
    """A result as the GUI gets it: the analysed frame and where it lies in its source."""

    result: FrameResult
    place: FramePlace
    mirrored: bool  # whether result.frame was mirrored (the view option when it was analysed)
    analysed: bool = True  # False: a frame shown with the faces of the last analysis (View > Analyse every Nth)


class CpuMeter:
    """This process's CPU time (every thread: Qt, the grabber, MediaPipe's and LiteRT's own) per second of wall
    time since the last reading, as a share of the cores it may use: 100% is every core busy."""

    def __init__(self) -> None:
        self.cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        self._last = (time.monotonic(), time.process_time())

    def read(self) -> float:
        now = (time.monotonic(), time.process_time())
        (wall, cpu), self._last = self._last, now
        return 100.0 * (now[1] - cpu) / ((now[0] - wall) * self.cores) if now[0] > wall else 0.0


class PipelineWorker(QThread):
    initialized = pyqtSignal(object)  # ModelCard of the first start-up candidate that loaded
    init_failed = pyqtSignal(str)
    result_ready = pyqtSignal()  # call take_result() to get the newest FrameResult
    source_changed = pyqtSignal(str, str)  # source name, the spec it was asked for
    source_failed = pyqtSignal(str, str)  # spec, why it cannot be shown (the previous source keeps running)
    source_state = pyqtSignal(str, str)  # GrabberState, error message ('' when none)
    model_changed = pyqtSignal(object)  # ModelCard
    model_failed = pyqtSignal(str, str)  # folder, error
    recording_changed = pyqtSignal(bool, str)  # recording?, path or error

    def __init__(
        self,
        model_dirs: Path | Sequence[Path],
        view: ViewOptions,
        smoothing: float = SMOOTHING,
        detector_mode: str = "auto",
        max_fps: float = FRAME_RATE_CAP,
        analyse_every: int = ANALYSE_EVERY,
    ):
        """`model_dirs`: the model to start with, then the ones to fall back on, in order;
        `detector_mode`: where to look for faces (ferdesk.detect.DETECTOR_MODES); `max_fps` and `analyse_every`:
        see set_frame_rate_cap and set_analyse_every."""
        super().__init__()
        candidates = [model_dirs] if isinstance(model_dirs, (str, Path)) else list(model_dirs)
        self.model_candidates = [Path(c) for c in candidates]
        self.model_dir: Path | None = None
        self.view = replace(view)  # the worker's own copy: the GUI changes it only through set_view
        self.smoothing = smoothing
        self.detector_mode = detector_mode
        self.pipeline: EmotionPipeline | None = None
        self._commands: queue.Queue[Callable[[], None]] = queue.Queue()
        self._stop = threading.Event()
        self._result = None
        self._result_lock = threading.Lock()
        self._grabber: LatestFrameGrabber | None = None
        self._paused = False
        self._show_one = False  # paused, but a step or a seek asks for one frame to be analysed
        self._last_index = -1
        self._writer: VideoWriter | None = None  # the clip being recorded
        self._record_origin = 0.0  # time.monotonic() when the clip began (moved on past long stalls)
        self._record_last: tuple[np.ndarray, float] | None = None  # the frame written last, and when it was grabbed
        self._last_frame: np.ndarray | None = None  # the last frame analysed: a held image is not analysed again
        self._shown: Shown | None = None  # the last result offered, kept to redraw it
        self._frame_times: deque[float] = deque(maxlen=30)
        self.frames_processed = 0  # frames through the pipeline (the source may deliver more: stale ones are dropped)
        self.frames_offered = 0  # frames offered to the screen: analysed, or shown with the last analysis' faces
        self.max_fps = check_frame_rate_cap(max_fps)
        self.analyse_every = check_analyse_every(analyse_every)
        self._next_due = 0.0  # time.monotonic() before which the frame-rate cap takes no frame
        self._since_analysed = 0  # frames shown with the last analysis' faces since it ran
        self._faces_current = False  # the last analysis' faces belong to the scene on screen
        self._shown_times: deque[float] = deque(maxlen=30)
        # Of the source on screen: the frames its grabber gave, and those never shown (the cap skipped them, the
        # analysis was still busy, or a newer result replaced one before the screen took it).
        self.frames_from_source = 0
        self.frames_dropped = 0
        self._count_gap = True  # False on resuming: a camera's frames while paused were not dropped by load
        self.on_result: Callable | None = None  # on_result(result, place), on this thread for every analysed frame
        self.scene_number = 0  # counts fresh starts (a source, a photo): faces of different scenes are never one face
        self.source_label = ""
        # For the session log, set with the source on this thread (so they always belong to the frames analysed):
        # what the user opened ('demo', 'camera 0', a path), and the video's name ('' for other sources).
        self.source_opened = ""
        self.source_file = ""

    # ---- called from the GUI thread
    def submit(self, command: Callable[[], None]) -> None:
        self._commands.put(command)

    def take_result(self) -> Shown | None:
        with self._result_lock:
            result, self._result = self._result, None
            return result

    def stop(self) -> None:
        self._stop.set()
        self.wait(5000)

    @property
    def frames_written(self) -> int:
        """Frames in the clip being recorded."""
        writer = self._writer
        return writer.frames if writer is not None else 0

    @property
    def recording_seconds(self) -> float:
        """How long the clip being recorded plays (it is written at the source's real rate)."""
        writer = self._writer
        return writer.frames / writer.fps if writer is not None else 0.0

    @property
    def fps(self) -> float:
        """Frames analysed a second, over the last 30."""
        return rate(self._frame_times)

    @property
    def shown_fps(self) -> float:
        """Frames offered to the screen a second (analysed, or shown with the last faces), over the last 30."""
        return rate(self._shown_times)

    # ---- commands (run on the worker thread)
    def set_source(self, source: FrameSource, spec: str = "") -> None:
        """Show `source` once it has opened and given a frame; otherwise say why and keep the current one."""

        def command():
            try:
                check_source(source)
            except SourceError as exc:
                self.source_failed.emit(spec or source.name, str(exc))
                return
            if self._grabber is not None:
                self._grabber.stop()
            self._grabber = LatestFrameGrabber(source, on_state=self._emit_state).start()
            self._last_index = -1  # frame indices restart with each source
            self._paused = self._show_one = False
            self._last_frame = self._shown = None
            self._forget_faces()
            self._frame_times.clear()
            self._shown_times.clear()
            self.frames_from_source = self.frames_dropped = 0
            self.source_label = source.name
            self.source_opened = spec if spec and not spec.isdigit() else source.name
            self.source_file = source.path.name if isinstance(source, VideoFileSource) else ""
            self.source_changed.emit(source.name, spec or source.name)

        self.submit(command)

    def _emit_state(self, state: GrabberState) -> None:
        grabber = self._grabber
        error = grabber.error if grabber is not None and state in (GrabberState.RETRYING, GrabberState.ENDED) else None
        self.source_state.emit(state, str(error) if error else "")

    def _forget_faces(self) -> None:
        """A new source, or a photo unrelated to the last: no tracks, smoothing or detector state carried over,
        and faces numbered from 1 again."""
        self.scene_number += 1
        self._faces_current = False
        if self.pipeline is not None:
            self.pipeline.reset()
            self.pipeline.tracker.reset(restart_ids=True)

    def set_paused(self, paused: bool) -> None:
        """Stop analysing; a video file or image folder also stops where it is (a camera cannot)."""

        def command():
            self._paused = paused
            self._count_gap = self._count_gap and paused
            if self._grabber is not None:
                self._grabber.pause(paused)

        self.submit(command)

    def seek(self, index: int | None = None, step: int = 0) -> None:
        """Show frame `index` of a video file, or the one `step` frames on from the one on screen; while paused
        that one frame is analysed. A jump (not a single step) starts the faces afresh."""

        def command():
            grabber = self._grabber
            source = grabber.source if grabber is not None else None
            if not isinstance(source, VideoFileSource):
                return
            here = self._shown.place.index if self._shown is not None else 0
            target = here + step if index is None else index
            source.seek(target)
            if abs(target - here) > 1:
                self._forget_faces()
            if grabber.state.finished:  # the end was reached: read the file again from there
                grabber.stop()
                grabber = self._grabber = LatestFrameGrabber(source, on_state=self._emit_state).start()
                self._last_index = -1
                grabber.pause(self._paused)
            if self._paused:
                latest = grabber.latest()  # a frame read before the pause is not the one asked for
                self._last_index = max(self._last_index, latest.index if latest is not None else -1)
                self._show_one = True
                grabber.read_one()

        self.submit(command)

    def redraw(self) -> None:
        """Draw the last result again with the current view options: while paused, or on a held image, no new
        frame would show a change of the View menu."""

        def command():
            shown = self._shown
            if shown is None:
                return
            result, mirrored = shown.result, shown.mirrored
            frame, faces = result.frame, result.faces
            if self.view.mirror != mirrored:
                frame, width = np.ascontiguousarray(frame[:, ::-1]), frame.shape[1]
                faces = [replace(f, box=Box(width - f.box.x - f.box.w, f.box.y, f.box.w, f.box.h)) for f in faces]
            annotated = draw_overlay(
                frame,
                faces,
                result.labels,
                self.view.show_boxes,
                self.view.show_labels,
                self.view.show_bars,
                followed=self.view.followed,
            )
            self._offer(
                Shown(replace(result, frame=frame, faces=faces, annotated=annotated), shown.place, self.view.mirror)
            )

        self.submit(command)

    def go_to_image(self, index: int | None = None, step: int = 0) -> None:
        """Show image `index` of a held image folder, or the one `step` images on from the one on screen."""

        def command():
            source = self._grabber.source if self._grabber is not None else None
            if isinstance(source, ImageSource):
                source.go_to(source.index + step if index is None else index)

        self.submit(command)

    def set_image_options(self, loop: bool, interval: float | None) -> None:
        """Whether a video or an image folder goes round from its end to its start, and the slideshow's seconds per
        image."""

        def command():
            source = self._grabber.source if self._grabber is not None else None
            if isinstance(source, ImageSource):
                source.loop, source.interval = loop, interval
            elif isinstance(source, VideoFileSource):
                source.loop = loop

        self.submit(command)

    def set_model(self, folder: Path) -> None:
        def command():
            try:
                self._load_model(Path(folder))
            except Exception as exc:  # any failure keeps the model in use
                self.model_failed.emit(str(folder), str(exc))
                return
            self.model_changed.emit(self.pipeline.classifier.card)

        self.submit(command)

    def _load_model(self, folder: Path) -> None:
        """Build the pipeline on the first model that loads; later, swap its classifier (the whole model is checked)."""
        if self.pipeline is None:
            self.pipeline = EmotionPipeline(folder, self.detector_mode, smoothing=self.smoothing, view=self.view)
        else:
            self.pipeline.set_model(folder)
        self.model_dir = folder

    def set_view(self, view: ViewOptions) -> None:
        """What the overlay draws from now on (a copy is taken: the GUI never shares a mutable view)."""
        view = replace(view)

        def command():
            self.view = view
            if self.pipeline is not None:
                self.pipeline.view = view

        self.submit(command)

    def set_smoothing(self, alpha: float) -> None:
        def command():
            self.smoothing = alpha
            if self.pipeline is not None:
                self.pipeline.tracker.alpha = alpha

        self.submit(command)

    def set_detector_mode(self, mode: str) -> None:
        def command():
            if self.pipeline is not None:
                self.pipeline.set_detector_mode(mode)  # an unknown mode raises here and changes nothing
            self.detector_mode = mode

        self.submit(command)

    def set_frame_rate_cap(self, fps: float) -> None:
        """Take at most `fps` frames a second from the source (0: as many as the pipeline keeps up with). The frames
        in between are dropped unread by the pipeline, and with them their cost."""
        fps = check_frame_rate_cap(fps)

        def command():
            self.max_fps = fps
            self._next_due = 0.0

        self.submit(command)

    def set_analyse_every(self, n: int) -> None:
        """Analyse one frame in `n`; the frames in between are shown with the faces of the last analysis."""
        n = check_analyse_every(n)

        def command():
            self.analyse_every = n
            self._since_analysed = 0

        self.submit(command)

    def start_recording(self, path: Path) -> None:
        """Record the annotated frames to `path` (.mp4 or .avi) at the source's frame rate (30 for images)."""

        def command():
            self._close_recording()
            source = self._grabber.source if self._grabber is not None else None
            fps = source.fps if source is not None and source.fps and not isinstance(source, ImageSource) else 30.0
            try:  # the file itself is opened on the first frame, whose size it takes
                # check_writes=False: catching OpenCV's write errors swaps the whole process's stderr on every frame
                self._writer = VideoWriter(path, min(fps, 60.0), check_writes=False)
            except VideoWriteError as exc:  # e.g. a suffix it cannot write
                self.recording_changed.emit(False, str(exc))
                return
            self._record_last = None
            self.recording_changed.emit(True, str(path))

        self.submit(command)

    def stop_recording(self) -> None:
        def command():
            writer = self._writer
            try:
                if writer is not None and self._record_last is not None:  # the last frame stayed on screen until now
                    self._write_until(self._record_last[0], time.monotonic())
                self._close_recording()
            except VideoWriteError as exc:
                self._close_recording(check=False)
                self.recording_changed.emit(False, str(exc))
                return
            self.recording_changed.emit(False, str(writer.name) if writer is not None else "")

        self.submit(command)

    def _close_recording(self, check: bool = True) -> None:
        writer, self._writer, self._record_last = self._writer, None, None
        if writer is not None:
            writer.close(check)

    # ---- the loop
    def _start_pipeline(self) -> None:
        """Load the first candidate model that works; each one that does not is reported with its reason."""
        for folder in self.model_candidates:
            try:
                self._load_model(folder)
            except ModelFolderError as exc:
                self.model_failed.emit(str(folder), str(exc))
                continue
            except Exception as exc:  # not the model's fault (e.g. the face detector): no other model helps
                log.exception("the pipeline could not start with %s", folder)
                self.init_failed.emit(f"{type(exc).__name__}: {exc}")
                return
            self.initialized.emit(self.pipeline.classifier.card)
            return
        self.init_failed.emit("none of the model folders could be loaded")

    def run(self) -> None:
        self._start_pipeline()  # without a pipeline, commands (e.g. loading another model) are still served
        while not self._stop.is_set():
            self._run_commands()
            grabber = self._grabber
            if self.pipeline is None or grabber is None or (self._paused and not self._show_one):
                time.sleep(0.02)
                continue
            if self.max_fps and not self._show_one:
                wait = self._next_due - time.monotonic()
                if wait > 0:  # in short sleeps: commands are still served at once
                    time.sleep(min(wait, 0.02))
                    continue
            grabbed = grabber.get(timeout=0.05, newer_than=self._last_index)
            if grabbed is None:
                if grabber.state == GrabberState.ENDED:
                    time.sleep(0.05)
                continue
            source = grabber.source
            if not isinstance(source, ImageSource):  # a held image is handed out again and again: not new frames
                self._count_frames(grabbed.index)
            self._last_index = grabbed.index
            stepped, self._show_one = self._show_one, False
            if grabbed.frame is self._last_frame:  # an image held on screen: analysed once is enough
                continue
            if self.max_fps:
                self._next_due = time.monotonic() + 1.0 / self.max_fps
            if isinstance(source, ImageSource) and not source.sequence:
                self._forget_faces()  # separate photos: each stands alone
            self._last_frame = grabbed.frame
            mirrored = self.view.mirror
            last = self._shown
            if (
                self.analyse_every > 1
                and self._since_analysed + 1 < self.analyse_every
                and not stepped
                and self._faces_current
                and last is not None
                and last.mirrored == mirrored
                and not isinstance(source, ImageSource)
            ):
                shown = self._with_last_faces(last, grabbed)
                self._since_analysed += 1
            else:
                result = self.pipeline.process(grabbed.frame, grabbed.timestamp, grabbed.index)
                self._frame_times.append(time.monotonic())
                self.frames_processed += 1
                self._since_analysed, self._faces_current = 0, True
                if self.on_result is not None:
                    self.on_result(result, grabbed.place)
                shown = Shown(result, grabbed.place, mirrored)
            self._shown_times.append(time.monotonic())
            self.frames_offered += 1
            self._record(shown.result.annotated, grabber, grabbed.captured_at)
            self._offer(shown)
        self._shutdown()

    def _count_frames(self, index: int) -> None:
        """The grabber numbers the frames it reads: a gap since the last one taken is frames nobody saw."""
        gap = max(0, index - self._last_index - 1) if self._count_gap else 0
        self._count_gap = True
        self.frames_from_source += gap + 1
        self.frames_dropped += gap

    def _with_last_faces(self, last: Shown, grabbed) -> Shown:
        """The new frame, not analysed, with the boxes and probabilities of the last analysis drawn on it."""
        frame = to_color(grabbed.frame)
        if self.view.mirror:
            frame = cv2.flip(frame, 1)
        result = last.result
        annotated = draw_overlay(
            frame,
            result.faces,
            result.labels,
            self.view.show_boxes,
            self.view.show_labels,
            self.view.show_bars,
            followed=self.view.followed,
        )
        result = replace(result, index=grabbed.index, timestamp=grabbed.timestamp, frame=frame, annotated=annotated)
        return Shown(result, grabbed.place, last.mirrored, analysed=False)

    def _offer(self, shown: Shown) -> None:
        self._shown = shown
        with self._result_lock:
            replaced, self._result = self._result, shown
        if replaced is None:
            self.result_ready.emit()
        elif replaced.result.index != shown.result.index:  # (a redraw offers the same frame again)
            self.frames_dropped += 1  # the screen never took it

    def _run_commands(self) -> None:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            command()

    def _record(self, frame: np.ndarray, grabber: LatestFrameGrabber, grabbed_at: float) -> None:
        """Write the frame as often as the time it stayed on screen asks: the pipeline keeps up with fewer frames
        than the source gives, and the clip must still play at the real rate (time.monotonic(), as the user saw).
        A frame of another size (the source changed mid-recording) is scaled to the clip's by the writer."""
        writer = self._writer
        if writer is None:
            return
        try:
            if self._record_last is None:  # the clip's first frame
                self._record_origin = grabbed_at
            else:  # the frame before stayed on screen until this one came
                if grabbed_at - self._record_last[1] > MAX_RECORDING_GAP_S:  # e.g. a suspended laptop: not written
                    self._record_origin = grabbed_at - writer.frames / writer.fps
                self._write_until(self._record_last[0], grabbed_at)
            writer.write(frame)
        except VideoWriteError as exc:  # the file cannot be opened: what was written (if anything) is kept
            self._close_recording(check=False)
            self.recording_changed.emit(False, str(exc))
            return
        self._record_last = (frame, grabbed_at)

    def _write_until(self, frame: np.ndarray, moment: float) -> None:
        """Repeat `frame` until the clip reaches `moment` (time.monotonic())."""
        writer = self._writer
        due = int((moment - self._record_origin) * writer.fps)
        for _ in range(due - writer.frames):
            writer.write(frame)

    def _shutdown(self) -> None:
        self._run_commands()
        self._close_recording()
        if self._grabber is not None:
            self._grabber.stop()
        if self.pipeline is not None:
            self.pipeline.close()


def rate(times: deque[float]) -> float:
    """Events a second over the time.monotonic() moments in `times`."""
    times = list(times)
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0


def check_frame_rate_cap(fps: float) -> float:
    if not fps >= 0:
        raise ValueError(f"a frame-rate cap is 0 (none) or a positive number of frames a second, not {fps!r}")
    return float(fps)


def check_analyse_every(n: int) -> int:
    if int(n) != n or n < 1:
        raise ValueError(f"analyse every Nth frame needs a whole N of 1 or more, not {n!r}")
    return int(n)
