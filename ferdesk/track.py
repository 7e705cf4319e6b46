"""Face tracks across frames: stable IDs by IoU matching, and per-track smoothing of the class probabilities."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ferdesk.defaults import SMOOTHING
from ferdesk.preprocess import Box


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 for disjoint or empty boxes)."""
    ax0, ay0, ax1, ay1 = a.as_xyxy()
    bx0, by0, bx1, by1 = b.as_xyxy()
    iw = min(ax1, bx1) - max(ax0, bx0)
    ih = min(ay1, by1) - max(ay0, by0)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = a.w * a.h + b.w * b.h - inter
    return float(inter / union) if union > 0 else 0.0


def iou_matrix(boxes_a: Sequence[Box], boxes_b: Sequence[Box]) -> np.ndarray:
    """Pairwise IoU, shape (len(boxes_a), len(boxes_b))."""
    if not boxes_a or not boxes_b:
        return np.zeros((len(boxes_a), len(boxes_b)), dtype=np.float64)
    a = np.array([bx.as_xyxy() for bx in boxes_a], dtype=np.float64)
    b = np.array([bx.as_xyxy() for bx in boxes_b], dtype=np.float64)
    iw = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match(cost_iou: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Row/column pairs that maximise total IoU, keeping only pairs with IoU >= threshold.

    Uses the Hungarian method (scipy); falls back to greedy best-first matching without scipy.
    """
    if cost_iou.size == 0:
        return []
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError:  # scipy comes with scikit-learn, but the tracker should not depend on it
        pairs, used_r, used_c = [], set(), set()
        for flat in np.argsort(-cost_iou, axis=None):
            r, c = np.unravel_index(flat, cost_iou.shape)
            if cost_iou[r, c] < threshold:
                break
            if r not in used_r and c not in used_c:
                pairs.append((int(r), int(c)))
                used_r.add(r)
                used_c.add(c)
        return pairs
    rows, cols = linear_sum_assignment(-cost_iou)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if cost_iou[r, c] >= threshold]


@dataclass
class Track:
    """One face followed over time; `probabilities` is the smoothed distribution, `raw_probabilities` the latest."""

    id: int
    box: Box
    probabilities: np.ndarray
    raw_probabilities: np.ndarray
    first_seen: float
    last_seen: float
    age: int = 1  # frames since the track began, seen or not
    hits: int = 1  # frames in which it was detected
    missed: int = 0  # consecutive frames without a detection

    @property
    def track_id(self) -> int:
        """Alias so a Track can be drawn directly by overlay.draw_overlay."""
        return self.id

    @property
    def top(self) -> int:
        """Index of the most probable class (-1 without probabilities)."""
        return int(np.argmax(self.probabilities)) if self.probabilities.size else -1


class FaceTracker:
    """IoU tracker: this frame's boxes are matched to live tracks by the Hungarian method.

    A track is dropped once it has gone unseen for more than `max_missed` frames or, when
    `max_missed_s` is set, for longer than that many seconds. `alpha` is the weight of the newest
    probabilities in the exponential moving average (1 = no smoothing); it may be changed at any time.
    """

    def __init__(
        self,
        iou_threshold: float = 0.3,
        max_missed: int = 5,
        alpha: float = SMOOTHING,
        max_missed_s: float | None = 1.0,
    ) -> None:
        self.iou_threshold = float(iou_threshold)
        self.max_missed = int(max_missed)
        self.max_missed_s = max_missed_s
        self.alpha = alpha
        self._tracks: list[Track] = []
        self._next_id = 1

    @property
    def alpha(self) -> float:
        return self._alpha

    @alpha.setter
    def alpha(self, value: float) -> None:
        value = float(value)
        if not 0.0 < value <= 1.0:
            raise ValueError(f"smoothing alpha must lie in (0, 1], got {value}")
        self._alpha = value

    @property
    def tracks(self) -> list[Track]:
        """Snapshots of all live tracks, including those unseen in the latest frame."""
        return [replace(t) for t in self._tracks]

    def reset(self, restart_ids: bool = False) -> None:
        """Forget every track. IDs keep counting up (a model switch: no old face's id comes back for a new one)
        unless `restart_ids`, for a new source or an unrelated photo, whose faces are numbered from 1 again."""
        self._tracks.clear()
        if restart_ids:
            self._next_id = 1

    def update(
        self,
        boxes: Sequence[Box],
        probabilities: np.ndarray | Sequence[Sequence[float]] | None = None,
        timestamp: float | None = None,
    ) -> list[Track]:
        """Take one frame's detections and return their tracks, one per box, in the order of `boxes`.

        The returned Tracks are snapshots: later updates do not change them, so they can be handed to
        another thread (the GUI) safely.
        """
        now = time.monotonic() if timestamp is None else float(timestamp)
        boxes = list(boxes)
        if probabilities is None:
            probs = np.zeros((len(boxes), 0), dtype=np.float32)
        else:
            probs = np.asarray(probabilities, dtype=np.float32)
            if not boxes and probs.size == 0:
                probs = np.zeros((0, 0), dtype=np.float32)
            elif probs.ndim == 1 and len(boxes) == 1:
                probs = probs[None, :]
            if probs.ndim != 2 or probs.shape[0] != len(boxes):
                raise ValueError(f"expected probabilities of shape ({len(boxes)}, K), got {probs.shape}")

        pairs = match(iou_matrix([t.box for t in self._tracks], boxes), self.iou_threshold)
        result: list[Track | None] = [None] * len(boxes)
        matched_tracks = set()
        for ti, bi in pairs:
            track = self._tracks[ti]
            self._refresh(track, boxes[bi], probs[bi], now)
            result[bi] = track
            matched_tracks.add(ti)

        survivors = []
        for ti, track in enumerate(self._tracks):
            if ti not in matched_tracks:
                track.missed += 1
                track.age += 1
                gone_s = self.max_missed_s is not None and now - track.last_seen > self.max_missed_s
                if track.missed > self.max_missed or gone_s:
                    continue
            survivors.append(track)
        self._tracks = survivors

        for bi, box in enumerate(boxes):
            if result[bi] is None:
                track = Track(
                    id=self._next_id,
                    box=box,
                    probabilities=probs[bi].copy(),
                    raw_probabilities=probs[bi].copy(),
                    first_seen=now,
                    last_seen=now,
                )
                self._next_id += 1
                self._tracks.append(track)
                result[bi] = track
        return [replace(t) for t in result if t is not None]

    def _refresh(self, track: Track, box: Box, raw: np.ndarray, now: float) -> None:
        # Arrays are replaced, never written in place, so earlier snapshots keep their values.
        track.box = box
        track.raw_probabilities = raw.copy()
        if track.probabilities.shape != raw.shape:
            track.probabilities = raw.copy()  # the model (and its classes) changed: restart the average
        else:
            track.probabilities = self._alpha * raw + (1.0 - self._alpha) * track.probabilities
        track.last_seen = now
        track.age += 1
        track.hits += 1
        track.missed = 0
