"""Drawing results on a copy of a frame: box coloured by the top emotion, a label, a probability bar chart.

layout_overlay decides where each face's label and chart go, draw_overlay draws them there. A label or chart never
covers another face, another label or chart, or the frame's edge: it goes beside, above or below its box, else the
chart shrinks, else the face keeps its label only, else only its box's colour. The face the side panel follows gets a
thicker box with corner marks and a "following" tag.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import cv2
import numpy as np

from ferdesk.labels import UNKNOWN_COLOR_BGR, color_for
from ferdesk.preprocess import Box

FONT = cv2.FONT_HERSHEY_SIMPLEX
# Faces smaller than this fraction of the frame's shorter side (or BARS_MIN_FACE_PX) get a label without the bar
# chart: in a group or crowd the charts would cover the neighbouring faces.
BARS_MIN_FACE_FRACTION = 0.12
BARS_MIN_FACE_PX = 48
FOLLOWING_TEXT = "following"
SMALL_TEXT = 0.7  # font scale of the shrunk label and of the "following" tag, relative to the label's


class DrawableFace(Protocol):
    """What draw_overlay needs of a face; `track_id` is optional."""

    box: Box
    probabilities: Sequence[float]


@dataclass(frozen=True)
class Style:
    """Sizes derived from the frame, so the overlay reads the same from 160x120 to 4K."""

    thickness: int
    font_scale: float
    text_thickness: int
    pad: int

    @classmethod
    def for_frame(cls, width: int, height: int) -> Style:
        unit = min(width, height) / 480.0
        return cls(
            thickness=max(1, round(2 * unit)),
            font_scale=max(0.3, 0.5 * unit),
            text_thickness=max(1, round(1.2 * unit)),
            pad=max(1, round(3 * unit)),
        )


class Rect(NamedTuple):
    """The pixels x0 <= x < x1, y0 <= y < y1."""

    x0: int
    y0: int
    x1: int
    y1: int

    @classmethod
    def at(cls, x: int, y: int, w: int, h: int) -> Rect:
        return cls(x, y, x + w, y + h)

    @property
    def w(self) -> int:
        return self.x1 - self.x0

    @property
    def h(self) -> int:
        return self.y1 - self.y0

    def intersects(self, other: Rect) -> bool:
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1

    def inside(self, width: int, height: int) -> bool:
        return 0 <= self.x0 and 0 <= self.y0 and self.x1 <= width and self.y1 <= height

    def moved_inside(self, width: int, height: int) -> Rect:
        """The same size moved the least distance needed to lie inside the frame (if it can)."""
        x = min(max(0, self.x0), max(0, width - self.w))
        y = min(max(0, self.y0), max(0, height - self.h))
        return Rect.at(x, y, self.w, self.h)


@dataclass(frozen=True)
class ChartShape:
    """A probability chart's size: one bar per class, with short class names when `named`."""

    width: int
    height: int
    row: int
    name_width: int
    bar_width: int
    named: bool


@dataclass(frozen=True)
class FaceLayout:
    """Where one face's parts go. `box` is the area its outline covers; None means the part is not drawn."""

    index: int  # position in the faces given
    box: Rect
    label: Rect | None
    label_text: str
    label_scale: float
    chart: Rect | None
    chart_shape: ChartShape | None
    tag: Rect | None  # the "following" tag
    followed: bool

    @property
    def placed(self) -> list[Rect]:
        """The rectangles drawn around the box: label, chart, tag."""
        return [r for r in (self.label, self.chart, self.tag) if r is not None]


def _color(bgr: tuple[int, int, int], channels: int) -> tuple[int, ...] | int:
    """A BGR colour in the layout of the frame being drawn on (gray, BGR or BGRA)."""
    if channels == 1:
        b, g, r = bgr
        return int(round(0.114 * b + 0.587 * g + 0.299 * r))
    return (*bgr, 255) if channels == 4 else tuple(bgr)


def _text_color(bgr: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black on light backgrounds, white on dark ones."""
    b, g, r = bgr
    return (0, 0, 0) if 0.114 * b + 0.587 * g + 0.299 * r > 140 else (255, 255, 255)


def _shade(image: np.ndarray, rect: Rect, amount: float = 0.55) -> None:
    """Darken a rectangle in place so text and bars stay readable on any background."""
    roi = image[rect.y0 : rect.y1, rect.x0 : rect.x1]
    if roi.ndim == 3 and roi.shape[2] == 4:
        roi = roi[:, :, :3]  # leave alpha opaque
    roi[...] = (roi.astype(np.float32) * (1.0 - amount)).astype(image.dtype)


def _label_name(labels: Sequence[str], index: int) -> str:
    return labels[index] if 0 <= index < len(labels) else f"class {index}"


def _probabilities(face: DrawableFace) -> np.ndarray:
    return np.nan_to_num(np.asarray(getattr(face, "probabilities", ()), dtype=np.float64).ravel())


def has_room_for_bars(box: Box, width: int, height: int) -> bool:
    """Whether a face is large enough in its frame to get a probability chart beside its label."""
    return max(box.w, box.h) >= max(BARS_MIN_FACE_PX, BARS_MIN_FACE_FRACTION * min(width, height))


def _box_corners(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """The outline's corners (inclusive), clipped to the frame."""
    x0 = int(round(min(max(box.x, 0), width - 1)))
    y0 = int(round(min(max(box.y, 0), height - 1)))
    x1 = int(round(min(max(box.x + box.w, x0 + 1), width - 1)))
    y1 = int(round(min(max(box.y + box.h, y0 + 1), height - 1)))
    return x0, y0, x1, y1


def _box_thickness(style: Style, followed: bool) -> int:
    return 2 * style.thickness + 1 if followed else style.thickness


def _text_rect_size(text: str, scale: float, style: Style) -> tuple[int, int]:
    (tw, th), baseline = cv2.getTextSize(text, FONT, scale, style.text_thickness)
    return tw + 2 * style.pad, th + baseline + 2 * style.pad


def _chart_shapes(k: int, style: Style, box: Rect, width: int, height: int) -> list[ChartShape]:
    """Chart sizes to try: named bars (up to twice the face's height), else thin unnamed bars as tall as the face."""
    pad = style.pad
    (nw, nh), nb = cv2.getTextSize("www", FONT, style.font_scale * 0.8, 1)
    row = max(3, nh + nb + pad)
    bar_w = max(12, int(round(nw * 2.5)))
    shapes = []
    if row * k + 2 * pad <= min(height, 2 * box.h):
        shapes.append(ChartShape(nw + 3 * pad + bar_w, row * k + 2 * pad, row, nw, bar_w, True))
    thin_row = max(1, min(row, (min(height, max(box.h, 2 * k + 2 * pad)) - 2 * pad) // k))
    thin_bar = max(4, min(bar_w, box.w // 2, width // 4))
    shapes.append(ChartShape(2 * pad + thin_bar, thin_row * k + 2 * pad, thin_row, 0, thin_bar, False))
    return shapes


def _first_free(candidates: Iterable[Rect], blocked: Sequence[Rect], width: int, height: int) -> Rect | None:
    """The first candidate, moved inside the frame, that meets none of the blocked rectangles."""
    for rect in candidates:
        rect = rect.moved_inside(width, height)
        if rect.inside(width, height) and not any(rect.intersects(b) for b in blocked):
            return rect
    return None


def _around(box: Rect, w: int, h: int, gap: int) -> list[Rect]:
    """Spots for a w x h rectangle beside a box: right, left (top- then bottom-aligned), below, above."""
    right, left = box.x1 + gap, box.x0 - gap - w
    below, above = box.y1 + gap, box.y0 - gap - h
    return [
        Rect.at(x, y, w, h)
        for x, y in (
            (right, box.y0),
            (right, box.y1 - h),
            (left, box.y0),
            (left, box.y1 - h),
            (box.x0, below),
            (box.x1 - w, below),
            (box.x0, above),
            (box.x1 - w, above),
        )
    ]


def _label_spots(box: Rect, inner: tuple[int, int, int, int], w: int, h: int) -> list[Rect]:
    """Spots for a label: above the box, below it, then just inside its top or bottom edge."""
    x0, y0, x1, y1 = inner
    return [
        Rect.at(x, y, w, h)
        for x, y in (
            (box.x0, box.y0 - h),
            (box.x1 - w, box.y0 - h),
            (box.x0, box.y1),
            (box.x1 - w, box.y1),
            (x0, y0),
            (x1 + 1 - w, y0),
            (x0, y1 + 1 - h),
        )
    ]


def layout_overlay(
    faces: Sequence[DrawableFace],
    labels: Sequence[str],
    width: int,
    height: int,
    show_labels: bool = True,
    show_bars: bool = True,
    *,
    followed: int | None = None,
    style: Style | None = None,
) -> list[FaceLayout]:
    """Where each face's label, chart and tag go, in the order of `faces`. A face's box is in the way of the others
    whether or not boxes are drawn: it stands for the face.

    Greedy and stable from frame to frame: the followed face first, then by track id (older tracks keep their
    spots), each part in its first free spot. All labels are placed before any tag or chart, so a chart never takes
    the room another face's label needed.
    """
    style = style or Style.for_frame(width, height)
    n = len(faces)
    ids = [getattr(face, "track_id", None) for face in faces]
    is_followed = [followed is not None and i == followed for i in ids]
    inner = [_box_corners(face.box, width, height) for face in faces]
    boxes = []
    for (x0, y0, x1, y1), mark in zip(inner, is_followed):
        reach = (_box_thickness(style, mark) + 1) // 2 + 1  # half the outline, and its anti-aliased edge
        boxes.append(
            Rect(max(0, x0 - reach), max(0, y0 - reach), min(width, x1 + 1 + reach), min(height, y1 + 1 + reach))
        )
    order = sorted(range(n), key=lambda i: (not is_followed[i], ids[i] is None, ids[i] or 0, i))
    placed: list[Rect] = []

    def others(i: int) -> list[Rect]:
        return [boxes[j] for j in range(n) if j != i] + placed

    label_at: list[Rect | None] = [None] * n
    texts, scales = [""] * n, [style.font_scale] * n
    probs = [_probabilities(face) for face in faces]
    for i in order:
        top = int(np.argmax(probs[i])) if probs[i].size else -1
        text = _label_name(labels, top) if top >= 0 else "face"
        if top >= 0:
            text = f"{text} {probs[i][top]:.0%}"
        if ids[i] is not None:
            text = f"#{ids[i]} {text}"
        texts[i] = text
        if not show_labels:
            continue
        for scale in (style.font_scale, style.font_scale * SMALL_TEXT):
            w, h = _text_rect_size(text, scale, style)
            label_at[i] = _first_free(_label_spots(boxes[i], inner[i], w, h), others(i), width, height)
            if label_at[i] is not None:
                scales[i] = scale
                placed.append(label_at[i])
                break

    tag_at: list[Rect | None] = [None] * n
    for i in order:
        if show_labels and is_followed[i]:
            w, h = _text_rect_size(FOLLOWING_TEXT, style.font_scale * SMALL_TEXT, style)
            spots = _label_spots(boxes[i], inner[i], w, h) + _around(boxes[i], w, h, 0)
            if label_at[i] is not None:  # beside its label first, so they read as one
                lab = label_at[i]
                spots = [Rect.at(lab.x1, lab.y0, w, h), Rect.at(lab.x0 - w, lab.y0, w, h)] + spots
            tag_at[i] = _first_free(spots, others(i), width, height)
            if tag_at[i] is not None:
                placed.append(tag_at[i])

    chart_at: list[Rect | None] = [None] * n
    shapes: list[ChartShape | None] = [None] * n
    for i in order:
        if not (show_bars and probs[i].size and has_room_for_bars(faces[i].box, width, height)):
            continue
        blocked = others(i) + [boxes[i]]  # never over its own face either
        for shape in _chart_shapes(probs[i].size, style, boxes[i], width, height):
            chart_at[i] = _first_free(_around(boxes[i], shape.width, shape.height, style.pad), blocked, width, height)
            if chart_at[i] is not None:
                shapes[i] = shape
                placed.append(chart_at[i])
                break

    return [
        FaceLayout(i, boxes[i], label_at[i], texts[i], scales[i], chart_at[i], shapes[i], tag_at[i], is_followed[i])
        for i in range(n)
    ]


def _draw_box(
    image: np.ndarray, corners: tuple[int, int, int, int], color, style: Style, followed: bool, channels: int
) -> None:
    x0, y0, x1, y1 = corners
    thickness = _box_thickness(style, followed)
    cv2.rectangle(image, (x0, y0), (x1, y1), color, thickness, cv2.LINE_AA)
    if followed:  # white corner marks on the thick outline: seen whatever the emotion colour
        white = _color((255, 255, 255), channels)
        arm = max(3, min(x1 - x0, y1 - y0) // 5)
        for x, y, dx, dy in ((x0, y0, 1, 1), (x1, y0, -1, 1), (x0, y1, 1, -1), (x1, y1, -1, -1)):
            cv2.line(image, (x, y), (x + dx * arm, y), white, style.thickness, cv2.LINE_AA)
            cv2.line(image, (x, y), (x, y + dy * arm), white, style.thickness, cv2.LINE_AA)


def _draw_text_box(
    image: np.ndarray, rect: Rect, text: str, scale: float, fill: tuple[int, int, int], style: Style, channels: int
) -> None:
    cv2.rectangle(image, (rect.x0, rect.y0), (rect.x1 - 1, rect.y1 - 1), _color(fill, channels), cv2.FILLED)
    (_, th), _ = cv2.getTextSize(text, FONT, scale, style.text_thickness)
    cv2.putText(
        image,
        text,
        (rect.x0 + style.pad, rect.y0 + style.pad + th),
        FONT,
        scale,
        _color(_text_color(fill), channels),
        style.text_thickness,
        cv2.LINE_AA,
    )


def _draw_chart(
    image: np.ndarray,
    rect: Rect,
    shape: ChartShape,
    probs: np.ndarray,
    labels: Sequence[str],
    style: Style,
    channels: int,
) -> None:
    """One horizontal bar per class, with a short name when the chart has room for names."""
    _shade(image, rect)
    pad = style.pad
    scale = style.font_scale * 0.8
    grey = _color((235, 235, 235), channels)
    (_, nh), _ = cv2.getTextSize("www", FONT, scale, 1)
    bar_h = max(1, shape.row - max(1, pad // 2))
    bx = rect.x0 + (shape.name_width + 2 * pad if shape.named else pad)
    for i, p in enumerate(probs):
        top = rect.y0 + pad + i * shape.row
        name = _label_name(labels, i)
        if shape.named:
            cv2.putText(image, name[:3], (rect.x0 + pad, top + nh), FONT, scale, grey, 1, cv2.LINE_AA)
        length = int(round(float(np.clip(p, 0.0, 1.0)) * shape.bar_width))
        if length > 0:
            cv2.rectangle(
                image, (bx, top), (bx + length - 1, top + bar_h - 1), _color(color_for(name), channels), cv2.FILLED
            )


def draw_overlay(
    frame_bgr: np.ndarray,
    faces: Iterable[DrawableFace],
    labels: Sequence[str],
    show_boxes: bool = True,
    show_labels: bool = True,
    show_bars: bool = True,
    *,
    followed: int | None = None,
) -> np.ndarray:
    """An annotated copy of the frame (gray, BGR or BGRA uint8); the input is never modified.

    `followed` is the track id of the face the side panel follows; that face is marked.
    """
    image = np.array(frame_bgr, copy=True)
    if image.ndim not in (2, 3) or image.size == 0:
        raise ValueError(f"expected a non-empty HxW or HxWxC frame, got shape {image.shape}")
    image = np.ascontiguousarray(image)
    height, width = image.shape[:2]
    channels = 1 if image.ndim == 2 else image.shape[2]
    style = Style.for_frame(width, height)
    faces = list(faces)
    layout = layout_overlay(faces, labels, width, height, show_labels, show_bars, followed=followed, style=style)
    colors = []
    for face in faces:
        probs = _probabilities(face)
        colors.append(color_for(_label_name(labels, int(np.argmax(probs)))) if probs.size else UNKNOWN_COLOR_BGR)
    if show_boxes:
        for face, part, color in zip(faces, layout, colors):
            _draw_box(
                image, _box_corners(face.box, width, height), _color(color, channels), style, part.followed, channels
            )
    for face, part, color in zip(faces, layout, colors):
        if part.chart is not None and part.chart_shape is not None:
            _draw_chart(image, part.chart, part.chart_shape, _probabilities(face), labels, style, channels)
        if part.label is not None:
            _draw_text_box(image, part.label, part.label_text, part.label_scale, color, style, channels)
        if part.tag is not None:
            _draw_text_box(
                image, part.tag, FOLLOWING_TEXT, style.font_scale * SMALL_TEXT, (255, 255, 255), style, channels
            )
    return image
