"""FaceTracker: stable IDs through motion, drops after absence, smoothing that damps flicker."""

from __future__ import annotations

import numpy as np
import pytest

from ferdesk.preprocess import Box
from ferdesk.track import FaceTracker, iou, iou_matrix, match


def probs(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float32)


def test_iou():
    a = Box(0, 0, 10, 10)
    assert iou(a, a) == 1.0
    assert iou(a, Box(5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou(a, Box(20, 20, 5, 5)) == 0.0
    assert iou(a, Box(0, 0, 0, 0)) == 0.0
    m = iou_matrix([a, Box(5, 0, 10, 10)], [Box(5, 0, 10, 10), a, Box(100, 100, 1, 1)])
    assert m.shape == (2, 3)
    assert m[0, 1] == 1.0 and m[1, 0] == 1.0 and m[0, 0] == pytest.approx(1 / 3) and m[1, 2] == 0.0
    assert iou_matrix([], [a]).shape == (0, 1)


def test_matching_maximises_total_overlap():
    # Greedy best-first would pair row 0 with column 0 (0.6) and leave row 1 with 0.1;
    # the optimum pairs 0-1 and 1-0 (0.5 + 0.5).
    overlaps = np.array([[0.6, 0.5], [0.5, 0.1]])
    assert sorted(match(overlaps, 0.3)) == [(0, 1), (1, 0)]
    assert match(np.array([[0.2]]), 0.3) == []
    assert match(np.zeros((0, 3)), 0.3) == []


def test_ids_stay_stable_through_small_motion():
    tracker = FaceTracker(iou_threshold=0.3)
    ids_a, ids_b = set(), set()
    for frame in range(30):
        a = Box(100 + 4 * frame, 80, 120, 120)  # drifting right
        b = Box(400, 300 - 3 * frame, 90, 100)  # drifting up
        order = [a, b] if frame % 2 else [b, a]  # detector order is arbitrary
        tracks = tracker.update(order, np.tile(probs(0.2, 0.8), (2, 1)), timestamp=frame / 30)
        assert [t.box for t in tracks] == order  # one track per input box, in input order
        ids = {t.box: t.id for t in tracks}
        ids_a.add(ids[a])
        ids_b.add(ids[b])
    assert len(ids_a) == 1 and len(ids_b) == 1 and ids_a != ids_b
    track = tracker.tracks[0]
    assert track.age == 30 and track.hits == 30 and track.missed == 0


def test_new_face_gets_new_id_and_jump_is_a_new_track():
    tracker = FaceTracker()
    (t1,) = tracker.update([Box(0, 0, 50, 50)], [probs(1, 0)], 0.0)
    t2, t3 = tracker.update([Box(2, 2, 50, 50), Box(300, 300, 50, 50)], [probs(1, 0), probs(0, 1)], 0.03)
    assert t2.id == t1.id and t3.id != t1.id
    (t4,) = tracker.update([Box(200, 0, 50, 50)], [probs(1, 0)], 0.06)  # too far to be the same face
    assert t4.id not in (t1.id, t3.id)


def test_tracks_survive_short_gaps_and_drop_after_absence():
    tracker = FaceTracker(max_missed=3, max_missed_s=None)
    box = Box(10, 10, 80, 80)
    (first,) = tracker.update([box], [probs(0.5, 0.5)], 0.0)
    for i in range(3):  # three frames without the face: still remembered
        assert tracker.update([], None, 0.1 * (i + 1)) == []
    assert [t.missed for t in tracker.tracks] == [3]
    (back,) = tracker.update([box], [probs(0.5, 0.5)], 0.4)
    assert back.id == first.id and back.missed == 0 and back.hits == 2
    for i in range(4):  # four frames without it: gone
        tracker.update([], None, 0.5 + 0.1 * i)
    assert tracker.tracks == []
    (new,) = tracker.update([box], [probs(0.5, 0.5)], 1.0)
    assert new.id != first.id


def test_tracks_drop_after_seconds_of_absence():
    tracker = FaceTracker(max_missed=1000, max_missed_s=0.5)
    box = Box(10, 10, 80, 80)
    (first,) = tracker.update([box], [probs(1, 0)], 10.0)
    tracker.update([], None, 10.4)
    assert len(tracker.tracks) == 1
    tracker.update([], None, 10.6)
    assert tracker.tracks == []
    (again,) = tracker.update([box], [probs(1, 0)], 10.7)
    assert again.id != first.id and again.first_seen == 10.7


def test_smoothing_reduces_flicker():
    rng = np.random.default_rng(0)
    # A classifier that hesitates between two classes frame by frame: the raw top label flickers.
    raw = [probs(0.55, 0.45) if rng.random() < 0.6 else probs(0.4, 0.6) for _ in range(200)]

    def run(alpha: float) -> tuple[np.ndarray, np.ndarray]:
        tracker = FaceTracker(alpha=alpha)
        out = [tracker.update([Box(0, 0, 100, 100)], [p], i / 30)[0] for i, p in enumerate(raw)]
        smooth = np.array([t.probabilities for t in out])
        last_raw = np.array([t.raw_probabilities for t in out])
        return smooth, last_raw

    smooth, last_raw = run(0.1)
    assert np.allclose(last_raw, np.array(raw))
    flips = lambda p: int(np.sum(np.diff(np.argmax(p, axis=1)) != 0))  # noqa: E731
    assert flips(np.array(raw)) > 40
    assert flips(smooth) < flips(np.array(raw)) / 4
    assert np.std(smooth[20:, 0]) < np.std(np.array(raw)[:, 0]) / 2
    assert np.allclose(smooth.sum(axis=1), 1.0, atol=1e-5)
    unsmoothed, _ = run(1.0)
    assert np.allclose(unsmoothed, np.array(raw))


def test_alpha_can_change_at_runtime():
    tracker = FaceTracker(alpha=0.5)
    box = Box(0, 0, 100, 100)
    tracker.update([box], [probs(1, 0)], 0.0)
    (t,) = tracker.update([box], [probs(0, 1)], 0.1)
    assert t.probabilities == pytest.approx([0.5, 0.5])
    tracker.alpha = 1.0
    (later,) = tracker.update([box], [probs(1, 0)], 0.2)
    assert later.probabilities == pytest.approx([1, 0])
    # Returned tracks are snapshots: the update did not change the one handed out before.
    assert t.probabilities == pytest.approx([0.5, 0.5]) and t.hits == 2 and later.hits == 3
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError):
            tracker.alpha = bad


def test_class_count_change_restarts_the_average_and_probabilities_are_optional():
    tracker = FaceTracker(alpha=0.2)
    box = Box(0, 0, 100, 100)
    (t,) = tracker.update([box], None, 0.0)
    assert t.probabilities.shape == (0,) and t.top == -1
    (t,) = tracker.update([box], [probs(0.1, 0.2, 0.7)], 0.1)
    assert t.probabilities == pytest.approx([0.1, 0.2, 0.7]) and t.top == 2
    (t,) = tracker.update([box], probs(0.9, 0.1), 0.2)  # one face may come as a flat vector
    assert t.probabilities == pytest.approx([0.9, 0.1]) and t.track_id == t.id
    with pytest.raises(ValueError):
        tracker.update([box, box], [probs(1, 0)], 0.3)


def test_reset_forgets_tracks_but_ids_keep_counting():
    tracker = FaceTracker()
    (a,) = tracker.update([Box(0, 0, 10, 10)], None, 0.0)
    tracker.reset()
    assert tracker.tracks == []
    (b,) = tracker.update([Box(0, 0, 10, 10)], None, 0.1)
    assert b.id > a.id
