"""What every frame source is: the FrameSource contract, where a frame sits in its source, and errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


# (ok, BGR uint8 HxWx3 frame or None, timestamp in seconds)
ReadResult = tuple[bool, "np.ndarray | None", float]


class SourceError(RuntimeError):
    """A source could not be opened or stopped delivering frames."""


@dataclass(frozen=True)
class FramePlace:
    """Where a frame lies in its source: its index, how many there are (0: live or endless), the file it is."""

    index: int = -1
    count: int = 0
    file: Path | None = None
    fps: float = 0.0  # frames a second of a video file (0: not a video file)


class FrameSource:
    """Base class: the small interface every source offers."""

    name: str = "source"
    fps: float | None = None
    live: bool = False  # live sources block in read(); the grabber never paces them
    jumped: bool = False  # set by read() when its frame does not follow the one before (a seek): pacing restarts

    def __init__(self) -> None:
        self.ended = False

    def open(self) -> None:
        raise NotImplementedError

    def read(self) -> ReadResult:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file; safe to call more than once."""

    def place(self) -> FramePlace:
        """Where the frame last read lies (asked on the thread that reads)."""
        return FramePlace()

    @property
    def is_open(self) -> bool:
        raise NotImplementedError

    def __enter__(self) -> FrameSource:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


# --------------------------------------------------------------------------------------------- cameras


def check_source(source: FrameSource) -> None:
    """Open the source, read one frame and close it again; raise SourceError saying why it cannot be shown.

    Run before a source replaces the one on screen: a file that is not a video, or a camera that is not there,
    is refused at once instead of being retried for ever.
    """
    try:
        source.open()
        ok, frame, _ = source.read()
    except SourceError:
        raise
    except Exception as exc:  # a decoder or driver error: the same answer, the source cannot be shown
        raise SourceError(f"{source.name}: {exc}") from exc
    finally:
        source.close()
    if not ok or frame is None:
        raise SourceError(f"{source.name}: no frame could be read from it")
