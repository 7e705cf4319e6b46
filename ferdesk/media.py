"""Image and video files: which suffixes ferdesk reads and writes, and the one image reader.

Sources, annotate and training's folder loader all take these from here, so a file one of them accepts the others
accept too.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from ferdesk.preprocess import to_color

# Still images OpenCV decodes and encodes (a GIF gives its first frame).
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".gif"})
# Video files ferdesk writes, with the FourCC that OpenCV's own backends can encode on every platform.
VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG"}


class ImageError(ValueError):
    """An image file that cannot be read; the message names the file."""


def read_image(path: str | os.PathLike) -> np.ndarray:
    """A contiguous BGR uint8 HxWx3 image, turned as its EXIF orientation says; raises ImageError naming the file.

    np.fromfile + imdecode keeps non-ASCII paths working on Windows; any bit depth, gray or alpha is normalised
    by preprocess.to_color (16-bit by its top byte, alpha dropped).
    """
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror or exc})") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH) if data.size else None
    if image is None:
        raise ImageError(f"{path}: unreadable or unsupported image")
    return to_color(image)
