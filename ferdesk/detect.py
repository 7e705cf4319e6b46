"""Face detection with MediaPipe's BlazeFace (Tasks API) and the model files shipped in assets/.

`FaceDetector` runs one model on one image. `FaceFinder` is what the pipeline uses: it decides per frame where
to look (the whole frame, overlapping tiles at several scales, or regions around faces seen before) so that small,
far and many faces are found, and merges the boxes with OpenCV's non-maximum suppression.
"""

from __future__ import annotations

import math
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ferdesk.defaults import MIN_CONFIDENCE
from ferdesk.paths import DETECTOR_MODELS
from ferdesk.preprocess import Box, to_color
from ferdesk.track import match


@dataclass(frozen=True)
class Detection:
    """One face: its box in pixels (inside the frame), the detector's score, and its six keypoints.

    Keypoints (pixels) in BlazeFace order: right eye, left eye, nose tip, mouth, right ear, left ear
    (the subject's right and left). `model` names the detector model that found it ("short", "full" or a path).
    """

    box: Box
    score: float
    keypoints: tuple[tuple[float, float], ...] = ()
    model: str = ""


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
        min_confidence: float = MIN_CONFIDENCE,
        min_suppression: float = 0.3,
    ) -> None:
        path = Path(DETECTOR_MODELS[model]) if model in DETECTOR_MODELS else Path(model)
        self.name = str(model)
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
        return self.detect_rgb(to_color(frame, order, "rgb"))

    def detect_rgb(self, rgb: np.ndarray, offset: tuple[int, int] = (0, 0)) -> list[Detection]:
        """Faces in a contiguous RGB uint8 image (e.g. a tile), boxes and keypoints moved by `offset` (x, y)."""
        if self._detector is None:
            raise RuntimeError("FaceDetector is closed")
        height, width = rgb.shape[:2]
        dx, dy = offset
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
            keypoints = tuple((float(k.x) * width + dx, float(k.y) * height + dy) for k in (det.keypoints or ()))
            box = Box(box.x + dx, box.y + dy, box.w, box.h)
            found.append(Detection(box=box, score=score, keypoints=keypoints, model=self.name))
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


# ------------------------------------------------------------------------------------- finding many faces

DETECTOR_MODES = {
    "auto": "whole frame on every frame that faces move (every other frame while they hold still); small and far "
    "faces from a multi-scale scan every second, followed in between",
    "short": "short-range model on the whole frame only (one face near the camera; the fastest)",
    "full": "full-range model on the whole frame only",
    "tiled": "multi-scale scan of the whole frame on every frame (most faces found; the slowest)",
}
MIN_FACE = 40  # px: the smallest face a scan is planned to find
Region = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels


@dataclass(frozen=True)
class Reach:
    """Face sizes a model finds, as fractions of the longer side of the image it is handed (it sees it squeezed).

    `low`: the smallest face it finds reliably; `high`: the largest face a tile is planned to hold whole, so
    neighbouring tiles overlap by that much and the next scale up starts where this one ends.
    """

    low: float
    high: float


# From `benchmarks/detection.py` (reach) on real photographs: the short-range model finds faces from about 12% of
# its image's side (all from 15%) to over 50%, the full-range one from 6% (all from 8-10%) to over 50%.
REACH = {"short": Reach(0.15, 0.3), "full": Reach(0.08, 0.35)}
# Faces found in tiles with a score below this are confirmed by the full-range model on a region where the face is
# CONFIRM_FRACTION of the side (small tiles blow textures up into face-like patterns; measured: 635 of 638 faces
# kept, 25 of 27 false detections dropped).
CONFIRM_BELOW = 0.8
CONFIRM_FRACTION = 0.3
# Tiles keep faces down to this much below the threshold (then confirmed): on the benchmark 0.1 found 95% of the
# FER2013 faces instead of 92% and 97% of all faces instead of 96%, with 3 false detections instead of 4.
TILE_CONFIDENCE_MARGIN = 0.1
# A frame is held (no detector) only while each box's 16x16 gray thumbnail differs from the one at detection by
# at most this many grey levels on average: a cut or a face swapped in under a box is detected at once.
HOLD_MAX_CHANGE = 12.0


def tile_grid(width: int, height: int, tile: int, overlap: int) -> list[Region]:
    """Tiles of side `tile` (cut to the frame) covering it, neighbours sharing at least `overlap` pixels."""

    def starts(length: int) -> list[int]:
        if tile >= length:
            return [0]
        n = math.ceil((length - overlap) / (tile - overlap))
        return [round(i * (length - tile) / (n - 1)) for i in range(n)] if n > 1 else [0]

    tw, th = min(tile, width), min(tile, height)
    return [(x, y, x + tw, y + th) for y in starts(height) for x in starts(width)]


def tile_sides(width: int, height: int, model: str = "short", min_face: float = MIN_FACE) -> list[int]:
    """Tile sides of a scan with `model`: from the tiles that find `min_face` px faces up, each scale high/low
    times the last, until a scale meets the faces the whole frame finds (largest first)."""
    reach = REACH[model]
    long_side = max(width, height)
    sides: list[int] = []
    tile = min_face / reach.low
    while tile < 0.8 * long_side:
        sides.append(int(round(tile)))
        if tile * reach.high >= reach.low * long_side:
            break
        tile *= reach.high / reach.low
    return sides[::-1]


def scan_plan(width: int, height: int, min_face: float = MIN_FACE) -> list[tuple[str, Region]]:
    """Where a scan looks: both models on the whole frame (the full-range one adds middle-sized faces), then
    overlapping short-range tiles at each scale down to `min_face` px faces.

    Short-range tiles over full-range ones: on the benchmark's real photographs they found every face of 40 px
    and up (full-range tiles 97%) and more of the blurry FER2013 faces (93% against 52%), at about twice the cost.
    """
    plan = [("short", (0, 0, width, height)), ("full", (0, 0, width, height))]
    for side in tile_sides(width, height, "short", min_face):
        plan += [("short", r) for r in tile_grid(width, height, side, int(round(side * REACH["short"].high)))]
    return plan


def merge_detections(detections: list[Detection], iou_threshold: float = 0.3) -> list[Detection]:
    """One detection per face: OpenCV's non-maximum suppression over boxes found in overlapping regions.

    Where both models box a face, the short-range box wins whatever the scores: the crop is calibrated on its
    boxes (the full-range ones are about 5% larger and sit a little higher), and the face keeps the same box
    on frames where only the short-range model looks.
    """
    if len(detections) < 2:
        return list(detections)
    boxes = [[d.box.x, d.box.y, d.box.w, d.box.h] for d in detections]
    scores = [d.score + (1.0 if d.model == "short" else 0.0) for d in detections]
    keep = cv2.dnn.NMSBoxes(boxes, scores, 0.0, iou_threshold)
    kept = [detections[int(i)] for i in np.asarray(keep).reshape(-1)]
    kept.sort(key=lambda d: d.score, reverse=True)
    return kept


def drop_boxes_around_faces(detections: list[Detection]) -> list[Detection]:
    """Without boxes around two or more much smaller faces: a group of faces taken for the eyes and mouth of
    one large face (tiles over a group show it), never a real face. Only for confirmed detections: inside a
    large real face, tiles also report eyes and mouths as faces until confirmation drops them."""

    def around_faces(box: Box) -> bool:
        inside = [d.box for d in detections if d.box.w < 0.5 * box.w and box.contains(d.box.centre)]
        return len(inside) >= 2

    return [d for d in detections if not around_faces(d.box)]


def same_face(a: Box, b: Box) -> bool:
    """Two boxes on one face, however each detector draws them: each centre inside the other box, sizes within 2x."""
    if not (b.contains(a.centre) and a.contains(b.centre)):
        return False
    return 0.5 <= math.sqrt(a.w * a.h) / max(1e-9, math.sqrt(b.w * b.h)) <= 2.0


def moved_face(new: Box, old: Box) -> bool:
    """Whether `new` can be the face that was at `old` a frame ago: about as large, and at most 1.5 face sizes
    away (a small face moving fast may jump past its own box from one frame to the next)."""
    size_new, size_old = max(new.w, new.h), max(old.w, old.h)
    if not 0.5 <= size_new / max(size_old, 1e-9) <= 2.0:
        return False
    return new.centre_distance(old) <= 1.5 * size_old


def pair_moved_faces(new: list[Detection], old: list[Detection]) -> list[tuple[int, int]]:
    """One-to-one (new, old) index pairs of faces that can be the same face a frame later (moved_face), the
    nearest preferred: a face lost next to a neighbour must not count as found because the neighbour is."""
    closeness = np.zeros((len(new), len(old)))
    for i, n in enumerate(new):
        for j, o in enumerate(old):
            if moved_face(n.box, o.box):
                closeness[i, j] = 1.0 / (1.0 + n.box.centre_distance(o.box))
    return match(closeness, 1e-12)


def region_around(box: Box, fraction: float, width: int, height: int) -> Region:
    """A square region where the face is `fraction` of the side, centred on it, moved (not cut) to fit the frame."""
    side = max(box.w, box.h) / fraction
    cx, cy = box.centre
    x0 = int(round(min(max(cx - side / 2, 0), max(0, width - side))))
    y0 = int(round(min(max(cy - side / 2, 0), max(0, height - side))))
    return x0, y0, min(width, x0 + int(round(side))), min(height, y0 + int(round(side)))


def _touches_inner_edge(box: Box, region: Region, width: int, height: int, margin: float = 1.0) -> bool:
    """True when a box found in a tile meets an edge of the tile that is not an edge of the frame: the face may
    be cut there, and the plan's overlap puts it whole into a neighbouring tile or the next scale."""
    x0, y0, x1, y1 = region
    bx0, by0, bx1, by1 = box.as_xyxy()
    return (
        (x0 > 0 and bx0 <= x0 + margin)
        or (y0 > 0 and by0 <= y0 + margin)
        or (x1 < width and bx1 >= x1 - margin)
        or (y1 < height and by1 >= y1 - margin)
    )


class FaceFinder:
    """Finds the faces of a frame with the BlazeFace models, looking where `mode` says (see DETECTOR_MODES).

    A scan (scan_plan) finds faces from `min_face` px up anywhere. "tiled" scans every frame. "auto" scans the
    first frame (and after a reset, a jump back in time or a new frame size); after that the short-range model sees
    the whole frame on every frame, as "short" does, so one face near the camera costs what it always did, and:
    - faces seen before that the whole frame does not give back (small or far ones) are looked for in a small
      region around where they were, so they are found on every frame while they stay in view;
    - the scan goes on in the background, a few of its regions per frame, so that it covers the frame once
      every `scan_interval_s` of stream time; each round that finds no new face doubles that time, up to
      `max_scan_interval_s` (a webcam with one face pays little for it), and one that does resets it.
    Faces that only a tile found, with a low score, must be confirmed (CONFIRM_BELOW).
    While every face holds still (moves under `steady_fraction` of its size a frame: BlazeFace's own jitter; none
    lost, none new), up to `max_hold` frames in a row run no detector and keep the last boxes, as MediaPipe's
    face-mesh graphs carry faces between detections. (Moving the boxes on at their measured velocity was tried:
    it extrapolates the detector's jitter, up to 10 px a frame on a still 200 px face.) A face that starts moving
    is detected again on the next frame at the latest. Not thread-safe.
    """

    def __init__(
        self,
        mode: str = "auto",
        min_confidence: float = MIN_CONFIDENCE,
        min_face: float = MIN_FACE,
        scan_interval_s: float = 1.0,
        max_scan_interval_s: float = 4.0,
        keep_missing: int = 3,
        max_hold: int = 1,
        steady_fraction: float = 0.05,
    ) -> None:
        if mode not in DETECTOR_MODES:
            raise ValueError(f"unknown detector mode {mode!r}; choose one of {', '.join(DETECTOR_MODES)}")
        if min_face < 8:
            raise ValueError(f"min_face must be at least 8 px, got {min_face}")
        if scan_interval_s <= 0:
            raise ValueError(f"scan_interval_s must be positive, got {scan_interval_s}")
        self.mode = mode
        self.min_face = float(min_face)
        self.scan_interval_s = float(scan_interval_s)
        self.max_scan_interval_s = max(float(max_scan_interval_s), self.scan_interval_s)
        self.keep_missing = int(keep_missing)
        if max_hold < 0 or not 0.0 <= steady_fraction < 1.0:
            raise ValueError(f"max_hold must be >= 0 and steady_fraction in [0, 1), got {max_hold}, {steady_fraction}")
        self.max_hold = int(max_hold)
        self.steady_fraction = float(steady_fraction)
        self.min_confidence = float(min_confidence)
        self._detectors: dict[str, FaceDetector] = {}
        try:
            for name in {"short": ["short"], "full": ["full"]}.get(mode, ["short", "full"]):
                # In tiles the short-range model also reports faces a little below the threshold; they count
                # only once the full-range model confirms them (CONFIRM_BELOW).
                lowered = name == "short" and mode in ("auto", "tiled")
                threshold = max(0.0, min_confidence - TILE_CONFIDENCE_MARGIN) if lowered else min_confidence
                self._detectors[name] = FaceDetector(name, min_confidence=threshold)
        except Exception:
            self.close()
            raise
        self.calls = 0  # detector runs on the last frame (the benchmark reports them)
        self.reset()

    def reset(self) -> None:
        """Forget the faces seen so far (a new source, or an unrelated image): the next frame is scanned whole."""
        self._known: list[tuple[Detection, int]] = []  # (detection, frames missed since)
        self._last_time: float | None = None
        self._shape: tuple[int, int] | None = None
        self._plan: list[tuple[str, Region]] = []
        self._next = 0  # the scan region the background scan runs next
        self._credit = 0.0  # scan regions due
        self._interval = self.scan_interval_s  # the background scan's current round time
        self._round_found_new = False
        self._last_found: list[Detection] = []  # the faces of the last frame a detector ran on
        self._last_thumbnails: list[np.ndarray] = []  # what their boxes held then (16x16 gray)
        self._steady = False  # they held still: the next frame may be held
        self._held = 0  # frames in a row run without a detector

    def find(self, frame: np.ndarray, timestamp: float | None = None, order: str = "bgr") -> list[Detection]:
        """This frame's faces, best score first. `timestamp` (s, stream time; default: now) paces "auto"."""
        if not self._detectors:
            raise RuntimeError("FaceFinder is closed")
        frame = np.asarray(frame)
        if frame.ndim < 2 or frame.shape[0] == 0 or frame.shape[1] == 0:
            raise ValueError(f"empty frame of shape {frame.shape}")
        timestamp = time.monotonic() if timestamp is None else float(timestamp)
        rgb = to_color(frame, order, "rgb")
        height, width = rgb.shape[:2]
        self.calls = 0
        if self.mode in ("short", "full"):
            return self._run(self.mode, rgb, (0, 0, width, height))
        last = self._last_time
        if (
            (height, width) != self._shape
            or last is None
            or timestamp < last
            or timestamp - last >= self.scan_interval_s
            or self.mode == "tiled"
        ):
            self.reset()
            self._shape = (height, width)
            self._plan = scan_plan(width, height, self.min_face)
            found = self._scan(rgb)
        else:
            due = (len(self._plan) - 1) * (timestamp - last) / self._interval
            self._credit = min(self._credit + due, float(len(self._plan)))
            # The scan's due regions wait for the next detected frame.
            if self._steady and self._held < self.max_hold and self._unchanged(rgb):
                self._held += 1
                found = list(self._last_found)
            else:
                found = self._follow(rgb)
                self._measure_motion(rgb, found, frames=self._held + 1)
                self._held = 0
        self._last_time = timestamp
        return found

    detect = find
    __call__ = find

    @staticmethod
    def _thumbnails(rgb: np.ndarray, faces: list[Detection]) -> list[np.ndarray]:
        """What the boxes hold, shrunk to 16x16 gray: enough to tell that a face is still under its box."""
        out = []
        for d in faces:
            x0, y0, x1, y1 = (int(round(v)) for v in d.box.as_xyxy())
            patch = rgb[max(0, y0) : max(y0 + 1, y1), max(0, x0) : max(x0 + 1, x1)]
            out.append(cv2.resize(patch, (16, 16), interpolation=cv2.INTER_AREA).mean(axis=2, dtype=np.float32))
        return out

    def _unchanged(self, rgb: np.ndarray) -> bool:
        """Whether every box still holds what it held when it was found (not a cut, nor a face swapped in)."""
        now = self._thumbnails(rgb, self._last_found)
        return all(float(np.abs(a - b).mean()) <= HOLD_MAX_CHANGE for a, b in zip(now, self._last_thumbnails))

    def _measure_motion(self, rgb: np.ndarray, found: list[Detection], frames: int) -> None:
        """Whether every face held still since the last detected frame: none new or lost, each moved less than
        `steady_fraction` of its size a frame, and grew or shrank by less than a tenth."""
        before = self._last_found
        steady = self.max_hold > 0 and len(found) == len(before)
        pairs = pair_moved_faces(found, before)
        steady = steady and len(pairs) == len(found)
        for i, j in pairs:
            f, b = found[i].box, before[j].box
            moved = f.centre_distance(b) / frames
            growth = abs(max(f.w, f.h) - max(b.w, b.h)) / frames
            size = max(f.w, f.h)
            steady = steady and moved <= self.steady_fraction * size and growth <= 0.1 * size
        self._last_found, self._steady = list(found), steady
        self._last_thumbnails = self._thumbnails(rgb, found) if steady else []

    def _run(self, model: str, rgb: np.ndarray, region: Region) -> list[Detection]:
        """One detector run on a region of the frame, boxes in frame pixels; boxes cut by the region dropped."""
        height, width = rgb.shape[:2]
        x0, y0, x1, y1 = region
        self.calls += 1
        if region == (0, 0, width, height):  # the threshold the user asked for, whatever the tiles take
            return [d for d in self._detectors[model].detect_rgb(rgb) if d.score >= self.min_confidence]
        found = self._detectors[model].detect_rgb(np.ascontiguousarray(rgb[y0:y1, x0:x1]), (x0, y0))
        return [d for d in found if not _touches_inner_edge(d.box, region, width, height)]

    def _confirmed(self, rgb: np.ndarray, found: list[Detection], unsure: set[Detection]) -> list[Detection]:
        """Drop unsure detections that the full-range model, shown the face at a size it finds well, does not see."""
        height, width = rgb.shape[:2]
        kept = []
        for d in found:
            if d in unsure and d.score < CONFIRM_BELOW:
                region = region_around(d.box, CONFIRM_FRACTION, width, height)
                if not any(same_face(d.box, c.box) for c in self._run("full", rgb, region)):
                    continue
            kept.append(d)
        return drop_boxes_around_faces(kept)

    def _scan(self, rgb: np.ndarray) -> list[Detection]:
        found: list[Detection] = []
        from_tiles: set[Detection] = set()
        for model, region in self._plan:
            run = self._run(model, rgb, region)
            found += run
            if region[2:] != (rgb.shape[1], rgb.shape[0]) or region[:2] != (0, 0):
                from_tiles.update(run)
        found = self._confirmed(rgb, merge_detections(found), from_tiles)
        self._known = [(d, 0) for d in found]
        # The next frame looks again, to measure how the faces move.
        self._last_found, self._steady, self._held = list(found), False, 0
        return found

    def _follow(self, rgb: np.ndarray) -> list[Detection]:
        """The whole frame; regions around known faces it did not give back; the scan's due regions."""
        height, width = rgb.shape[:2]
        found = self._run("short", rgb, (0, 0, width, height))
        seen = {j for _, j in pair_moved_faces(found, [d for d, _ in self._known])}
        missing = [k for j, k in enumerate(self._known) if j not in seen]
        regions = self._regions_around([d for d, _ in missing], width, height)
        if len(regions) >= len(self._plan):  # as costly as a scan: scan
            return self._scan(rgb)
        candidates = [f for model, region in regions for f in self._run(model, rgb, region)]
        # Each face looked for takes its nearest find; other finds wait for the scan to confirm them.
        found += [candidates[i] for i, _ in pair_moved_faces(candidates, [d for d, _ in missing])]
        unsure: set[Detection] = set()
        sweep = self._plan[1:]  # the short-range whole-frame pass has just run
        known = [d.box for d, _ in self._known]
        while self._credit >= 1.0:
            model, region = sweep[self._next % len(sweep)]
            self._next += 1
            self._credit -= 1.0
            for f in self._run(model, rgb, region):
                if any(same_face(f.box, k) for k in known):
                    found.append(f)
                elif not any(k.contains(f.box.centre) for k in known):
                    # a part of a known face (an eye seen as a face) is dropped
                    found.append(f)
                    unsure.add(f)
            if self._next % len(sweep) == 0:  # a round is over
                grow = not self._round_found_new
                self._interval = min(2 * self._interval, self.max_scan_interval_s) if grow else self.scan_interval_s
                self._round_found_new = False
        found = self._confirmed(rgb, merge_detections(found), unsure)
        self._round_found_new |= any(d in unsure for d in found)
        back = {j for _, j in pair_moved_faces(found, [d for d, _ in missing])}
        still_missing = [(d, n + 1) for j, (d, n) in enumerate(missing) if n < self.keep_missing and j not in back]
        self._known = [(d, 0) for d in found] + still_missing
        return found

    def _regions_around(self, faces: list[Detection], width: int, height: int) -> list[tuple[str, Region]]:
        """Where to look again for faces the whole-frame pass lost: square regions where the short-range model
        sees each face at a size it finds well (room to move around it), several faces sharing one where they
        fit. A face that would need nearly the whole frame gets the full-range model on the whole frame instead
        (as in the scan: the short-range one has just missed it there)."""
        reach = REACH["short"]
        fraction = (reach.low + reach.high) / 2
        regions: list[tuple[str, Region]] = []
        pending = sorted(faces, key=lambda d: max(d.box.w, d.box.h), reverse=True)
        while pending:
            face = pending.pop(0)
            side = max(face.box.w, face.box.h) / fraction
            if side >= 0.75 * max(width, height):
                whole = ("full", (0, 0, width, height))
                if whole not in regions:
                    regions.append(whole)
                continue
            region = region_around(face.box, fraction, width, height)
            regions.append(("short", region))
            pending = [d for d in pending if not self._fits(d.box, region)]
        return regions

    @staticmethod
    def _fits(box: Box, region: Region) -> bool:
        """Whether a face lies well inside a region (half a face of room each side) at a size it finds there."""
        reach = REACH["short"]
        x0, y0, x1, y1 = region
        side, margin = max(x1 - x0, y1 - y0), max(box.w, box.h) / 2
        inside = (
            box.x - margin >= x0
            and box.y - margin >= y0
            and box.x + box.w + margin <= x1
            and box.y + box.h + margin <= y1
        )
        return inside and reach.low * side <= max(box.w, box.h) <= reach.high * side

    def close(self) -> None:
        """Release the detectors; safe to call more than once."""
        for detector in self._detectors.values():
            detector.close()
        self._detectors = {}

    def __enter__(self) -> FaceFinder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
