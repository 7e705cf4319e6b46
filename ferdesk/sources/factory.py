"""The one place that turns what a user typed ('demo', '0', 'camera:1', a path) into a source."""

from __future__ import annotations

import os
from pathlib import Path


from ferdesk.media import IMAGE_SUFFIXES

from ferdesk.sources.base import FrameSource
from ferdesk.sources.camera import CameraSource
from ferdesk.sources.demo import DemoSource
from ferdesk.sources.files import ImageSource, VideoFileSource


def open_source(spec: str | int | os.PathLike) -> FrameSource:
    """A source from a user's words: 'demo', a camera index ('0', 'camera:1'), a video file, an image or a folder."""
    if isinstance(spec, int):
        return CameraSource(spec)
    text = str(spec).strip()
    if text.lower() == "demo":
        return DemoSource()
    if text.isdigit():
        return CameraSource(int(text))
    if text.lower().startswith("camera:") and text[7:].isdigit():
        return CameraSource(int(text[7:]))
    path = Path(text).expanduser()
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(path)
    return VideoFileSource(path)
