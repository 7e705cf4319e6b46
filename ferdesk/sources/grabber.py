"""A daemon thread that reads a source and always offers the newest frame, re-opening it after failures."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from ferdesk.sources.base import FramePlace, FrameSource, SourceError

log = logging.getLogger(__name__)


class GrabberState(StrEnum):
    """Where a grabber is. Members are strings ("running"...), so Qt signals and logs carry them as plain text."""

    IDLE = "idle"  # not started
    OPENING = "opening"
    RUNNING = "running"  # frames are coming
    RETRYING = "retrying"  # the source failed; waiting to re-open it (`error` says why)
    ENDED = "ended"  # a clean end of a file or folder
    STOPPED = "stopped"  # stop() was called, or the thread died

    @property
    def finished(self) -> bool:
        """No more frames will come without a new grabber."""
        return self in (GrabberState.ENDED, GrabberState.STOPPED)


@dataclass(frozen=True)
class GrabbedFrame:
    """A frame as the grabber hands it out: `index` counts frames read since start(), across re-opens."""

    frame: np.ndarray
    index: int
    timestamp: float  # the source's timestamp (media time, or monotonic time for cameras)
    captured_at: float  # time.monotonic() when the grabber got it
    place: FramePlace = FramePlace()


class LatestFrameGrabber:
    """Reads a source on a daemon thread and always offers the newest frame; older unread frames are dropped.

    Failures never reach the caller: they are logged, stored in `error`, passed to `on_error`, and the
    source is re-opened with exponential back-off (retry_initial doubling up to retry_max seconds).
    Non-live sources (files, images, demo) are paced at their fps times `speed` unless pace=False.
    `state` is a GrabberState; on_state is called with each new one (from the reader thread).
    """

    def __init__(
        self,
        source: FrameSource,
        *,
        pace: bool | None = None,
        speed: float = 1.0,
        on_error: Callable[[BaseException], None] | None = None,
        on_state: Callable[[GrabberState], None] | None = None,
        retry_initial: float = 0.25,
        retry_max: float = 4.0,
        max_failures_per_open: int = 3,
    ) -> None:
        self.source = source
        self.pace = (not source.live) if pace is None else pace
        self.speed = speed
        self.on_error = on_error
        self.on_state = on_state
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.max_failures_per_open = max_failures_per_open
        self.state = GrabberState.IDLE
        self.error: BaseException | None = None
        self.errors = 0
        self.frames_read = 0
        self.frames_dropped = 0
        self._latest: GrabbedFrame | None = None
        self._taken = True
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._held = False  # paused: a file or folder waits where it is instead of playing on
        self._steps = 0  # frames to read while paused (a step or a seek)

    # -- consumer side
    def start(self) -> LatestFrameGrabber:
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"grabber-{self.source.name}", daemon=True)
        self._thread.start()
        return self

    def latest(self) -> GrabbedFrame | None:
        """The newest frame, or None before the first; never blocks."""
        with self._cond:
            self._taken = True
            return self._latest

    def get(self, timeout: float | None = None, newer_than: int = -1) -> GrabbedFrame | None:
        """Wait up to timeout for a frame with index > newer_than; None on timeout, end or stop."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._latest is None or self._latest.index <= newer_than:
                if self.state.finished:
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining if remaining is not None else 0.5)
            self._taken = True
            return self._latest

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def pause(self, paused: bool) -> None:
        """Stop reading (a file stays where it is; a camera is not paused, its frames are only not taken)."""
        with self._cond:
            self._held = paused and not self.source.live
            self._cond.notify_all()

    def read_one(self) -> None:
        """While paused, read one frame (after a seek or a step)."""
        with self._cond:
            self._steps += 1
            self._cond.notify_all()

    def _wait_while_paused(self) -> bool:
        """Block while paused and no step is asked for; True when the frame read next is a step."""
        with self._cond:
            while self._held and not self._steps and not self._stop.is_set():
                self._cond.wait(0.1)
            if self._steps:
                self._steps -= 1
                return True
            return False

    def stop(self, timeout: float = 3.0) -> None:
        """Ask the thread to finish and join it; the thread closes the source itself."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("grabber for %s did not stop within %.1f s (blocked read)", self.source.name, timeout)
        if not self.running and self.state != GrabberState.ENDED:
            self._set_state(GrabberState.STOPPED)

    def __enter__(self) -> LatestFrameGrabber:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- reader thread
    def _set_state(self, state: GrabberState) -> None:
        with self._cond:
            changed = state != self.state
            self.state = state
            self._cond.notify_all()
        if changed and self.on_state is not None:
            try:
                self.on_state(state)
            except Exception:
                log.exception("on_state callback failed")

    def _report(self, exc: BaseException) -> None:
        self.error = exc
        self.errors += 1
        log.warning("source %s failed: %s", self.source.name, exc)
        if self.on_error is not None:
            try:
                self.on_error(exc)
            except Exception:
                log.exception("on_error callback failed")

    def _publish(self, frame: np.ndarray, timestamp: float) -> None:
        place = self.source.place()
        with self._cond:
            if not self._taken:
                self.frames_dropped += 1
            self._latest = GrabbedFrame(frame, self.frames_read, timestamp, time.monotonic(), place)
            self._taken = False
            self.frames_read += 1
            self._cond.notify_all()

    def _run(self) -> None:
        delay = self.retry_initial
        is_open, failures = False, 0
        pace_origin: tuple[float, float] | None = None  # (wall clock, media time) that pacing counts from
        try:
            while not self._stop.is_set():
                if not is_open:
                    self._set_state(GrabberState.OPENING)
                    try:
                        self.source.open()
                        is_open, failures, pace_origin = True, 0, None
                        self._set_state(GrabberState.RUNNING)
                    except Exception as exc:
                        self._report(exc)
                        self._set_state(GrabberState.RETRYING)
                        self._stop.wait(delay)
                        delay = min(delay * 2.0, self.retry_max)
                        continue
                stepping = self._wait_while_paused()
                if self._stop.is_set():
                    break
                try:
                    ok, frame, timestamp = self.source.read()
                except Exception as exc:
                    self._report(exc)
                else:
                    if ok and frame is not None:
                        failures, delay = 0, self.retry_initial
                        if stepping or self.source.jumped:  # shown at once; playing goes on from here
                            self.source.jumped, pace_origin = False, None
                        if self.pace and self.speed > 0 and not stepping:
                            pace_origin = self._wait_until_due(pace_origin, timestamp)
                            if self._stop.is_set():
                                break
                        self._publish(frame, timestamp)
                        continue
                    if self.source.ended:
                        self._set_state(GrabberState.ENDED)
                        return
                    # A camera may drop a single frame; only a run of empty reads means it is gone.
                    failures += 1
                    if failures < self.max_failures_per_open:
                        continue
                    self._report(SourceError(f"{self.source.name} stopped delivering frames"))
                self._close_source()
                is_open = False
                self._set_state(GrabberState.RETRYING)
                self._stop.wait(delay)
                delay = min(delay * 2.0, self.retry_max)
        except BaseException as exc:  # never let the thread die silently
            self._report(exc)
        finally:
            self._close_source()
            if self.state != GrabberState.ENDED:
                self._set_state(GrabberState.STOPPED)

    def _wait_until_due(self, origin: tuple[float, float] | None, timestamp: float) -> tuple[float, float]:
        """Sleep until a frame with this media time is due; re-anchor after loops, seeks or long stalls."""
        now = time.monotonic()
        if origin is None:
            return now, timestamp
        due = origin[0] + (timestamp - origin[1]) / self.speed
        if timestamp < origin[1] or due < now - 1.0 or due > now + 5.0:
            return now, timestamp
        if due > now:
            self._stop.wait(due - now)
        return origin

    def _close_source(self) -> None:
        try:
            self.source.close()
        except Exception as exc:
            log.warning("closing %s failed: %s", self.source.name, exc)
