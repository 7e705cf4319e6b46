"""Video files and still images (one image, a folder, or a glob), with their place in the file."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import cv2
import numpy as np

from ferdesk.media import IMAGE_SUFFIXES, ImageError, read_image
from ferdesk.preprocess import to_color

from ferdesk.sources.base import FramePlace, FrameSource, ReadResult, SourceError
from ferdesk.sources.capture import _CaptureSource

log = logging.getLogger(__name__)


class VideoFileSource(_CaptureSource):
    """A video file; timestamps are media time (frame index / fps), so they are reproducible."""

    DEFAULT_FPS = 30.0

    def __init__(self, path: str | os.PathLike, loop: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = self.path.name
        self.loop = loop
        self.frame_count: int | None = None
        self.position = 0  # index of the next frame
        self._cap: cv2.VideoCapture | None = None
        self._stat: tuple[int, float] | None = None
        self._wanted: int | None = None  # set by seek() on another thread, taken by read()

    def seek(self, index: int) -> None:
        """Read frame `index` next (safe from another thread; kept across a re-open)."""
        last = (self.frame_count or index + 1) - 1
        self._wanted = min(max(0, int(index)), max(0, last))

    def _file_stat(self) -> tuple[int, float] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_size, st.st_mtime

    def open(self) -> None:
        self.close()
        if not self.path.is_file():
            raise SourceError(f"video file not found: {self.path}")
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot decode video file {self.path}: not a video or image format ferdesk reads")
        # FFmpeg's tty demuxer 'plays' .txt/.csv/.nfo files as ANSI-art frames: never what the user meant.
        if (int(cap.get(cv2.CAP_PROP_FOURCC)) & 0xFFFFFFFF).to_bytes(4, "little") == b"ansi":
            cap.release()
            raise SourceError(f"cannot read {self.path} as a video: it is a text file")
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and math.isfinite(fps) and 0 < fps < 1000 else self.DEFAULT_FPS
        count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        self.frame_count = int(count) if count and math.isfinite(count) and count > 0 else None
        self._cap = cap
        self._stat = self._file_stat()
        self.position = 0
        self.ended = False

    def read(self) -> ReadResult:
        if self._cap is None:
            raise SourceError(f"{self.name} is not open")
        wanted, self._wanted = self._wanted, None
        if wanted is not None and wanted != self.position:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, wanted)
            self.position, self.jumped = wanted, True
        ok, frame = self._cap.read()
        if not ok or frame is None:
            # The decoder only says "no frame"; a file that vanished or changed under us is a failure,
            # anything else is the end of the stream.
            if self._file_stat() != self._stat:
                raise SourceError(f"video file {self.path} disappeared or changed while playing")
            if self.loop and self.position > 0:
                self.open()
                return self.read()
            self.ended = True
            return False, None, self.position / (self.fps or self.DEFAULT_FPS)
        timestamp = self.position / (self.fps or self.DEFAULT_FPS)
        self.position += 1
        return True, to_color(frame), timestamp

    def place(self) -> FramePlace:
        return FramePlace(self.position - 1, self.frame_count or 0, None, self.fps or self.DEFAULT_FPS)


# ------------------------------------------------------------------------------------------------ images


class ImageSource(FrameSource):
    """One image file or a folder of images (sorted by name); unreadable files are skipped.

    By default each read() gives the next image, paced by `fps`, and timestamps are index / fps (what
    `ferdesk annotate` walks through). With `hold`, as in the app, the image on screen stays until go_to() or
    step() moves on, or, with `interval`, for that many seconds each (a slideshow); read() then hands out the
    same array again and again, `fps` times a second, so a reader sees at once that nothing new came.
    `sequence` says the images are frames of one scene (tracked across them) rather than separate photos.
    """

    HOLD_FPS = 10.0  # how soon a held source shows the image asked for

    def __init__(
        self,
        path: str | os.PathLike,
        loop: bool = False,
        fps: float = 2.0,
        hold: bool = False,
        interval: float | None = None,
        sequence: bool = False,
        start: int = 0,
    ) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = self.path.name or str(self.path)
        self.loop = loop
        self.hold = hold
        self.fps = self.HOLD_FPS if hold else float(fps)
        self.interval = interval
        self.sequence = sequence
        self.start = start
        self.paths: list[Path] = []
        self.position = 0  # without hold: the index of the next image to read
        self.index = -1  # the index of the image last read
        self.current_path: Path | None = None
        self._open = False
        self._held: np.ndarray | None = None
        self._wanted: int | None = None  # set by go_to() on another thread, taken by read()
        self._reads = 0
        self._shown_at = 0  # reads at which the held image came on screen

    def open(self) -> None:
        if self.path.is_dir():
            paths = sorted(p for p in self.path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif self.path.is_file():
            paths = [self.path]
        else:
            raise SourceError(f"image file or folder not found: {self.path}")
        if not paths:
            raise SourceError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {self.path}")
        self.paths = paths
        self.position = 0
        self.ended = False
        self._held = None
        first = self.index if 0 <= self.index < len(paths) else self.start  # a re-open goes on where it was
        self._wanted = min(max(0, first), len(paths) - 1) if self.hold else None
        self._reads = 0
        self._open = True

    @property
    def frame_count(self) -> int:
        return len(self.paths)

    def go_to(self, index: int) -> None:
        """Show image `index` next (held sources; safe from another thread). Past either end: wraps with
        `loop`, else stops at the first or last image."""
        count = len(self.paths) or 1
        index = index % count if self.loop else min(max(0, index), count - 1)
        if index != self.index:
            self._wanted = index

    def step(self, delta: int) -> None:
        self.go_to(self.index + delta)

    def place(self) -> FramePlace:
        return FramePlace(self.index, len(self.paths), self.current_path)

    def read(self) -> ReadResult:
        if not self._open:
            raise SourceError(f"{self.name} is not open")
        if self.hold:
            return self._read_held()
        skipped = 0
        while True:
            if self.position >= len(self.paths):
                if not self.loop or skipped >= len(self.paths):
                    self.ended = True
                    return False, None, self.position / self.fps
                self.position = 0
            path = self.paths[self.position]
            timestamp = self.position / self.fps
            self.index = self.position
            self.position += 1
            try:
                image = read_image(path)
            except ImageError as exc:
                log.warning("skipping %s", exc)
                skipped += 1
                continue
            self.current_path = path
            return True, image, timestamp

    def _read_held(self) -> ReadResult:
        self._reads += 1
        timestamp = self._reads / self.fps
        wanted, self._wanted = self._wanted, None
        if wanted is None and self.interval and self._reads - self._shown_at >= self.interval * self.fps:
            if self.index + 1 < len(self.paths) or self.loop:  # a slideshow stops at the last image without loop
                wanted = (self.index + 1) % len(self.paths)
        if wanted is None and self._held is not None:
            return True, self._held, timestamp
        forward = wanted is None or wanted >= self.index
        index = self.index if wanted is None else wanted
        for _ in range(len(self.paths)):  # unreadable files are passed over in the direction of travel
            try:
                image = read_image(self.paths[index])
            except ImageError as exc:
                log.warning("skipping %s", exc)
                index = (index + (1 if forward else -1)) % len(self.paths)
                continue
            self.index, self.current_path, self._held, self._shown_at = index, self.paths[index], image, self._reads
            return True, image, timestamp
        return False, None, timestamp  # none readable (any more): a failure, answered by re-opening

    def close(self) -> None:
        self._open = False
        self._held = None

    @property
    def is_open(self) -> bool:
        return self._open


# -------------------------------------------------------------------------------------------------- demo
