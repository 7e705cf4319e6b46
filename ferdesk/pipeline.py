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
from ferdesk.defaults import MIN_CONFIDENCE, SMOOTHING
from ferdesk.detect import DETECTOR_MODES, MIN_FACE, Detection, FaceFinder
from ferdesk.overlay import draw_overlay
from ferdesk.paths import DEFAULT_MODEL
from ferdesk.preprocess import Box, alignment_angle, crop_face, to_color
from ferdesk.track import FaceTracker

STAGES = ("detect", "crop", "classify", "track", "overlay")


@dataclass
class ViewOptions:
    """What the overlay draws, and whether the frame is mirrored first (selfie view)."""

    show_boxes: bool = True
    show_labels: bool = True
    show_bars: bool = True
    mirror: bool = False
    followed: int | None = None  # track id of the face the side panel follows, marked on the frame


@dataclass(frozen=True)
class FaceResult:
    track_id: int
    box: Box
    score: float  # detector confidence
    probabilities: np.ndarray  # smoothed over the track
    raw_probabilities: np.ndarray  # this frame's classifier output
    angle: float = 0.0  # degrees the face was turned to stand upright before cropping (crop_face's angle)

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


def face_angle(detection: Detection) -> float:
    """How far to turn a detected face to stand it upright: from its eye keypoints (0 without keypoints)."""
    return alignment_angle(detection.keypoints[0], detection.keypoints[1]) if len(detection.keypoints) >= 2 else 0.0


class EmotionPipeline:
    """`detector_mode` is one of detect.DETECTOR_MODES; `align` turns tilted faces upright before cropping."""

    def __init__(
        self,
        model_dir: str | Path = DEFAULT_MODEL,
        detector_mode: str = "auto",
        min_confidence: float = MIN_CONFIDENCE,
        smoothing: float = SMOOTHING,
        view: ViewOptions | None = None,
        align: bool = True,
        min_face: float = MIN_FACE,
    ):
        if detector_mode not in DETECTOR_MODES:
            raise ValueError(f"unknown detector mode {detector_mode!r}; choose one of {', '.join(DETECTOR_MODES)}")
        self.classifier = EmotionClassifier(model_dir)
        self.detector = FaceFinder(detector_mode, min_confidence=min_confidence, min_face=min_face)
        self.tracker = FaceTracker(alpha=smoothing)
        self.view = view or ViewOptions()
        self.align = align

    @property
    def labels(self) -> list[str]:
        return self.classifier.labels

    def set_model(self, model_dir: str | Path) -> None:
        """Switch models; a folder that fails to load raises and leaves the current model in place."""
        classifier = EmotionClassifier(model_dir)
        self.classifier = classifier
        self.tracker.reset()  # smoothed probabilities of the old labels mean nothing now

    def set_detector_mode(self, mode: str) -> None:
        """Look for faces another way (detect.DETECTOR_MODES); an unknown mode raises and keeps the current one."""
        finder = FaceFinder(mode, min_confidence=self.detector.min_confidence, min_face=self.detector.min_face)
        self.detector.close()
        self.detector = finder

    def reset(self) -> None:
        """Start afresh (a new source, or an image unrelated to the last): no tracks, no faces remembered."""
        self.tracker.reset()
        self.detector.reset()

    def process(
        self, frame: np.ndarray, timestamp: float | None = None, index: int = 0, annotate: bool = True
    ) -> FrameResult:
        timestamp = time.monotonic() if timestamp is None else timestamp
        frame = to_color(frame)
        if self.view.mirror:
            frame = cv2.flip(frame, 1)
        timings = {}
        t0 = time.perf_counter()
        detections = self.detector.find(frame, timestamp)
        t1 = time.perf_counter()
        angles = [face_angle(d) if self.align else 0.0 for d in detections]
        faces = (
            np.stack([crop_face(frame, d.box, angle=a) for d, a in zip(detections, angles)])
            if detections
            else np.zeros((0, 48, 48), np.uint8)
        )
        t2 = time.perf_counter()
        probabilities = self.classifier.predict(faces)
        t3 = time.perf_counter()
        tracks = self.tracker.update([d.box for d in detections], probabilities, timestamp)
        t4 = time.perf_counter()
        results = [
            FaceResult(t.id, t.box, d.score, t.probabilities, t.raw_probabilities, a)
            for t, d, a in zip(tracks, detections, angles)
        ]
        annotated = None
        if annotate:
            annotated = draw_overlay(
                frame,
                results,
                self.labels,
                self.view.show_boxes,
                self.view.show_labels,
                self.view.show_bars,
                followed=self.view.followed,
            )
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
