"""The real window on image folders, the demo, pause, recording and snapshots (issue 20, items 1, 7, 8, 9, 10).

Fixtures come from conftest.py and helpers from gui_helpers.py: the app on the shipped two-emotion model, no camera, own settings.
"""

from __future__ import annotations

from gui_helpers import demo_photos
import re
import threading
import time
from collections import defaultdict

import cv2
import numpy as np
import pytest
from PyQt5.QtGui import QDesktopServices
from PyQt5.QtWidgets import QFileDialog
from gui_helpers import GRACE_HOPPER, patch_dialog, wait_for_frames

from ferdesk.gui import saving
from ferdesk.sources import DemoSource


def faces_of(result):
    return {f.track_id: f for f in result.faces}


def test_an_image_folder_shows_each_photo_alone_until_the_user_moves_on(window, qtbot, tmp_path, messages):
    photos = demo_photos(tmp_path / "photos", (0.0, 5.0, 10.0))  # each shows other faces, elsewhere
    window.set_source(str(tmp_path / "photos"))
    qtbot.waitUntil(lambda: window.last_place.file == photos[0] and bool(window.last_result.faces), timeout=15000)
    assert window.playback.isVisible() and window.playback.position_label.text() == "photo-1.png — 1 of 3"
    assert "photos: photo-1.png (1 of 3)" in window.status_label.text()
    assert not window.playback.previous_button.isEnabled()
    analysed = window.worker.frames_processed
    qtbot.wait(1500)  # the folder used to move on twice a second, for ever
    assert window.last_place.index == 0 and window.worker.frames_processed == analysed, "held, and analysed once"

    seen = {}
    moves = (window.playback.next_button.click, window.next_image_action.trigger, window.previous_image_action.trigger)
    for move, expected in zip(moves, (1, 2, 1)):
        move()
        qtbot.waitUntil(lambda e=expected: window.last_place.index == e, timeout=10000)
        result = window.last_result
        assert window.playback.position_label.text() == f"photo-{expected + 1}.png — {expected + 1} of 3"
        faces = faces_of(result)
        assert sorted(faces) == list(range(1, len(faces) + 1)), "each photo numbers its faces from 1"
        for face in faces.values():  # nothing of the photo before is blended in
            np.testing.assert_array_equal(face.probabilities, face.raw_probabilities)
        if expected in seen:  # the same photo comes back with the same answers, whatever was shown between
            again = faces_of(seen[expected])
            assert sorted(again) == sorted(faces)
            for track_id, face in faces.items():
                np.testing.assert_allclose(face.probabilities, again[track_id].probabilities, atol=1e-6)
        seen[expected] = result
        if expected == 2:
            assert not window.playback.next_button.isEnabled(), "the last image: no loop unless asked"
    assert not messages


def test_a_folder_marked_as_a_sequence_follows_faces_across_images(window, qtbot, tmp_path, messages):
    demo_photos(tmp_path / "frames", (0.0, 0.1))  # two moments of one scene
    window.sequence_action.setChecked(True)
    window.set_source(str(tmp_path / "frames"))
    qtbot.waitUntil(lambda: window.last_place.index == 0 and bool(window.last_result.faces), timeout=15000)
    first = faces_of(window.last_result)
    window.next_image_action.trigger()
    qtbot.waitUntil(lambda: window.last_place.index == 1, timeout=10000)
    second = faces_of(window.last_result)
    assert set(second) == set(first), "the same faces keep their ids"
    assert any(not np.array_equal(f.probabilities, f.raw_probabilities) for f in second.values()), "smoothed"
    assert window.settings.value("images/sequence") in (True, "true")
    assert not messages


def test_pause_is_shown_and_view_changes_redraw_the_paused_frame(window, qtbot, messages):
    window.pause_action.trigger()
    qtbot.waitUntil(lambda: "Paused" in window.status_label.text(), timeout=5000)
    assert "Paused" in window.video.badges["paused"][0]
    qtbot.wait(300)  # a frame in flight when pausing still arrives
    analysed, paused = window.worker.frames_processed, window.last_result
    assert paused.faces
    for key in ("boxes", "labels", "bars"):
        window.view_actions[key].trigger()
    qtbot.waitUntil(lambda: np.array_equal(window.last_result.annotated, window.last_result.frame), timeout=5000)
    np.testing.assert_array_equal(window.last_result.frame, paused.frame)
    window.view_actions["boxes"].trigger()
    window.view_actions["mirror"].trigger()
    qtbot.waitUntil(
        lambda: (
            window.last_result is not paused
            and window.view.mirror
            and np.array_equal(window.last_result.frame, paused.frame[:, ::-1])
        ),
        timeout=5000,
    )
    face, mirrored = paused.faces[0], faces_of(window.last_result)[paused.faces[0].track_id]
    assert mirrored.box.x == pytest.approx(paused.frame.shape[1] - face.box.x - face.box.w)
    x, y, h = int(mirrored.box.x), int(mirrored.box.y), int(mirrored.box.h)
    assert np.any(window.last_result.annotated[y : y + h, x : x + 3] != window.last_result.frame[y : y + h, x : x + 3])
    assert window.worker.frames_processed == analysed, "redrawn, not analysed again"
    window.pause_action.trigger()
    wait_for_frames(qtbot, window)
    assert "paused" not in window.video.badges and "Paused" not in window.status_label.text()
    assert not messages


def test_face_ids_restart_with_each_source_and_stay_with_one_demo_face(window, qtbot, messages):
    demo = DemoSource()
    demo.open()
    results, lock = [], threading.Lock()
    log = window.worker.on_result

    def keep(result, place):  # every analysed frame (the window shows only the newest)
        log(result, place)
        with lock:
            results.append(result)

    window.worker.on_result = keep
    qtbot.waitUntil(lambda: len(results) > 0, timeout=10000)
    start = results[0].timestamp
    qtbot.waitUntil(lambda: results[-1].timestamp > start + 3.6, timeout=30000)  # the demo changes faces every 1.7 s
    window.worker.on_result = log
    people = defaultdict(set)  # track id -> the demo faces it was given
    for result in results:
        for face in result.faces:
            cx, cy = face.box.x + face.box.w / 2, face.box.y + face.box.h / 2
            slot = min(
                range(demo.SLOTS),
                key=lambda s: np.hypot(*np.subtract(demo._placement(s, result.timestamp)[:2], (cx, cy))),
            )
            people[face.track_id].add(demo.faces[demo.face_index(slot, result.timestamp)][0])
    changed = {demo.face_index(s, start) for s in range(3)} != {
        demo.face_index(s, results[-1].timestamp) for s in range(3)
    }
    assert changed and len(people) > 3, "new faces came and got new ids"
    assert all(len(names) == 1 for names in people.values()), dict(people)

    window.set_source(GRACE_HOPPER)
    qtbot.waitUntil(
        lambda: window.last_result.frame.shape[:2] == (600, 512) and bool(window.last_result.faces), timeout=15000
    )
    assert [f.track_id for f in window.last_result.faces] == [1]
    window.set_source("demo")
    qtbot.waitUntil(
        lambda: (
            window.source_spec == "demo"
            and window.last_result.frame.shape[:2] == (480, 640)
            and bool(window.last_result.faces)
        ),
        timeout=15000,
    )
    assert min(f.track_id for f in window.last_result.faces) == 1
    assert not messages


def test_a_recording_plays_at_the_real_rate_with_a_rec_clock(window, qtbot, monkeypatch, tmp_path, messages):
    # Analysis slower than the demo's 30 frames a second on any CPU: the recording must still keep real time.
    pipeline, process = window.worker.pipeline, window.worker.pipeline.process

    def slow_process(*args, **kwargs):
        time.sleep(0.08)
        return process(*args, **kwargs)

    monkeypatch.setattr(pipeline, "process", slow_process)
    video = tmp_path / "rec.avi"
    patch_dialog(monkeypatch, "getSaveFileName", (str(video), ""))
    window.record_action.trigger()
    qtbot.waitUntil(lambda: window.worker.frames_written > 0, timeout=10000)
    started, analysed = time.monotonic(), window.worker.frames_processed
    qtbot.waitUntil(lambda: "REC 0:03" in window.rec_label.text(), timeout=30000)
    assert window.rec_label.isVisible() and "REC 0:03" in window.video.badges["rec"][0]
    with qtbot.waitSignal(window.worker.recording_changed, timeout=10000):
        window.record_action.trigger()
    wall = time.monotonic() - started
    assert not window.rec_label.isVisible() and "rec" not in window.video.badges
    capture = cv2.VideoCapture(str(video))
    frames, fps = capture.get(cv2.CAP_PROP_FRAME_COUNT), capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    assert window.worker.frames_processed - analysed < 0.8 * frames, "fewer frames analysed than the clip holds"
    assert fps == 30 and frames / fps == pytest.approx(wall, rel=0.2, abs=0.3)
    assert str(video) in window.notice.text()
    assert not messages


def test_a_snapshot_goes_to_the_pictures_folder_with_the_time_in_its_name(
    window, qtbot, monkeypatch, tmp_path, messages
):
    def no_dialog(*args, **kwargs):
        raise AssertionError("a snapshot asks no questions")

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(no_dialog))
    folder = tmp_path / "Pictures" / "ferdesk"
    monkeypatch.setattr(saving, "default_snapshot_folder", lambda: folder)
    window.snapshot_action.trigger()
    window.snapshot_action.trigger()
    saved = sorted(folder.iterdir())
    assert len(saved) == 2 and all(re.fullmatch(r"ferdesk-\d{8}-\d{6}(-2)?\.png", p.name) for p in saved), saved
    assert all(cv2.imread(str(p)).shape == window.last_result.annotated.shape for p in saved)
    assert window.notice.isVisible() and re.match(f"Saved ({saved[0]}|{saved[1]}) ", window.notice.text())
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url) or True))
    link = re.search(r'href="([^"]+)">Show in folder', window.notice.text()).group(1)
    window.notice.linkActivated.emit(link)
    assert [u.toLocalFile() for u in opened] == [str(folder)]
    assert saving.default_snapshot_folder().name == "ferdesk"
    assert not messages
