"""Drawing results on a copy of a frame: box coloured by the top emotion, a label, a probability bar chart."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from ferdesk.labels import UNKNOWN_COLOR_BGR, color_for
from ferdesk.preprocess import Box

FONT = cv2.FONT_HERSHEY_SIMPLEX
# Faces smaller than this fraction of the frame's shorter side (or BARS_MIN_FACE_PX) get a label without the bar
# chart: in a group or crowd the charts would cover the neighbouring faces.
BARS_MIN_FACE_FRACTION = 0.12
BARS_MIN_FACE_PX = 48


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


def _shade(image: np.ndarray, x0: int, y0: int, x1: int, y1: int, amount: float = 0.55) -> None:
    """Darken a rectangle in place so text and bars stay readable on any background."""
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(image.shape[1], x1), min(image.shape[0], y1)
    if x1 > x0 and y1 > y0:
        roi = image[y0:y1, x0:x1]
        if roi.ndim == 3 and roi.shape[2] == 4:
            roi = roi[:, :, :3]  # leave alpha opaque
        roi[...] = (roi.astype(np.float32) * (1.0 - amount)).astype(image.dtype)


def _fit(x: int, y: int, w: int, h: int, width: int, height: int) -> tuple[int, int]:
    """Move a w x h rectangle at (x, y) the least distance needed to lie inside the frame."""
    x = min(max(0, x), max(0, width - w))
    y = min(max(0, y), max(0, height - h))
    return x, y


def _label_name(labels: Sequence[str], index: int) -> str:
    return labels[index] if 0 <= index < len(labels) else f"class {index}"


def draw_face(
    image: np.ndarray,
    face: DrawableFace,
    labels: Sequence[str],
    style: Style,
    show_boxes: bool = True,
    show_labels: bool = True,
    show_bars: bool = True,
) -> None:
    """Draw one face onto image in place (draw_overlay works on a copy)."""
    height, width = image.shape[:2]
    channels = 1 if image.ndim == 2 else image.shape[2]
    probs = np.asarray(getattr(face, "probabilities", ()), dtype=np.float64).ravel()
    probs = np.nan_to_num(probs)
    top = int(np.argmax(probs)) if probs.size else -1
    emotion = _label_name(labels, top) if top >= 0 else "face"
    base = color_for(emotion) if top >= 0 else UNKNOWN_COLOR_BGR
    color = _color(base, channels)

    box = face.box
    x0 = int(round(min(max(box.x, 0), width - 1)))
    y0 = int(round(min(max(box.y, 0), height - 1)))
    x1 = int(round(min(max(box.x + box.w, x0 + 1), width - 1)))
    y1 = int(round(min(max(box.y + box.h, y0 + 1), height - 1)))
    if show_boxes:
        cv2.rectangle(image, (x0, y0), (x1, y1), color, style.thickness, cv2.LINE_AA)

    if show_labels:
        text = emotion if top < 0 else f"{emotion} {probs[top]:.0%}"
        track_id = getattr(face, "track_id", None)
        if track_id is not None:
            text = f"#{track_id} {text}"
        (tw, th), baseline = cv2.getTextSize(text, FONT, style.font_scale, style.text_thickness)
        lw, lh = tw + 2 * style.pad, th + baseline + 2 * style.pad
        # Above the box where there is room, otherwise just inside its top edge.
        lx, ly = _fit(x0, y0 - lh if y0 - lh >= 0 else y0, lw, lh, width, height)
        cv2.rectangle(image, (lx, ly), (lx + lw - 1, ly + lh - 1), color, cv2.FILLED)
        cv2.putText(
            image,
            text,
            (lx + style.pad, ly + style.pad + th),
            FONT,
            style.font_scale,
            _color(_text_color(base), channels),
            style.text_thickness,
            cv2.LINE_AA,
        )

    if show_bars and probs.size and has_room_for_bars(box, width, height):
        _draw_bars(image, probs, labels, style, (x0, y0, x1, y1), channels)


def has_room_for_bars(box: Box, width: int, height: int) -> bool:
    """Whether a face is large enough in its frame to get a probability chart beside its label."""
    return max(box.w, box.h) >= max(BARS_MIN_FACE_PX, BARS_MIN_FACE_FRACTION * min(width, height))


def _draw_bars(
    image: np.ndarray,
    probs: np.ndarray,
    labels: Sequence[str],
    style: Style,
    box: tuple[int, int, int, int],
    channels: int,
) -> None:
    """One horizontal bar per class, with a short name, beside the box (right, else left, else below).

    The chart is no taller than the face box (or a small minimum), so on tiny frames and small faces
    it shrinks to thin unnamed bars instead of covering the neighbours.
    """
    height, width = image.shape[:2]
    x0, y0, x1, y1 = box
    k = probs.size
    scale = style.font_scale * 0.8
    names = [_label_name(labels, i)[:3] for i in range(k)]
    (nw, nh), nb = cv2.getTextSize("www", FONT, scale, 1)
    row = max(3, nh + nb + style.pad)
    bar_w = max(12, int(round(nw * 2.5)))
    limit_h = min(height, max(y1 - y0, 2 * k + 2 * style.pad))
    with_names = row * k + 2 * style.pad <= limit_h and nw + 3 * style.pad + bar_w <= width
    if not with_names:
        row = max(1, (limit_h - 2 * style.pad) // k)
        nw, bar_w = 0, max(4, min(bar_w, (x1 - x0) // 2, width // 4))
    chart_w = (nw + 3 * style.pad if with_names else 2 * style.pad) + bar_w
    chart_h = row * k + 2 * style.pad
    gap = style.pad * 2
    if x1 + gap + chart_w <= width:
        cx, cy = x1 + gap, y0
    elif x0 - gap - chart_w >= 0:
        cx, cy = x0 - gap - chart_w, y0
    else:
        cx, cy = x0, y1 + gap
    cx, cy = _fit(cx, cy, chart_w, chart_h, width, height)
    _shade(image, cx, cy, cx + chart_w, cy + chart_h)
    for i, p in enumerate(probs):
        top = cy + style.pad + i * row
        base = color_for(_label_name(labels, i))
        if with_names:
            grey = _color((235, 235, 235), channels)
            cv2.putText(image, names[i], (cx + style.pad, top + nh), FONT, scale, grey, 1, cv2.LINE_AA)
        bx = cx + (nw + 2 * style.pad if with_names else style.pad)
        length = int(round(float(np.clip(p, 0.0, 1.0)) * bar_w))
        bar_h = max(1, row - max(1, style.pad // 2))
        if length > 0:
            cv2.rectangle(image, (bx, top), (bx + length - 1, top + bar_h - 1), _color(base, channels), cv2.FILLED)


def draw_overlay(
    frame_bgr: np.ndarray,
    faces: Iterable[DrawableFace],
    labels: Sequence[str],
    show_boxes: bool = True,
    show_labels: bool = True,
    show_bars: bool = True,
) -> np.ndarray:
    """An annotated copy of the frame (gray, BGR or BGRA uint8); the input is never modified."""
    image = np.array(frame_bgr, copy=True)
    if image.ndim not in (2, 3) or image.size == 0:
        raise ValueError(f"expected a non-empty HxW or HxWxC frame, got shape {image.shape}")
    image = np.ascontiguousarray(image)
    style = Style.for_frame(image.shape[1], image.shape[0])
    for face in faces:
        draw_face(image, face, labels, style, show_boxes, show_labels, show_bars)
    return image
