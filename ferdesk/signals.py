"""Ctrl-C while a command is still loading its libraries.

A C extension (numpy, OpenCV, MediaPipe) that is interrupted while it imports does not pass the KeyboardInterrupt
on: it fails with a misleading ImportError ("could not import module datetime") and a long traceback. So the
imports of a command run with Ctrl-C held; one pressed meanwhile is raised as soon as they are done.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def ctrl_c_held() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) in (
        signal.SIG_IGN,
        None,
    ):
        yield
        return
    pressed: list[int] = []
    saved = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, saved)
    if pressed:
        raise KeyboardInterrupt
