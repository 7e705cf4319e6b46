"""Frame sources (camera, video file, images, built-in demo) and a threaded grabber that keeps only the newest frame.

Every source has `name`, `fps` (None when unknown), `live`, `ended`, and
`open()`, `read() -> (ok, frame, timestamp_s)`, `close()`. A frame is a contiguous BGR uint8 HxWx3 array.
`read()` returns ok=False with `ended` set at a clean end of stream; any other ok=False, or a raised
exception, is a failure that LatestFrameGrabber answers by re-opening the source.
"""

from __future__ import annotations

import glob
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ferdesk.media import IMAGE_SUFFIXES, ImageError, read_image
from ferdesk.paths import ASSETS_DIR
from ferdesk.preprocess import to_color

log = logging.getLogger(__name__)

# (ok, BGR uint8 HxWx3 frame or None, timestamp in seconds)
ReadResult = tuple[bool, "np.ndarray | None", float]

DEMO_DIR = ASSETS_DIR / "demo"


class SourceError(RuntimeError):
    """A source could not be opened or stopped delivering frames."""


@dataclass(frozen=True)
class FramePlace:
    """Where a frame lies in its source: its index, how many there are (0: live or endless), the file it is."""

    index: int = -1
    count: int = 0
    file: Path | None = None
    fps: float = 0.0  # frames a second of a video file (0: not a video file)


class FrameSource:
    """Base class: the small interface every source offers."""

    name: str = "source"
    fps: float | None = None
    live: bool = False  # live sources block in read(); the grabber never paces them
    jumped: bool = False  # set by read() when its frame does not follow the one before (a seek): pacing restarts

    def __init__(self) -> None:
        self.ended = False

    def open(self) -> None:
        raise NotImplementedError

    def read(self) -> ReadResult:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file; safe to call more than once."""

    def place(self) -> FramePlace:
        """Where the frame last read lies (asked on the thread that reads)."""
        return FramePlace()

    @property
    def is_open(self) -> bool:
        raise NotImplementedError

    def __enter__(self) -> FrameSource:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


# --------------------------------------------------------------------------------------------- cameras


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

    def __init__(self, path: str | os.PathLike, loop: bool = False, fps: float = 2.0, hold: bool = False,
                 interval: float | None = None, sequence: bool = False, start: int = 0) -> None:
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


def _grace_hopper() -> np.ndarray | None:
    """Grace Hopper's portrait from matplotlib's sample data, cropped to her head, or None without matplotlib."""
    try:
        from matplotlib import cbook

        image = read_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    except Exception:  # matplotlib missing or its sample data stripped: the demo still has the FER faces
        return None
    # Her face box in this 512x600 image is about (171, 146, 194, 194); keep some hair and collar around it.
    return image[97:357, 138:398].copy()


def demo_faces() -> list[tuple[str, np.ndarray]]:
    """(name, BGR image) of every face the demo shows."""
    faces = []
    grace = _grace_hopper()
    if grace is not None:
        faces.append(("grace_hopper", grace))
    for path in sorted(DEMO_DIR.glob("*.png")):
        try:
            faces.append((path.stem, read_image(path)))
        except ImageError as exc:
            log.warning("demo face skipped: %s", exc)
    return faces


class DemoSource(FrameSource):
    """A synthetic stream with real faces gliding over a background; frame_at(t) depends on t alone.

    Three faces are on screen at once, each on its own path so they never overlap; every `period`
    seconds each slot shows the next face, so all shipped expressions come by.
    """

    SLOTS = 3

    def __init__(
        self, size: tuple[int, int] = (640, 480), fps: float = 30.0, duration: float | None = None, period: float = 5.0
    ) -> None:
        super().__init__()
        self.name = "demo"
        self.size = (int(size[0]), int(size[1]))
        self.fps = float(fps)
        self.duration = duration
        self.period = float(period)
        self.position = 0
        self.faces: list[tuple[str, np.ndarray]] = []
        self._background: np.ndarray | None = None

    def open(self) -> None:
        if not self.faces:
            self.faces = demo_faces()
        if not self.faces:
            raise SourceError(f"no demo faces found (matplotlib's grace_hopper.jpg or {DEMO_DIR}/*.png)")
        self._background = self._make_background()
        self.position = 0
        self.ended = False

    def _make_background(self) -> np.ndarray:
        width, height = self.size
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        # A soft two-colour gradient with faint diagonal stripes: textured, but nothing face-like.
        ramp = (x / max(1, width - 1) + y / max(1, height - 1)) / 2.0
        stripes = 6.0 * np.sin((x + y) / 23.0)
        b = 70 + 60 * ramp + stripes
        g = 80 + 30 * ramp + stripes
        r = 100 - 40 * ramp + stripes
        return np.clip(np.dstack([b, g, r]), 0, 255).astype(np.uint8)

    def _placement(self, slot: int, t: float) -> tuple[float, float, float]:
        """Centre (x, y) and side of a slot's face at time t, in pixels of the output frame.

        Each slot has two lanes, 90 px or more apart, and each new face takes the other lane than the face before:
        a tracker then sees a new face come in (a new id) rather than another person taking over a track.
        """
        width, height = self.size
        k = width / 640.0, height / 480.0
        unit = min(k)
        side = 140.0 * unit * (1.0 + 0.1 * math.sin(0.7 * t + 2.0 * slot))
        lane = self._step(slot, t) % 2
        # Two faces on an upper row, one on a lower row: lanes and wobble keep them apart at every t.
        if slot == 0:
            cx, cy = (100, 215)[lane] + 12 * math.sin(0.50 * t), 120 + 30 * math.sin(0.37 * t + 1.0)
        elif slot == 1:
            cx, cy = (240, 400)[lane] + 20 * math.sin(0.29 * t + 2.0), 360 + 30 * math.sin(0.31 * t)
        else:
            cx, cy = (425, 540)[lane] + 12 * math.sin(0.47 * t + 4.0), 120 + 30 * math.sin(0.41 * t + 3.0)
        return cx * k[0], cy * k[1], side

    def _step(self, slot: int, t: float) -> int:
        """How many times a slot has changed faces by time t; slots change at staggered moments."""
        return int(math.floor(t / self.period + slot / self.SLOTS))

    def face_index(self, slot: int, t: float) -> int:
        """Which face a slot shows at time t."""
        return (slot * 3 + self._step(slot, t)) % len(self.faces)

    def frame_at(self, t: float) -> np.ndarray:
        """The demo frame at time t seconds."""
        if self._background is None:
            self.open()
        assert self._background is not None
        frame = self._background.copy()
        height, width = frame.shape[:2]
        shown: set[int] = set()
        for slot in range(self.SLOTS):
            index = self.face_index(slot, t)
            if index in shown:  # fewer faces than slots: never show one face twice
                continue
            shown.add(index)
            cx, cy, side = self._placement(slot, t)
            s = max(8, int(round(side)))
            face = cv2.resize(self.faces[index][1], (s, s), interpolation=cv2.INTER_AREA)
            x0, y0 = int(round(cx - s / 2)), int(round(cy - s / 2))
            fx0, fy0 = max(0, -x0), max(0, -y0)
            x0c, y0c = max(0, x0), max(0, y0)
            x1c, y1c = min(width, x0 + s), min(height, y0 + s)
            if x1c <= x0c or y1c <= y0c:
                continue
            patch = face[fy0 : fy0 + (y1c - y0c), fx0 : fx0 + (x1c - x0c)]
            alpha = _soft_mask(s)[fy0 : fy0 + (y1c - y0c), fx0 : fx0 + (x1c - x0c), None]
            region = frame[y0c:y1c, x0c:x1c].astype(np.float32)
            frame[y0c:y1c, x0c:x1c] = (alpha * patch + (1.0 - alpha) * region).astype(np.uint8)
        cv2.putText(frame, "DEMO", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (235, 235, 235), 1, cv2.LINE_AA)
        return frame

    def read(self) -> ReadResult:
        if self._background is None:
            raise SourceError("demo source is not open")
        t = self.position / self.fps
        if self.duration is not None and t >= self.duration:
            self.ended = True
            return False, None, t
        self.position += 1
        return True, self.frame_at(t), t

    def close(self) -> None:
        self._background = None

    @property
    def is_open(self) -> bool:
        return self._background is not None


_MASKS: dict[int, np.ndarray] = {}


def _soft_mask(side: int) -> np.ndarray:
    """A square alpha mask that fades out over the outer few pixels, so pasted faces have no hard seams."""
    mask = _MASKS.get(side)
    if mask is None:
        ramp = np.minimum(np.arange(side), np.arange(side)[::-1]).astype(np.float32)
        fade = np.clip(ramp / max(1.0, side * 0.06), 0.0, 1.0)
        mask = np.minimum(fade[:, None], fade[None, :])
        if len(_MASKS) > 64:
            _MASKS.clear()
        _MASKS[side] = mask
    return mask


def open_source(spec: str | int | os.PathLike) -> FrameSource:
    """A source from a user's words: 'demo', a camera index ('0', 'camera:1'), a video file, an image or a folder."""
    if isinstance(spec, int):
        return CameraSource(spec)
    text = str(spec).strip()
    if text.lower() == "demo":
        return DemoSource()
    if text.isdigit():
        return CameraSource(int(text))
    if text.lower().startswith("camera:") and text[7:].isdigit():
        return CameraSource(int(text[7:]))
    path = Path(text).expanduser()
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(path)
    return VideoFileSource(path)


def check_source(source: FrameSource) -> None:
    """Open the source, read one frame and close it again; raise SourceError saying why it cannot be shown.

    Run before a source replaces the one on screen: a file that is not a video, or a camera that is not there,
    is refused at once instead of being retried for ever.
    """
    try:
        source.open()
        ok, frame, _ = source.read()
    except SourceError:
        raise
    except Exception as exc:  # a decoder or driver error: the same answer, the source cannot be shown
        raise SourceError(f"{source.name}: {exc}") from exc
    finally:
        source.close()
    if not ok or frame is None:
        raise SourceError(f"{source.name}: no frame could be read from it")


# ----------------------------------------------------------------------------------------------- grabber


@dataclass(frozen=True)
class GrabbedFrame:
    """A frame as the grabber hands it out: `index` counts frames read since start(), across re-opens."""

    frame: np.ndarray
    index: int
    timestamp: float  # the source's timestamp (media time, or monotonic time for cameras)
    captured_at: float  # time.monotonic() when the grabber got it
    place: FramePlace = FramePlace()


class LatestFrameGrabber:
    """Reads a source on a daemon thread and always offers the newest frame; older unread frames are dropped.

    Failures never reach the caller: they are logged, stored in `error`, passed to `on_error`, and the
    source is re-opened with exponential back-off (retry_initial doubling up to retry_max seconds).
    Non-live sources (files, images, demo) are paced at their fps times `speed` unless pace=False.
    States: 'idle', 'opening', 'running', 'retrying', 'ended' (clean end of stream), 'stopped'.
    """

    def __init__(
        self,
        source: FrameSource,
        *,
        pace: bool | None = None,
        speed: float = 1.0,
        on_error: Callable[[BaseException], None] | None = None,
        on_state: Callable[[str], None] | None = None,
        retry_initial: float = 0.25,
        retry_max: float = 4.0,
        max_failures_per_open: int = 3,
    ) -> None:
        self.source = source
        self.pace = (not source.live) if pace is None else pace
        self.speed = speed
        self.on_error = on_error
        self.on_state = on_state
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.max_failures_per_open = max_failures_per_open
        self.state = "idle"
        self.error: BaseException | None = None
        self.errors = 0
        self.frames_read = 0
        self.frames_dropped = 0
        self._latest: GrabbedFrame | None = None
        self._taken = True
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._held = False  # paused: a file or folder waits where it is instead of playing on
        self._steps = 0  # frames to read while paused (a step or a seek)

    # -- consumer side
    def start(self) -> LatestFrameGrabber:
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"grabber-{self.source.name}", daemon=True)
        self._thread.start()
        return self

    def latest(self) -> GrabbedFrame | None:
        """The newest frame, or None before the first; never blocks."""
        with self._cond:
            self._taken = True
            return self._latest

    def get(self, timeout: float | None = None, newer_than: int = -1) -> GrabbedFrame | None:
        """Wait up to timeout for a frame with index > newer_than; None on timeout, end or stop."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._latest is None or self._latest.index <= newer_than:
                if self.state in ("ended", "stopped"):
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining if remaining is not None else 0.5)
            self._taken = True
            return self._latest

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def pause(self, paused: bool) -> None:
        """Stop reading (a file stays where it is; a camera is not paused, its frames are only not taken)."""
        with self._cond:
            self._held = paused and not self.source.live
            self._cond.notify_all()

    def read_one(self) -> None:
        """While paused, read one frame (after a seek or a step)."""
        with self._cond:
            self._steps += 1
            self._cond.notify_all()

    def _wait_while_paused(self) -> bool:
        """Block while paused and no step is asked for; True when the frame read next is a step."""
        with self._cond:
            while self._held and not self._steps and not self._stop.is_set():
                self._cond.wait(0.1)
            if self._steps:
                self._steps -= 1
                return True
            return False

    def stop(self, timeout: float = 3.0) -> None:
        """Ask the thread to finish and join it; the thread closes the source itself."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("grabber for %s did not stop within %.1f s (blocked read)", self.source.name, timeout)
        if not self.running and self.state != "ended":
            self._set_state("stopped")

    def __enter__(self) -> LatestFrameGrabber:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- reader thread
    def _set_state(self, state: str) -> None:
        with self._cond:
            changed = state != self.state
            self.state = state
            self._cond.notify_all()
        if changed and self.on_state is not None:
            try:
                self.on_state(state)
            except Exception:
                log.exception("on_state callback failed")

    def _report(self, exc: BaseException) -> None:
        self.error = exc
        self.errors += 1
        log.warning("source %s failed: %s", self.source.name, exc)
        if self.on_error is not None:
            try:
                self.on_error(exc)
            except Exception:
                log.exception("on_error callback failed")

    def _publish(self, frame: np.ndarray, timestamp: float) -> None:
        place = self.source.place()
        with self._cond:
            if not self._taken:
                self.frames_dropped += 1
            self._latest = GrabbedFrame(frame, self.frames_read, timestamp, time.monotonic(), place)
            self._taken = False
            self.frames_read += 1
            self._cond.notify_all()

    def _run(self) -> None:
        delay = self.retry_initial
        is_open, failures = False, 0
        pace_origin: tuple[float, float] | None = None  # (wall clock, media time) that pacing counts from
        try:
            while not self._stop.is_set():
                if not is_open:
                    self._set_state("opening")
                    try:
                        self.source.open()
                        is_open, failures, pace_origin = True, 0, None
                        self._set_state("running")
                    except Exception as exc:
                        self._report(exc)
                        self._set_state("retrying")
                        self._stop.wait(delay)
                        delay = min(delay * 2.0, self.retry_max)
                        continue
                stepping = self._wait_while_paused()
                if self._stop.is_set():
                    break
                try:
                    ok, frame, timestamp = self.source.read()
                except Exception as exc:
                    self._report(exc)
                else:
                    if ok and frame is not None:
                        failures, delay = 0, self.retry_initial
                        if stepping or self.source.jumped:  # shown at once; playing goes on from here
                            self.source.jumped, pace_origin = False, None
                        if self.pace and self.speed > 0 and not stepping:
                            pace_origin = self._wait_until_due(pace_origin, timestamp)
                            if self._stop.is_set():
                                break
                        self._publish(frame, timestamp)
                        continue
                    if self.source.ended:
                        self._set_state("ended")
                        return
                    # A camera may drop a single frame; only a run of empty reads means it is gone.
                    failures += 1
                    if failures < self.max_failures_per_open:
                        continue
                    self._report(SourceError(f"{self.source.name} stopped delivering frames"))
                self._close_source()
                is_open = False
                self._set_state("retrying")
                self._stop.wait(delay)
                delay = min(delay * 2.0, self.retry_max)
        except BaseException as exc:  # never let the thread die silently
            self._report(exc)
        finally:
            self._close_source()
            if self.state != "ended":
                self._set_state("stopped")

    def _wait_until_due(self, origin: tuple[float, float] | None, timestamp: float) -> tuple[float, float]:
        """Sleep until a frame with this media time is due; re-anchor after loops, seeks or long stalls."""
        now = time.monotonic()
        if origin is None:
            return now, timestamp
        due = origin[0] + (timestamp - origin[1]) / self.speed
        if timestamp < origin[1] or due < now - 1.0 or due > now + 5.0:
            return now, timestamp
        if due > now:
            self._stop.wait(due - now)
        return origin

    def _close_source(self) -> None:
        try:
            self.source.close()
        except Exception as exc:
            log.warning("closing %s failed: %s", self.source.name, exc)
