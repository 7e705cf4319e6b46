"""Cameras: finding the ones present, and reading one."""

from __future__ import annotations

import glob
import math
import sys
import time

import cv2

from ferdesk.preprocess import to_color

from ferdesk.sources.base import ReadResult, SourceError
from ferdesk.sources.capture import _CaptureSource, _QuietOpenCV


def _video_devices() -> list[int] | None:
    """Indices of /dev/videoN on Linux; None elsewhere (no cheap way to know there)."""
    if not sys.platform.startswith("linux"):
        return None
    indices = []
    for dev in glob.glob("/dev/video*"):
        suffix = dev[len("/dev/video") :]
        if suffix.isdigit():
            indices.append(int(suffix))
    return sorted(indices)


def list_cameras(max_index: int = 5) -> list[int]:
    """Indices of cameras that open, out of 0..max_index-1.

    On Linux only indices with a /dev/videoN node are probed, so a machine without cameras answers
    [] at once instead of waiting on (and logging) a failing probe per index.
    """
    devices = _video_devices()
    candidates = range(max_index) if devices is None else [i for i in devices if i < max_index]
    found = []
    with _QuietOpenCV():
        for index in candidates:
            cap = cv2.VideoCapture(index)
            try:
                if cap.isOpened():
                    found.append(index)
            finally:
                cap.release()
    return found


class CameraSource(_CaptureSource):
    """A camera through cv2.VideoCapture; timestamps are time.monotonic() at capture."""

    live = True

    def __init__(
        self,
        index: int = 0,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        backend: int = cv2.CAP_ANY,
    ) -> None:
        super().__init__()
        self.index = int(index)
        self.name = f"camera {self.index}"
        self.requested = (width, height, fps)
        self.backend = backend
        self.fps = fps
        self._cap: cv2.VideoCapture | None = None

    def open(self) -> None:
        self.close()
        devices = _video_devices()
        if devices is not None and self.index not in devices:
            raise SourceError(f"no camera at /dev/video{self.index}")
        with _QuietOpenCV():
            cap = cv2.VideoCapture(self.index, self.backend)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"camera {self.index} did not open")
        width, height, fps = self.requested
        if width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps:
            cap.set(cv2.CAP_PROP_FPS, fps)
        reported = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(reported) if reported and math.isfinite(reported) and reported > 0 else fps
        self._cap = cap
        self.ended = False

    def read(self) -> ReadResult:
        if self._cap is None:
            raise SourceError(f"{self.name} is not open")
        ok, frame = self._cap.read()
        now = time.monotonic()
        if not ok or frame is None:
            return False, None, now  # a camera never ends cleanly: the grabber treats this as a failure
        return True, to_color(frame), now


# ------------------------------------------------------------------------------------------ video files
