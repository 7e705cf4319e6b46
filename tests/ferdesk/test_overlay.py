"""draw_overlay on real frames: copies, colours, toggles, sizes from 160x120 to 4K; the layout of close faces
(real demo faces, detected and classified by the real pipeline) and the mark on the followed face."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import cv2
import numpy as np
import pytest

from ferdesk.labels import EMOTIONS, color_for
from ferdesk.overlay import FaceLayout, Style, draw_overlay, layout_overlay
from ferdesk.pipeline import DEFAULT_MODEL, EmotionPipeline, FrameResult
from ferdesk.preprocess import Box
from ferdesk.sources import demo_faces, read_image
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
    assert not np.array_equal(
        draw_overlay(tiny, [face], EMOTIONS), draw_overlay(tiny, [face], EMOTIONS, show_bars=False)
    )


# ---------------------------------------------------------------- close faces
# Rows and grids of the real demo faces, close together: (face names, side, gap between tiles, columns, frame size).
SIX = ["fer_angry", "fer_happy", "fer_sad", "fer_surprise", "fer_fear", "fer_neutral"]
CLOSE = {
    "row of 4": (SIX[:4], 130, 12, 4, (640, 480)),
    "row of 5": (SIX[:5], 110, 8, 5, (640, 480)),
    "3 and Grace Hopper": (["grace_hopper", *SIX[1:4]], 140, 10, 4, (640, 480)),
    "grid of 6": (SIX, 140, 16, 3, (640, 480)),
    "grid of 6, 720p": (SIX, 200, 20, 3, (1280, 720)),
}


@pytest.fixture(scope="module")
def demo() -> dict[str, np.ndarray]:
    return dict(demo_faces())


@pytest.fixture(scope="module")
def pipeline():
    with EmotionPipeline(DEFAULT_MODEL) as p:
        yield p


def tiled(demo, names, side, gap, cols, size) -> np.ndarray:
    """The faces in a block of `cols` columns, `gap` pixels apart, in the middle of a gray frame."""
    width, height = size
    rows = -(-len(names) // cols)
    frame = np.full((height, width, 3), 120, np.uint8)
    left, top = (width - cols * side - (cols - 1) * gap) // 2, (height - rows * side - (rows - 1) * gap) // 2
    for k, name in enumerate(names):
        r, c = divmod(k, cols)
        x, y = left + c * (side + gap), top + r * (side + gap)
        frame[y : y + side, x : x + side] = cv2.resize(demo[name], (side, side), interpolation=cv2.INTER_AREA)
    return frame


def analysed(pipeline, frame: np.ndarray, count: int, annotate: bool = False) -> FrameResult:
    """The real pipeline's result on a fresh scene (ids from 1); every face placed must be found."""
    pipeline.reset()
    pipeline.tracker.reset(restart_ids=True)
    result = pipeline.process(frame, 0.0, annotate=annotate)
    assert len(result.faces) == count, [f.box for f in result.faces]
    return result


@pytest.fixture(scope="module", params=list(CLOSE))
def close_faces(request, demo, pipeline) -> FrameResult:
    names, side, gap, cols, size = CLOSE[request.param]
    return analysed(pipeline, tiled(demo, names, side, gap, cols, size), len(names))


def check_layout(parts: list[FaceLayout], width: int, height: int) -> None:
    """Labels, charts and tags lie inside the frame and meet no other face and no other label, chart or tag."""
    for part in parts:
        for rect in part.placed:
            assert rect.inside(width, height), (part.index, rect)
            for other in parts:
                assert other is part or not rect.intersects(other.box), (part.index, rect, other.index, other.box)
        assert part.chart is None or not part.chart.intersects(part.box), "a chart covers its own face"
    placed = [(part.index, rect) for part in parts for rect in part.placed]
    for (i, a), (j, b) in itertools.combinations(placed, 2):
        assert not a.intersects(b), (i, a, j, b)


def drawn_outside(out: np.ndarray, frame: np.ndarray, parts: list[FaceLayout]) -> int:
    """How many changed pixels lie outside every box and placed rectangle of the layout."""
    allowed = np.zeros(frame.shape[:2], bool)
    for part in parts:
        for rect in (part.box, *part.placed):
            allowed[rect.y0 : rect.y1, rect.x0 : rect.x1] = True
    return int((changed(out, frame) & ~allowed).sum())


def test_close_faces_are_never_covered_by_a_neighbours_label_or_chart(demo, pipeline):
    """Four real faces in a row, 12 px apart, with room above and below: nothing is drawn inside any face.
    (Before the layout, each chart went right of its face, over the next face.)"""
    names, side, gap, cols, size = CLOSE["row of 4"]
    result = analysed(pipeline, tiled(demo, names, side, gap, cols, size), len(names))
    out = draw_overlay(result.frame, result.faces, result.labels, show_boxes=False)
    assert changed(out, result.frame).any()
    for face in result.faces:
        b = face.box
        inside = changed(out, result.frame)[int(b.y) : int(b.y + b.h), int(b.x) : int(b.x + b.w)]
        assert not inside.any(), f"face #{face.track_id} is covered at {inside.sum()} pixels"


def test_close_faces_layout_stays_clear_inside_and_labelled(close_faces):
    result = close_faces
    height, width = result.frame.shape[:2]
    followed = result.faces[-1].track_id
    parts = layout_overlay(result.faces, result.labels, width, height, followed=followed)
    check_layout(parts, width, height)
    # Each of these frames has room for every label, and the large faces get a chart somewhere.
    assert all(part.label is not None for part in parts)
    assert any(part.chart is not None for part in parts)
    # The drawing keeps to the layout: nothing is drawn outside the boxes and the rectangles placed.
    out = draw_overlay(result.frame, result.faces, result.labels, followed=followed)
    assert drawn_outside(out, result.frame, parts) == 0


@pytest.mark.parametrize("margin", [4, 30])
def test_no_room_around_the_faces_labels_go_inside_and_charts_are_dropped(demo, pipeline, margin):
    """The row of four cut down to the faces and a few pixels around them: no chart fits anywhere, so none is
    drawn, and each label moves inside its own box rather than onto a neighbour."""
    names, side, gap, cols, size = CLOSE["row of 4"]
    result = analysed(pipeline, tiled(demo, names, side, gap, cols, size), len(names))
    x0 = int(min(f.box.x for f in result.faces)) - margin
    y0 = int(min(f.box.y for f in result.faces)) - margin
    x1 = int(max(f.box.x + f.box.w for f in result.faces)) + margin
    y1 = int(max(f.box.y + f.box.h for f in result.faces)) + margin
    assert x0 >= 0 and y0 >= 0
    frame = np.ascontiguousarray(result.frame[y0:y1, x0:x1])
    faces = [replace(f, box=Box(f.box.x - x0, f.box.y - y0, f.box.w, f.box.h)) for f in result.faces]
    height, width = frame.shape[:2]
    parts = layout_overlay(faces, result.labels, width, height)
    check_layout(parts, width, height)
    assert all(part.chart is None for part in parts)
    assert all(part.label is not None for part in parts)
    out = draw_overlay(frame, faces, result.labels)
    assert drawn_outside(out, frame, parts) == 0


def test_overlapping_faces_keep_only_their_box_colour(grace):
    """Two boxes on top of each other leave no free spot in a frame they fill: both keep their coloured box, and
    neither gets a label over the other."""
    frame, box = scaled(grace, 200, 200)
    faces = [Face(Box(2, 2, 190, 190), HAPPY), Face(Box(10, 10, 185, 185), SAD)]
    parts = layout_overlay(faces, EMOTIONS, 200, 200)
    check_layout(parts, 200, 200)
    assert all(part.label is None and part.chart is None for part in parts)
    out = draw_overlay(frame, faces, EMOTIONS)
    assert np.abs(out[100, 0:6].astype(int) - np.array(color_for("happy"))).max(axis=1).min() <= 30
    assert np.abs(out[100, 8:13].astype(int) - np.array(color_for("sad"))).max(axis=1).min() <= 30


def test_the_followed_face_is_marked(demo, pipeline):
    names, side, gap, cols, size = CLOSE["row of 4"]
    result = analysed(pipeline, tiled(demo, names, side, gap, cols, size), len(names))
    frame, faces, labels = result.frame, result.faces, result.labels
    target = faces[1]
    plain = draw_overlay(frame, faces, labels)
    marked = draw_overlay(frame, faces, labels, followed=target.track_id)
    assert np.array_equal(draw_overlay(frame, faces, labels, followed=-5), plain)  # an id not in view: no mark
    parts = layout_overlay(faces, labels, frame.shape[1], frame.shape[0], followed=target.track_id)
    assert [p.followed for p in parts] == [f is target for f in faces]
    assert [p.tag is not None for p in parts] == [f is target for f in faces]  # the "following" tag
    check_layout(parts, frame.shape[1], frame.shape[0])
    # A thicker outline: more pixels of the face's colour across its left edge, and white corner marks.
    x0, y0, y1 = int(round(target.box.x)), int(round(target.box.y)), int(round(target.box.y + target.box.h))
    colour = np.array(color_for(target.top(labels)[0]))
    mid = (y0 + y1) // 2

    def edge_width(image):
        return int((np.abs(image[mid, x0 - 8 : x0 + 9].astype(int) - colour).max(axis=1) <= 30).sum())

    assert edge_width(marked) > edge_width(plain)
    corner = marked[y0, x0 + 3 : x0 + 12].astype(int)
    assert (corner.min(axis=1) > 200).any() and not (plain[y0, x0 + 3 : x0 + 12].min(axis=1) > 200).any()
    # The pipeline draws the mark for the face its view options name (the app sets it to the side panel's face).
    pipeline.view.followed = target.track_id
    try:
        again = analysed(pipeline, frame, len(names), annotate=True)
    finally:
        pipeline.view.followed = None
    assert [f.track_id for f in again.faces] == [f.track_id for f in faces]
    assert np.array_equal(again.annotated, marked)


def test_the_app_marks_the_face_its_side_panel_follows(demo, qtbot, gui_settings, tmp_path, monkeypatch):
    """The real window on a photo of four close faces: the face the side panel shows is the one marked, at once
    (the photo is held on screen, no new frame comes), and a click on another face moves the mark there."""
    from PyQt5.QtCore import QPoint, Qt

    from ferdesk.gui import main_window, sources_control

    names, side, gap, cols, size = CLOSE["row of 4"]
    photo = tmp_path / "four.png"
    cv2.imwrite(str(photo), tiled(demo, names, side, gap, cols, size))
    monkeypatch.setattr(sources_control, "list_cameras", lambda: [])
    win = main_window.MainWindow(settings=gui_settings, source=str(photo), model=str(DEFAULT_MODEL))
    qtbot.addWidget(win)
    win.show()

    def marks(track_id):
        result = win.last_result
        if result is None or len(result.faces) != len(names) or win.view.followed != track_id:
            return False
        expected = draw_overlay(result.frame, result.faces, result.labels, followed=track_id)
        return np.array_equal(result.annotated, expected) and f"#{track_id}:" in win.probabilities.caption

    qtbot.waitUntil(lambda: win.last_result is not None and len(win.last_result.faces) == len(names), timeout=30000)
    shown = max(win.last_result.faces, key=lambda f: f.box.w * f.box.h)  # the side panel's face: the largest
    qtbot.waitUntil(lambda: marks(shown.track_id), timeout=10000)

    other = next(f for f in win.last_result.faces if f.track_id != shown.track_id)
    rect, image = win.video.target_rect(), win.video.image
    scale = rect.width() / image.width()
    at = QPoint(
        int(rect.x() + (other.box.x + other.box.w / 2) * scale), int(rect.y() + (other.box.y + other.box.h / 2) * scale)
    )
    qtbot.mouseClick(win.video, Qt.LeftButton, pos=at)
    qtbot.waitUntil(lambda: marks(other.track_id), timeout=10000)
    win.close()
