"""The one straight path: frame -> detect -> crop -> classify (batched) -> track + smooth -> overlay.

Used by the headless `ferdesk annotate`, the benchmark and the GUI's worker thread alike. Not thread-safe:
one pipeline belongs to one thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ferdesk.classify import EmotionClassifier
from ferdesk.detect import FaceDetector
from ferdesk.overlay import draw_overlay
from ferdesk.paths import MODELS_DIR
from ferdesk.preprocess import Box, crop_face
from ferdesk.sources import as_bgr
from ferdesk.track import FaceTracker

DEFAULT_MODEL = MODELS_DIR / "default"
STAGES = ("detect", "crop", "classify", "track", "overlay")


@dataclass
class ViewOptions:
    """What the overlay draws, and whether the frame is mirrored first (selfie view)."""

    show_boxes: bool = True
    show_labels: bool = True
    show_bars: bool = True
    mirror: bool = False


@dataclass(frozen=True)
class FaceResult:
    track_id: int
    box: Box
    score: float  # detector confidence
    probabilities: np.ndarray  # smoothed over the track
    raw_probabilities: np.ndarray  # this frame's classifier output

    def top(self, labels: list[str]) -> tuple[str, float]:
        k = int(np.argmax(self.probabilities))
        return labels[k], float(self.probabilities[k])


@dataclass
class FrameResult:
    index: int
    timestamp: float
    frame: np.ndarray  # the BGR frame that was analysed (mirrored if asked)
    annotated: np.ndarray | None
    faces: list[FaceResult]
    labels: list[str]
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def total_ms(self) -> float:
        return float(sum(self.timings_ms.values()))


class EmotionPipeline:
    def __init__(self, model_dir: str | Path = DEFAULT_MODEL, detector_model: str = "short",
                 min_confidence: float = 0.5, smoothing: float = 0.4, view: ViewOptions | None = None):
        self.classifier = EmotionClassifier(model_dir)
        self.detector = FaceDetector(detector_model, min_confidence=min_confidence)
        self.tracker = FaceTracker(alpha=smoothing)
        self.view = view or ViewOptions()

    @property
    def labels(self) -> list[str]:
        return self.classifier.labels

    def set_model(self, model_dir: str | Path) -> None:
        """Switch models; a folder that fails to load raises and leaves the current model in place."""
        classifier = EmotionClassifier(model_dir)
        self.classifier = classifier
        self.tracker.reset()  # smoothed probabilities of the old labels mean nothing now

    def process(self, frame: np.ndarray, timestamp: float | None = None, index: int = 0,
                annotate: bool = True) -> FrameResult:
        timestamp = time.monotonic() if timestamp is None else timestamp
        frame = as_bgr(np.asarray(frame))
        if self.view.mirror:
            frame = cv2.flip(frame, 1)
        timings = {}
        t0 = time.perf_counter()
        detections = self.detector.detect(frame)
        t1 = time.perf_counter()
        faces = np.stack([crop_face(frame, d.box) for d in detections]) if detections else np.zeros((0, 48, 48), np.uint8)
        t2 = time.perf_counter()
        probabilities = self.classifier.predict(faces)
        t3 = time.perf_counter()
        tracks = self.tracker.update([d.box for d in detections], probabilities, timestamp)
        t4 = time.perf_counter()
        results = [FaceResult(t.id, t.box, d.score, t.probabilities, t.raw_probabilities)
                   for t, d in zip(tracks, detections)]
        annotated = None
        if annotate:
            annotated = draw_overlay(frame, results, self.labels, self.view.show_boxes, self.view.show_labels,
                                     self.view.show_bars)
        t5 = time.perf_counter()
        for name, (a, b) in zip(STAGES, ((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5))):
            timings[name] = (b - a) * 1000.0
        return FrameResult(index, timestamp, frame, annotated, results, self.labels, timings)

    def close(self) -> None:
        self.detector.close()

    def __enter__(self) -> EmotionPipeline:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
