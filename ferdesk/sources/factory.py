"""The one place that turns what a user typed ('demo', '0', 'camera:1', a path) into a source."""

from __future__ import annotations

import os
from pathlib import Path


from ferdesk.media import IMAGE_SUFFIXES

from ferdesk.sources.base import FrameSource, SourceError
from ferdesk.sources.camera import CameraSource
from ferdesk.sources.demo import DemoSource
from ferdesk.sources.files import ImageSource, VideoFileSource


def open_source(
    spec: str | int | os.PathLike, files_only: bool = False, camera_options: dict | None = None, **image_options
) -> FrameSource:
    """A source from a user's words: 'demo', a camera index ('0', 'camera:1'), a video file, an image or a folder
    (not opened yet). `files_only`: paths only, as `ferdesk annotate` reads them; a path that does not exist, or
    is neither a file nor a folder, raises SourceError. `camera_options` go to CameraSource (width, height, fps),
    `image_options` to ImageSource (fps, loop, hold, ...)."""
    if not files_only:
        text = str(spec).strip()
        index = (
            spec
            if isinstance(spec, int)
            else int(text)
            if text.isdigit()
            else int(text[7:])
            if text.lower().startswith("camera:") and text[7:].isdigit()
            else None
        )
        if index is not None:
            return CameraSource(index, **(camera_options or {}))
        if text.lower() == "demo":
            return DemoSource()
    path = Path(str(spec).strip()).expanduser()
    if files_only and not path.exists():
        raise SourceError(f"not found: {path}")
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(path, **image_options)
    if files_only and not path.is_file():
        raise SourceError(f"neither a file nor a folder: {path}")
    return VideoFileSource(path)
