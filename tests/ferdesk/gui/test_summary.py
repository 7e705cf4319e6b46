"""View > Session summary in the real window: the whole session per face, a timeline, exports; Quit asks first.

Fixtures come from conftest.py; the demo's faces and a folder of its frames as photos are the session.
"""

from __future__ import annotations

import csv
import json

import cv2
import pytest
from PyQt5.QtWidgets import QFileDialog, QMessageBox
from gui_helpers import demo_photos


def test_the_session_summary_tells_each_face_over_the_whole_session_and_exports(
    window, qtbot, monkeypatch, tmp_path, messages
):
    start = window.last_result.timestamp
    qtbot.waitUntil(lambda: window.last_result.timestamp > start + 3, timeout=30000)  # a few seconds of the demo
    demo_photos(tmp_path / "photos", (0.0, 5.0))
    window.set_source(str(tmp_path / "photos"))
    qtbot.waitUntil(lambda: window.last_place.index == 0 and bool(window.last_result.faces), timeout=15000)
    window.next_image_action.trigger()
    qtbot.waitUntil(lambda: window.last_place.index == 1 and bool(window.last_result.faces), timeout=15000)
    window.summary_action.trigger()
    dialog = window.summary_dialog
    assert dialog.isVisible()

    faces = window.summary.faces()
    demo = [f for f in faces if f.source == "demo"]
    photos = [f for f in faces if f.source == "photos"]
    assert len(demo) >= 3 and len(photos) >= 4 and dialog.table.rowCount() == len(faces)
    assert sum(f.frames for f in faces) == window.session_log.face_count, "every analysed face is in it"
    for face in demo:  # times add up: per emotion, to the time seen, within the time between first and last sight
        assert sum(face.counts.values()) == face.frames
        assert sum(face.seconds.values()) == pytest.approx(face.seen_seconds)
        assert face.seen_seconds <= face.last_seen - face.first_seen + 1e-6
        assert face.runs[0].start == face.first_seen and face.runs[-1].end == face.last_seen
    assert max(f.seen_seconds for f in demo) > 1.0
    assert all(len(f.files) == 1 and f.files[0].startswith("photo-") for f in photos), "each photo's faces apart"
    assert {f.track_id for f in photos} <= {1, 2, 3}
    headers = [dialog.table.horizontalHeaderItem(i).text() for i in range(dialog.table.columnCount())]
    assert headers[:5] == ["Face", "Source", "Seen for", "Frames", "Most of the time"] and headers[5:] == [
        "sad",
        "surprise",
    ]
    assert "sad" in dialog.legend.text() and "2 sources (demo, photos)" in dialog.header.text()
    width = dialog.timeline.width()
    dialog.timeline.zoom(4.0)
    assert dialog.timeline.width() > width and dialog.timeline.width() > dialog.scroll.viewport().width()

    for suffix in ("png", "csv", "json"):
        target = tmp_path / f"session.{suffix}"
        monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, t=target, **k: (str(t), "")))
        (dialog.export_png if suffix == "png" else dialog.export_table)()
    image = cv2.imread(str(tmp_path / "session.png"))
    assert image.shape[1] == dialog.timeline.width() and image.shape[0] == dialog.timeline.height()
    with open(tmp_path / "session.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= len(faces) and {r["source"] for r in rows} == {"demo", "photos"}
    assert {"first_seen", "model", "sad_s", "sad_share", "surprise_mean_p", "files"} <= set(rows[0])
    doc = json.loads((tmp_path / "session.json").read_text())
    assert doc["labels"] == ["sad", "surprise"] and [s["source"] for s in doc["sources"]][-2:] == ["demo", "photos"]
    assert all(face["timeline"] and face["timeline"][0]["emotion"] in ("sad", "surprise") for face in doc["faces"])
    assert not messages


def test_quit_asks_before_unsaved_session_data_is_lost(window, qtbot, monkeypatch, tmp_path, messages):
    qtbot.waitUntil(lambda: window.summary.faces() != [], timeout=10000)
    answers = []

    def answer(choice):
        def ask(*args, **kwargs):
            answers.append(args[2])
            return choice

        return ask

    monkeypatch.setattr(QMessageBox, "question", staticmethod(answer(QMessageBox.Cancel)))
    window.quit_action.trigger()
    assert window.isVisible() and len(answers) == 1 and "has not been saved" in answers[0]
    target = tmp_path / "kept.json"
    monkeypatch.setattr(QMessageBox, "question", staticmethod(answer(QMessageBox.Save)))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    window.quit_action.trigger()
    assert not window.isVisible() and json.loads(target.read_text())["faces"]
    assert not messages
