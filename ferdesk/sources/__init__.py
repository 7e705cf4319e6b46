"""Frame sources (camera, video file, images, built-in demo) and a threaded grabber that keeps only the newest frame.

Every source has `name`, `fps` (None when unknown), `live`, `ended`, and
`open()`, `read() -> (ok, frame, timestamp_s)`, `close()`. A frame is a contiguous BGR uint8 HxWx3 array.
`read()` returns ok=False with `ended` set at a clean end of stream; any other ok=False, or a raised
exception, is a failure that LatestFrameGrabber answers by re-opening the source.

Modules: `base` (the contract, FramePlace, SourceError, check_source), `camera`, `files` (videos and images),
`demo`, `factory` (open_source: what the app and `ferdesk annotate` open from a user's words) and `grabber`.
"""

from ferdesk.media import IMAGE_SUFFIXES, read_image
from ferdesk.sources.base import FramePlace, FrameSource, ReadResult, SourceError, check_source
from ferdesk.sources.camera import CameraSource, list_cameras
from ferdesk.sources.demo import DEMO_DIR, DemoSource, demo_faces
from ferdesk.sources.factory import open_source
from ferdesk.sources.files import ImageSource, VideoFileSource
from ferdesk.sources.grabber import GrabbedFrame, GrabberState, LatestFrameGrabber

__all__ = [
    "DEMO_DIR",
    "IMAGE_SUFFIXES",
    "CameraSource",
    "DemoSource",
    "FramePlace",
    "FrameSource",
    "GrabbedFrame",
    "GrabberState",
    "ImageSource",
    "LatestFrameGrabber",
    "ReadResult",
    "SourceError",
    "VideoFileSource",
    "check_source",
    "demo_faces",
    "list_cameras",
    "open_source",
    "read_image",
]
