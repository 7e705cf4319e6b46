"""Face detection with MediaPipe's BlazeFace (Tasks API) and the model files shipped in assets/."""

from __future__ import annotations

import math
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ferdesk.paths import DETECTOR_MODELS
from ferdesk.preprocess import Box, to_uint8


@dataclass(frozen=True)
class Detection:
    """One face: its box in pixels (inside the frame), the detector's score, and its six keypoints.

    Keypoints (pixels) in BlazeFace order: right eye, left eye, nose tip, mouth, right ear, left ear
    (the subject's right and left).
    """

    box: Box
    score: float
    keypoints: tuple[tuple[float, float], ...] = ()


def as_rgb(frame: np.ndarray, order: str = "bgr") -> np.ndarray:
    """Contiguous RGB uint8 from a gray, gray+1, BGR(A) or RGB(A) frame: the only layout MediaPipe takes."""
    image = to_uint8(np.asarray(frame))
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    rgb_in = order.lower() == "rgb"
    if image.ndim == 2:
        out = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    elif image.ndim == 3 and image.shape[2] == 3:
        out = image if rgb_in else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    elif image.ndim == 3 and image.shape[2] == 4:
        out = cv2.cvtColor(image, cv2.COLOR_RGBA2RGB if rgb_in else cv2.COLOR_BGRA2RGB)
    else:
        raise ValueError(f"expected an HxW, HxWx1, HxWx3 or HxWx4 frame, got shape {image.shape}")
    return np.ascontiguousarray(out)


def clip_box(box: Box, width: int, height: int) -> Box | None:
    """The part of a box inside a width x height frame, or None when nothing of it is inside."""
    x0, y0, x1, y1 = box.as_xyxy()
    x0, y0 = max(0.0, x0), max(0.0, y0)
    x1, y1 = min(float(width), x1), min(float(height), y1)
    if x1 - x0 < 1.0 or y1 - y0 < 1.0:
        return None
    return Box(x0, y0, x1 - x0, y1 - y0)


def _import_mediapipe_without_tensorflow() -> None:
    """Let mediapipe load without TensorFlow when TensorFlow is not in use yet.

    mediapipe's tasks/python/core/optional_dependencies.py imports TensorFlow only for API-doc decorators and
    falls back to a no-op when TensorFlow is absent. With TensorFlow installed (training needs it) that import
    costs about 3 s, and in a worker thread of a PyQt5 app showing a window on X11 (xcb) it crashes the
    process. Providing the same no-op fallback up front avoids both.
    """
    name = "mediapipe.tasks.python.core.optional_dependencies"
    if "tensorflow" in sys.modules or name in sys.modules:
        return
    stub = types.ModuleType(name)
    stub.doc_controls = types.SimpleNamespace(do_not_generate_docs=lambda obj: obj)
    sys.modules[name] = stub


class FaceDetector:
    """BlazeFace via `mediapipe.tasks.python.vision.FaceDetector` in IMAGE mode.

    Use it as a context manager or call close(): MediaPipe prints a TypeError at interpreter exit
    for detectors left open. One instance must not be used from two threads at once.
    """

    def __init__(
        self,
        model: str | Path = "short",
        min_confidence: float = 0.5,
        min_suppression: float = 0.3,
    ) -> None:
        path = Path(DETECTOR_MODELS[model]) if model in DETECTOR_MODELS else Path(model)
        if not path.is_file():
            known = ", ".join(f"{k}={v}" for k, v in DETECTOR_MODELS.items())
            raise FileNotFoundError(
                f"face-detector model file not found: {path} (shipped models: {known}; "
                "set FERDESK_ASSETS to the folder holding models/)"
            )
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must lie in [0, 1], got {min_confidence}")
        # Imported here so `import ferdesk` stays fast.
        _import_mediapipe_without_tensorflow()
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp = mp
        self.model_path = path
        self.min_confidence = float(min_confidence)
        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.IMAGE,
            min_detection_confidence=self.min_confidence,
            min_suppression_threshold=float(min_suppression),
        )
        self._detector: Any = vision.FaceDetector.create_from_options(options)

    def detect(self, frame: np.ndarray, order: str = "bgr") -> list[Detection]:
        """Faces in one frame (gray, BGR or BGRA of any size), best score first."""
        if self._detector is None:
            raise RuntimeError("FaceDetector is closed")
        frame = np.asarray(frame)
        if frame.ndim < 2 or frame.shape[0] == 0 or frame.shape[1] == 0:
            raise ValueError(f"empty frame of shape {frame.shape}")
        rgb = as_rgb(frame, order)
        height, width = rgb.shape[:2]
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb)
        result = self._detector.detect(image)
        found: list[Detection] = []
        for det in result.detections:
            bb = det.bounding_box
            # MediaPipe already keeps boxes inside the image; clipping again guards against rounding.
            raw = Box(float(bb.origin_x), float(bb.origin_y), float(bb.width), float(bb.height))
            box = clip_box(raw, width, height)
            if box is None:
                continue
            score = float(det.categories[0].score) if det.categories else 0.0
            if not math.isfinite(score):
                continue
            keypoints = tuple((float(k.x) * width, float(k.y) * height) for k in (det.keypoints or ()))
            found.append(Detection(box=box, score=score, keypoints=keypoints))
        found.sort(key=lambda d: d.score, reverse=True)
        return found

    __call__ = detect

    def close(self) -> None:
        """Release the MediaPipe graph; safe to call more than once."""
        if self._detector is not None:
            self._detector.close()
            self._detector = None

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # A last resort so a forgotten detector does not print MediaPipe's TypeError at exit.
        try:
            self.close()
        except Exception:
            pass
