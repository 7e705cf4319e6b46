"""Sources read through one cv2.VideoCapture: cameras and video files share its handling."""

from __future__ import annotations


import cv2


from ferdesk.sources.base import FrameSource


class _QuietOpenCV:
    """Silence OpenCV's warnings while probing devices that may not exist."""

    def __enter__(self) -> None:
        self._level = None
        try:
            self._level = cv2.utils.logging.getLogLevel()
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        except AttributeError:
            pass

    def __exit__(self, *exc: object) -> None:
        if self._level is not None:
            cv2.utils.logging.setLogLevel(self._level)


class _CaptureSource(FrameSource):
    """A source backed by one cv2.VideoCapture (cameras and video files)."""

    _cap: cv2.VideoCapture | None = None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    @property
    def is_open(self) -> bool:
        return self._cap is not None
