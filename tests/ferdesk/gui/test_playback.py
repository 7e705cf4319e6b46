"""Playback controls for a video file in the real window: play/pause, a frame on or back, seek, loop, the time.

Fixtures come from conftest.py; the clip is 4 s of the demo's real faces written as a video file.
"""

from __future__ import annotations

import cv2
from PyQt5.QtCore import Qt

from ferdesk.sources import DemoSource

FPS, FRAMES = 30, 120


def demo_clip(path):
    demo = DemoSource()
    demo.open()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), float(FPS), (640, 480))
    for k in range(FRAMES):
        writer.write(demo.frame_at(k / FPS))
    writer.release()
    return path


def test_a_video_file_can_be_paused_stepped_sought_and_looped(window, qtbot, tmp_path, messages):
    clip = demo_clip(tmp_path / "clip.avi")
    window.set_source(str(clip))
    bar = window.playback
    qtbot.waitUntil(lambda: window.last_place.count == FRAMES and window.last_place.index > 0, timeout=15000)
    assert bar.isVisible() and bar.play_button.isVisible() and not bar.slideshow.isVisible()
    assert bar.position_label.text().startswith("clip.avi — 0:0") and bar.position_label.text().endswith("/ 0:04")

    qtbot.mouseClick(bar.play_button, Qt.LeftButton)  # pause: the file stops where it is
    assert window.pause_action.isChecked() and bar.play_button.text() == "▶ Play"
    qtbot.wait(500)
    here = window.last_place.index
    qtbot.wait(700)
    assert window.last_place.index == here, "paused: no frame read or shown"
    analysed = window.worker.frames_processed
    bar.next_button.click()
    qtbot.waitUntil(lambda: window.last_place.index == here + 1, timeout=5000)
    window.previous_image_action.trigger()
    qtbot.waitUntil(lambda: window.last_place.index == here, timeout=5000)
    assert window.worker.frames_processed == analysed + 2, "each step analysed while paused"
    assert window.last_result.faces

    bar.slider.setValue(90)  # as a drag to 3 s
    bar.slider.sliderReleased.emit()
    qtbot.waitUntil(lambda: window.last_place.index == 90, timeout=5000)
    assert "0:03 / 0:04" in bar.position_label.text() and bar.slider.value() == 90
    assert window.pause_action.isChecked()

    bar.loop.setChecked(True)
    qtbot.mouseClick(bar.play_button, Qt.LeftButton)  # play on from 3 s, round past the end
    assert not window.pause_action.isChecked()
    qtbot.waitUntil(lambda: window.last_place.index < 60, timeout=10000)
    assert window.settings.value("images/loop") in (True, "true")
    bar.loop.setChecked(False)
    qtbot.waitUntil(lambda: window.banner_box.isVisible(), timeout=15000)  # the end, this time
    assert "End of the video" in window.banner.text()
    bar.slider.setValue(30)  # after the end: seeking reads the file again from there
    bar.slider.sliderReleased.emit()
    qtbot.waitUntil(lambda: 30 <= window.last_place.index < 100, timeout=10000)
    assert not messages
