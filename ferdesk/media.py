"""Image and video files: which suffixes ferdesk reads and writes, the one image reader and the one video writer.

Sources, annotate and training's folder loader all take these from here, so a file one of them accepts the others
accept too; `ferdesk annotate` and the app's recorder write video through `VideoWriter`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from ferdesk.outputs import disk_nearly_full
from ferdesk.preprocess import to_color

# Still images OpenCV decodes and encodes (a GIF gives its first frame).
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".gif"})
# Video files ferdesk writes, with the FourCC that OpenCV's own backends can encode on every platform.
VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG"}


class ImageError(ValueError):
    """An image file that cannot be read; the message names the file."""


def read_image(path: str | os.PathLike) -> np.ndarray:
    """A contiguous BGR uint8 HxWx3 image, turned as its EXIF orientation says; raises ImageError naming the file.

    np.fromfile + imdecode keeps non-ASCII paths working on Windows; any bit depth, gray or alpha is normalised
    by preprocess.to_color (16-bit by its top byte, alpha dropped).
    """
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror or exc})") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH) if data.size else None
    if image is None:
        raise ImageError(f"{path}: unreadable or unsupported image")
    return to_color(image)


class VideoWriteError(OSError):
    """A video that cannot be opened or written; the message names the file the user asked for."""


class _OpenCvWarnings:
    """OpenCV reports a frame it failed to write (full disk, I/O error) only as a log line on stderr, once per
    frame; the call itself succeeds. Send stderr (fd 2) to a pipe for the length of such a call and read it."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)

    @contextlib.contextmanager
    def captured(self) -> Iterator[list[str]]:
        text: list[str] = []
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(self._write, 2)
        try:
            yield text
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            with contextlib.suppress(BlockingIOError):
                while chunk := os.read(self._read, 1 << 16):
                    text.append(chunk.decode(errors="replace"))

    def close(self) -> None:
        os.close(self._read)
        os.close(self._write)


class VideoWriter:
    """A video file (codec from the suffix: VIDEO_CODECS), opened on the first frame, whose size it takes; later
    frames of another size (a source that changes mid-way) are scaled to it.

    name: the path to name in errors, when `path` is a staging file (ferdesk.outputs). check_writes: catch the
    frames OpenCV fails to write (it only logs them) and raise VideoWriteError instead of losing them silently.
    """

    def __init__(
        self, path: str | os.PathLike, fps: float, name: str | os.PathLike | None = None, check_writes: bool = True
    ) -> None:
        self.path = Path(path)
        self.name = Path(name) if name is not None else self.path
        self.codec = VIDEO_CODECS.get(self.path.suffix.lower())
        if self.codec is None:
            raise VideoWriteError(
                f"cannot write video {self.name}: unsupported suffix {self.path.suffix or '(none)'}"
                f"; use {' or '.join(VIDEO_CODECS)}"
            )
        self.fps = float(fps)
        self.frames = 0
        self.size: tuple[int, int] | None = None  # (width, height), once the first frame came
        self._writer: cv2.VideoWriter | None = None
        self._warnings = _OpenCvWarnings() if check_writes else None

    @property
    def is_open(self) -> bool:
        return self._writer is not None

    def _failure(self) -> VideoWriteError:
        reason = "no space left on device" if disk_nearly_full(self.path.parent) else "the video encoder failed"
        return VideoWriteError(f"cannot write {self.name}: {reason}")

    def _checked(self, call, *args) -> None:
        if self._warnings is None:
            call(*args)
            return
        with self._warnings.captured() as text:
            call(*args)
        text = "".join(text)
        if "Failed to write" in text or "Could not write" in text:
            raise self._failure()
        if text:  # anything else OpenCV had to say goes where it was going
            sys.stderr.write(text)

    def write(self, frame: np.ndarray) -> None:
        """Append one BGR uint8 frame; raises VideoWriteError when the file cannot be opened or written."""
        if self._writer is None:
            self.size = (frame.shape[1], frame.shape[0])
            writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*self.codec), self.fps, self.size)
            if not writer.isOpened():
                if disk_nearly_full(self.path.parent):
                    raise self._failure()
                raise VideoWriteError(f"cannot write video {self.name} (codec {self.codec})")
            self._writer = writer
        if (frame.shape[1], frame.shape[0]) != self.size:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        self._checked(self._writer.write, frame)
        self.frames += 1

    def close(self, check: bool = True) -> None:
        """Finish the file (OpenCV writes the container's index here); check=False when it is being thrown away."""
        writer, self._writer = self._writer, None
        try:
            if writer is not None and check:
                self._checked(writer.release)
            elif writer is not None:
                writer.release()
        finally:
            if self._warnings is not None:
                self._warnings.close()
                self._warnings = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.close(check=kind is None)
