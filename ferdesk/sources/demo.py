"""The built-in demo: real faces (the shipped FER2013 ones and Grace Hopper) moving over a background."""

from __future__ import annotations

import logging
import math

import cv2
import numpy as np

from ferdesk.media import ImageError, read_image
from ferdesk.paths import ASSETS_DIR

from ferdesk.sources.base import FrameSource, ReadResult, SourceError

log = logging.getLogger(__name__)

DEMO_DIR = ASSETS_DIR / "demo"


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

    def find_face(self, boxes: list, name: str, t: float) -> tuple[int | None, float]:
        """Which of `boxes` (detections of the frame at time t) shows the demo face `name`, and the seconds until
        its slot changes face: (index, seconds), or (None, 0.0). The truth for tests and scripts, from the schedule
        (a slot's face and place depend on the time alone), never from a model's guess."""
        names = [n for n, _ in self.faces]
        for slot in range(self.SLOTS):
            if names[self.face_index(slot, t)] != name:
                continue
            cx, cy, side = self._placement(slot, t)
            for i, box in enumerate(boxes):
                if math.dist(box.centre, (cx, cy)) < side / 3:
                    changes_at = (self._step(slot, t) + 1 - slot / self.SLOTS) * self.period
                    return i, changes_at - t
        return None, 0.0

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
