"""Face -> model input. Training and the live app both call this module; nothing else resizes faces.

A dataset image (already a face crop) and a face box in a camera frame go through the same steps:
square crop around the face (padded by edge replication where it leaves the frame), grayscale,
resize to 48x48, then scale to float in [0, 1]. A face in a frame whose head is tilted is first turned
upright about its box centre by the angle of the line between its eyes (eye_angle), so the crop looks like
the upright, registered FER2013 faces the models learn from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

INPUT_SIZE = 48

# Crop geometry relative to a detector box, chosen so live crops are framed like FER2013 faces.
# The square crop side is CROP_SCALE times the box's larger side; its centre moves down by
# CROP_SHIFT_Y box heights (negative: up). Medians over 390 FER2013 faces seen by the short-range
# BlazeFace model: a FER2013 image is 1.19x the box and centred 0.08 box heights above it.
# Calibration: benchmarks/calibrate_crop.py and docs/calibration.md; tested in tests/test_detect.py.
CROP_SCALE = 1.19
CROP_SHIFT_Y = -0.08

PREPROCESS_VERSION = 1


def preprocessing_spec() -> dict:
    """What a model was trained on; stored in every model card and checked when a model loads."""
    return {
        "version": PREPROCESS_VERSION,
        "input_size": INPUT_SIZE,
        "channels": 1,
        "color": "gray",
        "scale": "pixel/255",
        "crop_scale": CROP_SCALE,
        "crop_shift_y": CROP_SHIFT_Y,
    }


class PreprocessMismatch(ValueError):
    """A model expects input prepared differently from what this version of ferdesk produces."""


def check_spec(spec: dict) -> None:
    """Raise PreprocessMismatch when a model card's preprocessing differs from ours in a way that matters."""
    ours = preprocessing_spec()
    # Crop geometry only shifts framing slightly; everything else changes the numbers the model sees.
    for key in ("version", "input_size", "channels", "color", "scale"):
        if spec.get(key) != ours[key]:
            raise PreprocessMismatch(
                f"model expects preprocessing {key}={spec.get(key)!r}, this ferdesk produces {ours[key]!r}"
            )


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Bring any common pixel type to uint8 (float in [0,1] or [0,255], 16-bit, bool)."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    if image.dtype == bool:
        return image.astype(np.uint8) * 255
    if np.issubdtype(image.dtype, np.floating) or np.issubdtype(image.dtype, np.integer):
        data = image.astype(np.float32)
        if np.issubdtype(image.dtype, np.floating) and data.size and float(np.nanmax(data)) <= 1.0:
            data = data * 255.0
        return np.clip(np.nan_to_num(data), 0, 255).astype(np.uint8)
    raise TypeError(f"unsupported pixel type {image.dtype}")


def to_color(image: np.ndarray, order: str = "bgr", out: str = "bgr") -> np.ndarray:
    """Contiguous uint8 HxWx3 in `out` order ("bgr" or "rgb") from gray (HxW, HxWx1), colour or colour+alpha in
    `order`, of any pixel type to_uint8 takes: the one normaliser that sources, the pipeline and the detector use."""
    image = to_uint8(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    rgb_in, rgb_out = order.lower() == "rgb", out.lower() == "rgb"
    if image.ndim == 2:
        color = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB if rgb_out else cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 3:
        color = image if rgb_in == rgb_out else image[:, :, ::-1]
    elif image.ndim == 3 and image.shape[2] == 4:
        color = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR if rgb_in == rgb_out else cv2.COLOR_BGRA2RGB)
    else:
        raise ValueError(f"expected an HxW, HxWx1, HxWx3 or HxWx4 image, got shape {image.shape}")
    return np.ascontiguousarray(color)


def to_gray(image: np.ndarray, order: str = "bgr") -> np.ndarray:
    """Grayscale uint8 from gray (HxW or HxWx1), colour (HxWx3) or colour+alpha (HxWx4) in BGR or RGB order."""
    image = to_uint8(image)
    if image.ndim == 2:
        return image
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an HxW, HxWx1, HxWx3 or HxWx4 image, got shape {image.shape}")
    channels = image.shape[2]
    if channels == 1:
        return image[:, :, 0]
    rgb = order.lower() == "rgb"
    if channels == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY if rgb else cv2.COLOR_BGR2GRAY)
    return cv2.cvtColor(image, cv2.COLOR_RGBA2GRAY if rgb else cv2.COLOR_BGRA2GRAY)


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels: top-left corner and size."""

    x: float
    y: float
    w: float
    h: float

    def as_xyxy(self) -> tuple[float, float, float, float]:
        return self.x, self.y, self.x + self.w, self.y + self.h

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def contains(self, point: tuple[float, float]) -> bool:
        """Whether the point lies in the box, edges included."""
        px, py = point
        return self.x <= px <= self.x + self.w and self.y <= py <= self.y + self.h

    def centre_distance(self, other: Box) -> float:
        """Pixels from this box's centre to the other's."""
        (ax, ay), (bx, by) = self.centre, other.centre
        return math.hypot(ax - bx, ay - by)


def crop_region(box: Box, scale: float = CROP_SCALE, shift_y: float = CROP_SHIFT_Y) -> tuple[int, int, int, int]:
    """The square region (x0, y0, x1, y1) to crop around a detector box; it may extend past the frame."""
    side = max(box.w, box.h) * scale
    cx, cy = box.centre
    cy += shift_y * box.h
    x0 = int(round(cx - side / 2.0))
    y0 = int(round(cy - side / 2.0))
    s = max(1, int(round(side)))
    return x0, y0, x0 + s, y0 + s


def eye_angle(right_eye: tuple[float, float], left_eye: tuple[float, float]) -> float:
    """Degrees to turn a face (counter-clockwise on screen) so its eyes are level; 0 for an upright face.

    `right_eye` is the subject's right eye (on the image's left in an unmirrored photo), as BlazeFace orders them.
    """
    (rx, ry), (lx, ly) = right_eye, left_eye
    if rx == lx and ry == ly:
        return 0.0
    return float(np.degrees(np.arctan2(ly - ry, lx - rx)))


# Tilts up to this many degrees are left alone and larger ones turned back by this much less: small tilts are
# within what the models learned from (FER2013 faces are registered, not levelled), and turning them only blurs.
ALIGN_DEAD_BAND = 5.0


def alignment_angle(right_eye: tuple[float, float], left_eye: tuple[float, float]) -> float:
    """The angle crop_face should turn a detected face by: its eye_angle, less the ALIGN_DEAD_BAND."""
    angle = eye_angle(right_eye, left_eye)
    return float(np.sign(angle) * max(0.0, abs(angle) - ALIGN_DEAD_BAND))


def _upright_patch(image: np.ndarray, box: Box, angle: float) -> np.ndarray:
    """The square crop region of a face turned by `angle` degrees about its box centre, at full resolution.

    One affine warp: turn about the box centre, then take crop_region's square from the turned frame, so an
    angle of 0 gives exactly the plain crop; pixels from outside the frame repeat its edge.
    """
    x0, y0, x1, _ = crop_region(box)
    side = x1 - x0
    matrix = cv2.getRotationMatrix2D(box.centre, angle, 1.0)
    matrix[:, 2] -= (x0, y0)
    return cv2.warpAffine(
        to_uint8(image), matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def crop_face(image: np.ndarray, box: Box | None = None, order: str = "bgr", angle: float = 0.0) -> np.ndarray:
    """A 48x48 uint8 grayscale face from a frame and a detector box, or from a whole dataset image (box=None).

    Where the crop leaves the frame, edge pixels are repeated, so faces at the border keep their shape.
    `angle` (degrees, from eye_angle) turns a tilted face upright first; 0 crops exactly as before alignment.
    """
    image = np.asarray(image)
    if image.ndim < 2 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"empty image of shape {image.shape}")
    if not np.isfinite(angle):
        raise ValueError(f"angle must be a finite number of degrees, got {angle}")
    height, width = image.shape[:2]
    if box is None:
        patch = image
        if angle != 0.0:  # a whole dataset image turns about its centre
            matrix = cv2.getRotationMatrix2D(((width - 1) / 2.0, (height - 1) / 2.0), angle, 1.0)
            patch = cv2.warpAffine(
                to_uint8(image), matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
    elif angle != 0.0:
        x0, y0, x1, y1 = crop_region(box)
        if min(x1, width) <= max(x0, 0) or min(y1, height) <= max(y0, 0):
            raise ValueError(f"face box {box} lies outside the {width}x{height} frame")
        patch = _upright_patch(image, box, angle)
    else:
        x0, y0, x1, y1 = crop_region(box)
        cx0, cy0 = max(0, x0), max(0, y0)
        cx1, cy1 = min(width, x1), min(height, y1)
        if cx0 >= cx1 or cy0 >= cy1:
            raise ValueError(f"face box {box} lies outside the {width}x{height} frame")
        patch = image[cy0:cy1, cx0:cx1]
        pads = (cy0 - y0, y1 - cy1, cx0 - x0, x1 - cx1)
        if any(pads):
            patch = cv2.copyMakeBorder(to_uint8(patch), *pads, cv2.BORDER_REPLICATE)
    gray = to_gray(patch, order)
    if gray.shape == (INPUT_SIZE, INPUT_SIZE):
        return np.ascontiguousarray(gray)
    shrinking = gray.shape[0] > INPUT_SIZE or gray.shape[1] > INPUT_SIZE
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(gray, (INPUT_SIZE, INPUT_SIZE), interpolation=interpolation)


def to_model_input(faces: np.ndarray) -> np.ndarray:
    """(N, 48, 48) uint8 faces -> (N, 48, 48, 1) float32 in [0, 1], the tensor every model takes."""
    faces = np.asarray(faces)
    if faces.ndim == 2:
        faces = faces[None]
    if faces.ndim == 4 and faces.shape[-1] == 1:
        faces = faces[..., 0]
    if faces.ndim != 3 or faces.shape[1:] != (INPUT_SIZE, INPUT_SIZE):
        raise ValueError(f"expected faces of shape (N, {INPUT_SIZE}, {INPUT_SIZE}), got {faces.shape}")
    return (faces.astype(np.float32) / 255.0)[..., None]
