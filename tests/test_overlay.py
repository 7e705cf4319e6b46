"""draw_overlay on real frames: copies, colours, toggles, sizes from 160x120 to 4K."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from ferdesk.labels import EMOTIONS, color_for
from ferdesk.overlay import Style, draw_overlay
from ferdesk.preprocess import Box
from ferdesk.sources import read_image
from ferdesk.track import FaceTracker

HAPPY = np.array([0.02, 0.01, 0.03, 0.87, 0.02, 0.03, 0.02])
SAD = np.array([0.05, 0.02, 0.08, 0.02, 0.70, 0.03, 0.10])


@dataclass
class Face:
    box: Box
    probabilities: np.ndarray


@pytest.fixture(scope="module")
def grace() -> np.ndarray:
    from matplotlib import cbook

    return read_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def scaled(frame: np.ndarray, width: int, height: int) -> tuple[np.ndarray, Box]:
    """The Grace Hopper frame resized, with her face box resized alike."""
    sx, sy = width / frame.shape[1], height / frame.shape[0]
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA), Box(171 * sx, 146 * sy, 194 * sx, 194 * sy)


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    diff = a.astype(np.int16) - b.astype(np.int16)
    return np.any(diff != 0, axis=2) if diff.ndim == 3 else diff != 0


def test_returns_annotated_copy_and_leaves_input_alone(grace):
    before = grace.copy()
    out = draw_overlay(grace, [Face(Box(171, 146, 194, 194), HAPPY)], EMOTIONS)
    assert np.array_equal(grace, before)
    assert out is not grace and out.shape == grace.shape and out.dtype == grace.dtype
    mask = changed(out, grace)
    assert mask[146:341, 171:366].any()  # inside the box (its outline)
    assert not mask[400:, :100].any()  # far from the face nothing is drawn


def test_box_and_label_use_the_top_emotion_colour(grace):
    out = draw_overlay(grace, [Face(Box(171, 146, 194, 194), HAPPY)], EMOTIONS, show_bars=False)
    happy = np.array(color_for("happy"))
    # The box's left edge, halfway down, is drawn in happy's colour.
    assert np.abs(out[243, 170:173].astype(int) - happy).max(axis=1).min() <= 2
    # The filled label background above the box is mostly that colour too.
    label = out[120:146, 175:260].reshape(-1, 3).astype(int)
    assert (np.abs(label - happy).max(axis=1) <= 2).mean() > 0.5
    sad = draw_overlay(grace, [Face(Box(171, 146, 194, 194), SAD)], EMOTIONS, show_bars=False)
    assert not np.array_equal(out, sad)


def test_toggles(grace):
    face = [Face(Box(171, 146, 194, 194), HAPPY)]
    nothing = draw_overlay(grace, face, EMOTIONS, show_boxes=False, show_labels=False, show_bars=False)
    assert np.array_equal(nothing, grace)
    switches = ("show_boxes", "show_labels", "show_bars")
    parts = {
        name: changed(draw_overlay(grace, face, EMOTIONS, **{k: k == name for k in switches}), grace)
        for name in switches
    }
    assert all(mask.any() for mask in parts.values())
    # The bar chart goes beside the box (right of it, where there is room), the label above it.
    ys, xs = np.nonzero(parts["show_bars"])
    assert xs.min() >= 171 + 194
    ys, xs = np.nonzero(parts["show_labels"])
    assert ys.max() < 146


@pytest.mark.parametrize("size", [(160, 120), (33, 17), (641, 479), (3840, 2160)])
def test_any_frame_size(grace, size):
    frame, box = scaled(grace, *size)
    out = draw_overlay(frame, [Face(box, HAPPY)], EMOTIONS)
    assert out.shape == frame.shape
    assert changed(out, frame).any()


def test_scales_with_the_frame():
    small, big = Style.for_frame(160, 120), Style.for_frame(3840, 2160)
    assert small.thickness == 1 and small.font_scale >= 0.3
    assert big.thickness >= 8 and big.font_scale > 2.0
    # A label at 4K is readable: its text is tens of pixels tall.
    (_, th), _ = cv2.getTextSize("happy 87%", cv2.FONT_HERSHEY_SIMPLEX, big.font_scale, big.text_thickness)
    assert th > 40


def test_faces_at_the_edges_stay_inside(grace):
    frame, _ = scaled(grace, 320, 240)
    faces = [
        Face(Box(-20, -15, 80, 80), HAPPY),  # top-left, partly outside
        Face(Box(270, 190, 80, 80), SAD),  # bottom-right, partly outside
    ]
    out = draw_overlay(frame, faces, EMOTIONS)
    assert out.shape == frame.shape
    mask = changed(out, frame)
    assert mask[:60, :60].any() and mask[190:, 270:].any()


def test_track_ids_gray_bgra_and_no_probabilities(grace):
    tracker = FaceTracker()
    (track,) = tracker.update([Box(171, 146, 194, 194)], [HAPPY], 0.0)
    with_id = draw_overlay(grace, [track], EMOTIONS)
    without = draw_overlay(grace, [Face(track.box, track.probabilities)], EMOTIONS)
    assert not np.array_equal(with_id, without)  # "#1 happy 87%" against "happy 87%"

    gray = cv2.cvtColor(grace, cv2.COLOR_BGR2GRAY)
    out = draw_overlay(gray, [track], EMOTIONS)
    assert out.shape == gray.shape and (out != gray).any()
    bgra = cv2.cvtColor(grace, cv2.COLOR_BGR2BGRA)
    out = draw_overlay(bgra, [track], EMOTIONS)
    assert out.shape == bgra.shape and (out[..., 3] == 255).all() and (out != bgra).any()

    plain = draw_overlay(grace, [Face(Box(171, 146, 194, 194), np.array([]))], EMOTIONS)
    assert np.abs(plain[243, 170:173].astype(int) - 255).max(axis=1).min() <= 2  # an unclassified face is white


def test_custom_label_sets_and_many_faces(grace):
    frame, box = scaled(grace, 640, 480)
    labels = ["happy", "sad"]
    faces = [Face(Box(box.x + dx, box.y, box.w / 3, box.h / 3), np.array([0.3, 0.7])) for dx in (0, 80, 160)]
    out = draw_overlay(frame, faces, labels)
    assert changed(out, frame).any()
    assert np.array_equal(draw_overlay(frame, [], labels), frame)


def test_small_faces_get_a_label_without_the_bar_chart(grace):
    """A crowd stays readable: below a face size (relative to the frame) only the label is drawn."""
    frame = cv2.resize(grace, (1920, 1080), interpolation=cv2.INTER_AREA)
    small = Face(Box(300, 300, 60, 60), HAPPY)  # 60 px in 1080p: a face in a group photo
    large = Face(Box(900, 300, 300, 300), HAPPY)
    for face, bars in ((small, False), (large, True)):
        with_bars = draw_overlay(frame, [face], EMOTIONS, show_bars=True)
        without = draw_overlay(frame, [face], EMOTIONS, show_bars=False)
        assert changed(with_bars, frame).any()  # box and label drawn either way
        assert (not np.array_equal(with_bars, without)) == bars
    # The same 60 px face in a 160x120 frame fills it: it gets its chart.
    tiny = cv2.resize(grace, (160, 120), interpolation=cv2.INTER_AREA)
    face = Face(Box(40, 20, 60, 60), HAPPY)
    assert not np.array_equal(draw_overlay(tiny, [face], EMOTIONS), draw_overlay(tiny, [face], EMOTIONS, show_bars=False))
