"""Frame sources and the latest-frame grabber: real files, a real demo stream, failures mid-stream."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from ferdesk.sources import (
    CameraSource,
    DemoSource,
    FrameSource,
    ImageSource,
    LatestFrameGrabber,
    SourceError,
    VideoFileSource,
    check_source,
    demo_faces,
    list_cameras,
    open_source,
)

HAS_VIDEO_DEVICES = any(Path("/dev").glob("video*"))


def write_video(path: Path, frames: int = 12, fps: float = 20.0, size: tuple[int, int] = (64, 48)) -> Path:
    """A small MJPG video whose frame i is uniformly grey level 10 * i, so order can be checked."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), 10 * i, np.uint8))
    writer.release()
    return path


def grey_level(frame: np.ndarray) -> int:
    return int(round(float(frame.mean()) / 10.0))


def wait_for(predicate, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


class CountingSource(FrameSource):
    """A camera-like source: frame i carries i in its first pixels; fails after `fail_after` frames per open."""

    live = True  # like a camera: never paced, timestamps are not media time

    def __init__(self, fail_after: int | None = None, fail_opens: int = 0, delay: float = 0.0) -> None:
        super().__init__()
        self.name = "counting"
        self.fail_after = fail_after
        self.fail_opens = fail_opens
        self.delay = delay
        self.opens = 0
        self.count = 0
        self.since_open = 0
        self._open = False

    def open(self) -> None:
        self.opens += 1
        if self.opens <= self.fail_opens:
            raise SourceError(f"open #{self.opens} refused")
        self._open = True
        self.since_open = 0

    def read(self):
        if not self._open:
            raise SourceError("not open")
        if self.fail_after is not None and self.since_open >= self.fail_after:
            raise OSError("device unplugged")
        if self.delay:
            time.sleep(self.delay)
        frame = np.zeros((4, 4, 3), np.uint8)
        frame.reshape(-1)[:4] = np.frombuffer(np.uint32(self.count).tobytes(), np.uint8)
        self.count += 1
        self.since_open += 1
        return True, frame, float(self.count)

    def close(self) -> None:
        self._open = False

    @property
    def is_open(self) -> bool:
        return self._open


def counter_of(frame: np.ndarray) -> int:
    return int(np.frombuffer(frame.reshape(-1)[:4].tobytes(), np.uint32)[0])


# ---------------------------------------------------------------------------------------------- cameras


@pytest.mark.skipif(HAS_VIDEO_DEVICES, reason="this machine has video devices")
def test_list_cameras_is_empty_and_fast_without_devices():
    start = time.perf_counter()
    assert list_cameras() == []
    assert list_cameras(max_index=10) == []
    assert time.perf_counter() - start < 0.5


@pytest.mark.skipif(HAS_VIDEO_DEVICES, reason="this machine has video devices")
def test_missing_camera_fails_fast():
    source = CameraSource(0)
    start = time.perf_counter()
    with pytest.raises(SourceError, match="no camera"):
        source.open()
    assert time.perf_counter() - start < 0.5
    assert not source.is_open
    assert source.live


# ------------------------------------------------------------------------------------------ video files


def test_video_file_source_reads_every_frame_in_order(tmp_path):
    path = write_video(tmp_path / "clip.avi", frames=12, fps=20.0)
    with VideoFileSource(path) as source:
        assert source.fps == pytest.approx(20.0)
        assert source.frame_count == 12
        got = []
        while True:
            ok, frame, ts = source.read()
            if not ok:
                break
            assert frame.dtype == np.uint8 and frame.shape == (48, 64, 3) and frame.flags["C_CONTIGUOUS"]
            got.append((grey_level(frame), ts))
        assert source.ended
    assert [g for g, _ in got] == list(range(12))
    assert [t for _, t in got] == pytest.approx([i / 20.0 for i in range(12)])


def test_video_file_source_loops(tmp_path):
    path = write_video(tmp_path / "clip.avi", frames=5)
    with VideoFileSource(path, loop=True) as source:
        levels = [grey_level(source.read()[1]) for _ in range(12)]
        assert not source.ended
    assert levels == [0, 1, 2, 3, 4] * 2 + [0, 1]


def test_video_file_source_errors(tmp_path):
    with pytest.raises(SourceError, match="not found"):
        VideoFileSource(tmp_path / "missing.mp4").open()
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 10)
    with pytest.raises(SourceError, match="cannot decode"):
        VideoFileSource(junk).open()


def test_deleted_video_file_is_a_failure_not_an_end(tmp_path):
    path = write_video(tmp_path / "clip.avi", frames=3)
    source = VideoFileSource(path)
    source.open()
    assert source.read()[0]
    path.unlink()
    with pytest.raises(SourceError, match="disappeared"):
        while source.read()[0]:
            pass
    assert not source.ended
    source.close()


# ------------------------------------------------------------------------------------------------ images


def test_image_folder_sorted_skips_junk_and_loops(tmp_path):
    for name, level in (("b.png", 20), ("a.jpg", 10), ("c.bmp", 30)):
        cv2.imwrite(str(tmp_path / name), np.full((30, 40, 3), level, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG truncated")
    cv2.imwrite(str(tmp_path / "gray.png"), np.full((10, 10), 40, np.uint8))
    source = ImageSource(tmp_path, loop=True, fps=4.0)
    source.open()
    assert source.frame_count == 5  # broken.png counts until it fails to decode
    reads = [source.read() for _ in range(5)]
    assert all(ok for ok, _, _ in reads)
    assert [int(f.mean()) for _, f, _ in reads] == [10, 20, 30, 40, 10]  # broken.png skipped, then around again
    assert reads[3][1].shape == (10, 10, 3)  # gray files come out as BGR
    assert [ts for _, _, ts in reads[:3]] == [0.0, 0.25, 0.75]  # index / fps, counting the skipped file


def test_single_image_and_empty_folder(tmp_path):
    path = tmp_path / "one.png"
    cv2.imwrite(str(path), np.full((8, 8, 3), 50, np.uint8))
    with ImageSource(path) as source:
        ok, frame, _ = source.read()
        assert ok and frame.shape == (8, 8, 3) and source.current_path == path
        assert source.read()[0] is False and source.ended
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="no images"):
        ImageSource(empty).open()


# -------------------------------------------------------------------------------------------------- demo


def test_demo_faces_ship_and_load():
    names = [n for n, _ in demo_faces()]
    assert names[0] == "grace_hopper"
    assert len(names) == 8


def test_demo_is_deterministic_and_moves():
    a, b = DemoSource(), DemoSource()
    a.open()
    b.open()
    f1 = a.frame_at(3.3)
    assert f1.shape == (480, 640, 3) and f1.dtype == np.uint8
    assert np.array_equal(f1, b.frame_at(3.3))
    assert not np.array_equal(f1, a.frame_at(3.5))
    ok, frame, ts = a.read()
    assert ok and ts == 0.0 and np.array_equal(frame, b.frame_at(0.0))
    assert a.read()[2] == pytest.approx(1 / 30)


def test_demo_duration_ends():
    with DemoSource(size=(320, 240), fps=10.0, duration=0.3) as source:
        frames = []
        while True:
            ok, frame, _ = source.read()
            if not ok:
                break
            frames.append(frame)
        assert len(frames) == 3 and frames[0].shape == (240, 320, 3) and source.ended


def test_demo_frames_contain_detectable_faces():
    from ferdesk.detect import FaceDetector

    demo = DemoSource()
    demo.open()
    with FaceDetector() as detector:
        counts = [len(detector.detect(demo.frame_at(t))) for t in np.arange(0.0, 20.0, 1.3)]
    assert min(counts) >= 2 and max(counts) == 3
    assert np.mean(counts) > 2.6


def test_open_source_parses_specs(tmp_path):
    assert isinstance(open_source("demo"), DemoSource)
    assert isinstance(open_source(1), CameraSource) and open_source("camera:2").index == 2
    assert open_source("0").index == 0
    assert isinstance(open_source(tmp_path), ImageSource)
    assert isinstance(open_source(tmp_path / "x.JPG"), ImageSource)
    assert isinstance(open_source(tmp_path / "x.mp4"), VideoFileSource)


# ----------------------------------------------------------------------------------------------- grabber


def test_check_source_refuses_what_cannot_be_shown_and_leaves_it_closed(tmp_path):
    table = tmp_path / "faces.csv"
    table.write_text("emotion,pixels,Usage\n0,1 2 3,Training\n")
    broken_image = tmp_path / "photo.png"
    broken_image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = {
        str(table): "not a video or image",  # a file that is neither is refused, not retried for ever
        str(tmp_path / "gone" / "clip.mp4"): "not found",  # a missing file is never taken for a camera
        str(broken_image): "no frame could be read",
        str(empty): "no images",
    }
    if not HAS_VIDEO_DEVICES:
        refused["7"] = "no camera at /dev/video7"
    for spec, reason in refused.items():
        source = open_source(spec)
        with pytest.raises(SourceError, match=reason):
            check_source(source)
        assert not source.is_open
    for source in (open_source(str(write_video(tmp_path / "clip.avi", frames=3))), open_source("demo")):
        check_source(source)
        assert not source.is_open
        with source:  # and it opens again from the start for the grabber
            assert source.read()[0] and source.position == 1


def test_grabber_hands_out_the_newest_frame_and_drops_stale_ones():
    source = CountingSource(delay=0.002)
    grabber = LatestFrameGrabber(source).start()
    first = grabber.get(timeout=2.0)
    assert first is not None
    deadline = time.monotonic() + 5.0
    while source.count < first.index + 30 and time.monotonic() < deadline:
        time.sleep(0.01)  # a slow consumer: many frames arrive meanwhile
    newest = grabber.latest()
    assert newest.index > first.index + 20 and newest.index >= source.count - 3
    assert counter_of(newest.frame) == newest.index
    again = grabber.get(timeout=2.0, newer_than=newest.index)
    assert again is not None and again.index > newest.index
    assert grabber.state == "running" and grabber.error is None
    grabber.stop()
    assert not grabber.running and grabber.state == "stopped" and not source.is_open
    # Once reading stops, what is handed out is exactly the last frame read; the unread ones were dropped.
    last = grabber.latest()
    assert last.index == grabber.frames_read - 1 == source.count - 1
    assert counter_of(last.frame) == last.index
    assert grabber.frames_dropped > 10
    assert grabber.frames_dropped <= grabber.frames_read - 3  # the three frames taken were not dropped


def test_grabber_plays_files_at_native_speed(tmp_path):
    # 8 frames at 5 fps: paced, the last one is due 1.4 s after the first; unpaced, they are read at once.
    # The gap is wide so a busy machine (which only slows reading down) cannot blur it.
    path = write_video(tmp_path / "clip.avi", frames=8, fps=5.0)
    start = time.monotonic()
    with LatestFrameGrabber(VideoFileSource(path)) as grabber:
        assert wait_for(lambda: grabber.state == "ended", timeout=10.0)
    paced = time.monotonic() - start
    assert paced >= 1.4
    start = time.monotonic()
    with LatestFrameGrabber(VideoFileSource(path), pace=False) as grabber:
        assert wait_for(lambda: grabber.state == "ended", timeout=10.0)
        assert grabber.latest().index == 7 and grey_level(grabber.latest().frame) == 7
        assert grabber.get(timeout=0.1, newer_than=7) is None  # ended: no waiting
    assert time.monotonic() - start < 1.4
    assert grabber.state == "ended"


def test_source_that_fails_mid_stream_is_reported_and_reopened():
    source = CountingSource(fail_after=5, delay=0.001)
    errors: list[BaseException] = []
    states: list[str] = []
    grabber = LatestFrameGrabber(source, on_error=errors.append, on_state=states.append, retry_initial=0.02)
    grabber.start()
    try:
        assert wait_for(lambda: source.opens >= 3 and grabber.frames_read >= 12)
        assert errors and isinstance(errors[0], OSError) and "unplugged" in str(errors[0])
        assert "retrying" in states and states.count("running") >= 3
        latest = grabber.get(timeout=1.0, newer_than=grabber.latest().index)
        assert latest is not None  # frames keep coming between failures
        assert latest.index == counter_of(latest.frame)  # indices count on across re-opens
    finally:
        grabber.stop()
    assert not grabber.running
    # Compared once the thread has stopped: while it runs, a new failure can land between the two reads.
    assert grabber.error is errors[-1] and grabber.errors == len(errors)


def test_source_that_will_not_open_backs_off_and_stops_promptly():
    source = CountingSource(fail_opens=10**6)
    stamps: list[float] = []
    grabber = LatestFrameGrabber(
        source, on_error=lambda exc: stamps.append(time.monotonic()), retry_initial=0.02, retry_max=0.16
    )
    grabber.start()
    try:
        assert wait_for(lambda: len(stamps) >= 6, timeout=10.0)
        # Delays double up to the cap: 0.02, 0.04, 0.08, 0.16, 0.16 (a busy machine only makes gaps longer).
        gaps = np.diff(stamps[:6])
        assert all(gap >= 0.9 * delay for gap, delay in zip(gaps, (0.02, 0.04, 0.08, 0.16, 0.16))), gaps
        assert grabber.state in ("retrying", "opening") and grabber.latest() is None
        assert grabber.get(timeout=0.05) is None
    finally:
        grabber.stop()
    assert not grabber.running

    # Stopping interrupts a long back-off instead of sleeping through it.
    slow = LatestFrameGrabber(CountingSource(fail_opens=10**6), retry_initial=30.0).start()
    assert wait_for(lambda: slow.state == "retrying")
    start = time.monotonic()
    slow.stop()
    assert time.monotonic() - start < 3.0 and not slow.running


def test_grabber_survives_a_missing_camera():
    errors: list[BaseException] = []
    with LatestFrameGrabber(CameraSource(7), on_error=errors.append, retry_initial=0.02) as grabber:
        assert wait_for(lambda: len(errors) >= 2)
        assert grabber.running and grabber.state in ("retrying", "opening")


def test_deleted_video_is_retried_until_it_returns(tmp_path):
    path = write_video(tmp_path / "clip.avi", frames=10, fps=20.0)
    backup = shutil.copy(path, tmp_path / "backup.avi")
    errors: list[BaseException] = []
    grabber = LatestFrameGrabber(VideoFileSource(path), on_error=errors.append, retry_initial=0.02, retry_max=0.1)
    with grabber:
        assert grabber.get(timeout=2.0) is not None
        path.unlink()  # deleted while playing: the open handle reads on, then the end is a failure
        assert wait_for(lambda: len(errors) >= 2, timeout=3.0)
        assert isinstance(errors[0], SourceError) and grabber.state in ("retrying", "opening")
        seen = grabber.latest().index
        os.replace(backup, path)
        assert wait_for(lambda: grabber.latest().index > seen, timeout=3.0)
        assert grabber.state in ("running", "ended")


def test_failing_callbacks_do_not_kill_the_grabber():
    def bad_callback(_):
        raise RuntimeError("callback bug")

    source = CountingSource(fail_after=3, delay=0.001)
    with LatestFrameGrabber(source, on_error=bad_callback, on_state=bad_callback, retry_initial=0.01) as grabber:
        assert wait_for(lambda: source.opens >= 3)
        assert grabber.running
    assert threading.active_count() >= 1


def test_one_factory_for_the_app_and_annotate(tmp_path):
    """open_source reads a user's words for the app; with files_only, only paths, as ferdesk annotate reads them."""
    from ferdesk.sources import open_source

    assert isinstance(open_source("demo"), DemoSource) and isinstance(open_source("camera:1"), CameraSource)
    folder = tmp_path / "faces"
    folder.mkdir()
    source = open_source(folder, files_only=True, fps=1.0)
    assert isinstance(source, ImageSource) and source.fps == 1.0
    assert isinstance(open_source(tmp_path / "clip.mp4"), VideoFileSource)  # the app: checked when opened
    for missing in ("demo", "0", tmp_path / "clip.mp4"):
        with pytest.raises(SourceError, match="not found"):
            open_source(missing, files_only=True)


def test_a_text_file_is_never_played_as_a_video(tmp_path):
    """FFmpeg 'plays' text as ANSI art; the video source refuses it, for the app and annotate alike."""
    notes = tmp_path / "notes.txt"
    notes.write_text("not a video\n" * 50)
    with pytest.raises(SourceError, match="it is a text file"):
        VideoFileSource(notes).open()
