"""The pipeline's own thread: grab the newest frame, run the pipeline, record, hand results to the GUI.

The GUI talks to it only through `submit` (commands run on this thread) and Qt signals, so nothing heavy
ever runs on the GUI thread. Results are offered one at a time: while the GUI has not taken the last one,
newer ones replace it instead of queueing (a slow screen never makes the video lag behind).
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections import deque
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from PyQt5.QtCore import QThread, pyqtSignal

from ferdesk.pipeline import EmotionPipeline, ViewOptions
from ferdesk.sources import FrameSource, LatestFrameGrabber


class PipelineWorker(QThread):
    initialized = pyqtSignal(object)  # ModelCard of the loaded model
    init_failed = pyqtSignal(str)
    result_ready = pyqtSignal()  # call take_result() to get the newest FrameResult
    source_changed = pyqtSignal(str)  # source name
    source_state = pyqtSignal(str, str)  # state, error message ('' when none)
    model_changed = pyqtSignal(object)  # ModelCard
    model_failed = pyqtSignal(str, str)  # folder, error
    recording_changed = pyqtSignal(bool, str)  # recording?, path or error

    def __init__(self, model_dir: Path, view: ViewOptions, smoothing: float = 0.4):
        super().__init__()
        self.model_dir = Path(model_dir)
        self.view = view
        self.smoothing = smoothing
        self.pipeline: EmotionPipeline | None = None
        self._commands: queue.Queue[Callable[[], None]] = queue.Queue()
        self._stop = threading.Event()
        self._result = None
        self._result_lock = threading.Lock()
        self._grabber: LatestFrameGrabber | None = None
        self._paused = False
        self._last_index = -1
        self._writer: cv2.VideoWriter | None = None
        self._record_path: Path | None = None
        self._record_size: tuple[int, int] = (0, 0)
        self._frame_times: deque[float] = deque(maxlen=30)
        self.frames_processed = 0  # frames through the pipeline (the source may deliver more: stale ones are dropped)
        self.on_result: Callable | None = None  # called on this thread for every result (session log)

    # ---- called from the GUI thread
    def submit(self, command: Callable[[], None]) -> None:
        self._commands.put(command)

    def take_result(self):
        with self._result_lock:
            result, self._result = self._result, None
            return result

    def stop(self) -> None:
        self._stop.set()
        self.wait(5000)

    @property
    def fps(self) -> float:
        times = list(self._frame_times)
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0

    # ---- commands (run on the worker thread)
    def set_source(self, source: FrameSource) -> None:
        def command():
            if self._grabber is not None:
                self._grabber.stop()
            self._grabber = LatestFrameGrabber(source, on_state=self._emit_state).start()
            self._last_index = -1  # frame indices restart with each source
            self._paused = False
            if self.pipeline is not None:
                self.pipeline.tracker.reset()
            self._frame_times.clear()
            self.source_changed.emit(source.name)

        self.submit(command)

    def _emit_state(self, state: str) -> None:
        grabber = self._grabber
        error = grabber.error if grabber is not None and state in ("retrying", "ended") else None
        self.source_state.emit(state, str(error) if error else "")

    def set_paused(self, paused: bool) -> None:
        def command():
            self._paused = paused

        self.submit(command)

    def set_model(self, folder: Path) -> None:
        def command():
            try:
                self.pipeline.set_model(folder)
            except Exception as exc:  # any failure keeps the model in use
                self.model_failed.emit(str(folder), str(exc))
                return
            self.model_dir = Path(folder)
            self.model_changed.emit(self.pipeline.classifier.card)

        self.submit(command)

    def set_smoothing(self, alpha: float) -> None:
        def command():
            self.smoothing = alpha
            if self.pipeline is not None:
                self.pipeline.tracker.alpha = alpha

        self.submit(command)

    def start_recording(self, path: Path) -> None:
        def command():
            self._record_path = Path(path)
            self._writer = None  # opened on the next frame, when its size is known
            self.recording_changed.emit(True, str(path))

        self.submit(command)

    def stop_recording(self) -> None:
        def command():
            if self._writer is not None:
                self._writer.release()
            path, self._writer, self._record_path = self._record_path, None, None
            self.recording_changed.emit(False, str(path or ""))

        self.submit(command)

    # ---- the loop
    def run(self) -> None:
        try:
            self.pipeline = EmotionPipeline(self.model_dir, smoothing=self.smoothing, view=self.view)
        except Exception as exc:
            self.init_failed.emit(f"{exc}")
            traceback.print_exc()
            # Keep serving commands (e.g. loading another model) without a pipeline.
        else:
            self.initialized.emit(self.pipeline.classifier.card)
        while not self._stop.is_set():
            self._run_commands()
            grabber = self._grabber
            if self.pipeline is None or grabber is None or self._paused:
                time.sleep(0.02)
                continue
            grabbed = grabber.get(timeout=0.05, newer_than=self._last_index)
            if grabbed is None:
                if grabber.state == "ended":
                    time.sleep(0.05)
                continue
            self._last_index = grabbed.index
            result = self.pipeline.process(grabbed.frame, grabbed.timestamp, grabbed.index)
            self._frame_times.append(time.monotonic())
            self.frames_processed += 1
            self._record(result.annotated, grabber)
            if self.on_result is not None:
                self.on_result(result)
            with self._result_lock:
                fresh = self._result is None
                self._result = result
            if fresh:
                self.result_ready.emit()
        self._shutdown()

    def _run_commands(self) -> None:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            command()

    def _record(self, frame: np.ndarray, grabber: LatestFrameGrabber) -> None:
        if self._record_path is None:
            return
        if self._writer is None:
            fps = grabber.source.fps or self.fps or 15.0
            fourcc = cv2.VideoWriter_fourcc(*("MJPG" if self._record_path.suffix.lower() == ".avi" else "mp4v"))
            self._record_size = (frame.shape[1], frame.shape[0])
            self._writer = cv2.VideoWriter(str(self._record_path), fourcc, float(fps), self._record_size)
            if not self._writer.isOpened():
                path, self._writer, self._record_path = self._record_path, None, None
                self.recording_changed.emit(False, f"cannot write video to {path}")
                return
        if (frame.shape[1], frame.shape[0]) != self._record_size:  # the source changed mid-recording
            frame = cv2.resize(frame, self._record_size)
        self._writer.write(frame)

    def _shutdown(self) -> None:
        self._run_commands()
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._grabber is not None:
            self._grabber.stop()
        if self.pipeline is not None:
            self.pipeline.close()
