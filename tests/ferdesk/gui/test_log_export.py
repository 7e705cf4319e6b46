"""File > Export face log in the real window: every row names its source, file, model and wall-clock time, a session
that moves from the demo to an image folder says which rows are which, and Quit asks before unsaved data is lost.

Fixtures come from conftest.py (the app on the shipped two-emotion model, no camera, its own settings); the image
folder holds frames of the demo, whose faces are the FER2013 faces of assets/demo.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
import time

from PyQt5.QtGui import QContextMenuEvent
from PyQt5.QtWidgets import QApplication, QFileDialog, QMenu, QMessageBox
from gui_helpers import patch_dialog
from gui_helpers import on_screen
from gui_helpers import demo_photos

from ferdesk.gui import saving


def ask(monkeypatch, choice):
    """QMessageBox.question answers `choice`; returns the texts it was asked."""
    asked = []

    def question(parent, title, text, *args, **kwargs):
        asked.append(text)
        return choice

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked


def wall_time(text: str) -> float:
    moment = dt.datetime.fromisoformat(text)
    assert moment.tzinfo is not None, f"{text} names its time zone"
    return moment.timestamp()


def test_the_log_of_a_demo_then_folder_session_names_every_rows_source_file_model_and_time(
    window, qtbot, monkeypatch, tmp_path, messages
):
    wait = window.last_result.timestamp
    qtbot.waitUntil(lambda: window.last_result.timestamp > wait + 1, timeout=30000)  # a second of the demo
    folder = tmp_path / "photos"
    photos = demo_photos(folder, (0.0, 5.0, 10.0))
    window.set_source(str(folder))
    for k in range(3):
        if k:
            window.next_image_action.trigger()
        qtbot.waitUntil(lambda k=k: window.last_place.index == k and bool(window.last_result.faces), timeout=15000)
    qtbot.wait(300)  # a held image is analysed once: nothing more comes
    ended = time.time()
    asked = ask(monkeypatch, QMessageBox.Cancel)

    table, doc_path = tmp_path / "log.csv", tmp_path / "log.json"
    for path in (table, doc_path):
        patch_dialog(monkeypatch, "getSaveFileName", (str(path), ""))
        window.export_action.trigger()
    with open(table, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == window.session_log.face_count
    assert list(rows[0])[:4] == ["source", "file", "model", "wall_clock"]
    assert {r["source"] for r in rows} == {"demo", str(folder)}, "every row names what the user opened"
    demo_rows = [r for r in rows if r["source"] == "demo"]
    photo_rows = [r for r in rows if r["source"] == str(folder)]
    assert len(demo_rows) >= 10 and rows[: len(demo_rows)] == demo_rows, "the demo's rows, then the folder's"
    assert {r["file"] for r in demo_rows} == {""}
    assert [r["file"] for r in photo_rows] == sorted(r["file"] for r in photo_rows), "each photo in turn"
    assert {r["file"] for r in photo_rows} == {p.name for p in photos}, "each photo's rows name its file"
    assert {r["model"] for r in rows} == {"study-sad-surprise"}
    times = [wall_time(r["wall_clock"]) for r in rows]
    assert times == sorted(times) and ended - 120 < times[0] and times[-1] <= ended + 1

    doc = json.loads(doc_path.read_text())
    assert [s["source"] for s in doc["sources"]] == ["demo", str(folder)]
    assert doc["sources"][1]["frames"] == 3 and wall_time(doc["sources"][0]["started"]) <= wall_time(
        doc["sources"][1]["started"]
    )
    photo_frames = [f for f in doc["frames"] if f["source"] == str(folder)]
    assert [f["file"] for f in photo_frames] == [p.name for p in photos] and all(f["faces"] for f in photo_frames)
    assert all(f["model"] == "study-sad-surprise" and wall_time(f["wall_clock"]) for f in doc["frames"])

    window.quit_action.trigger()  # exported, and the held photo adds nothing since: nothing to ask
    assert asked == [] and not window.isVisible()
    assert not messages


def test_quit_asks_about_unexported_rows_and_unsaved_pictures_and_cancel_keeps_the_window(
    window, qtbot, monkeypatch, tmp_path, messages
):
    qtbot.waitUntil(lambda: window.session_log.unexported_faces > 0, timeout=10000)
    monkeypatch.setattr(
        QMenu,
        "exec_",
        lambda menu, *a: next(
            action for action in next(a.menu() for a in menu.actions() if a.menu()).actions() if action.text() == "sad"
        ),
    )
    pos = on_screen(window, window.last_result.faces[0])  # right-click a face: "This is actually" sad
    QApplication.sendEvent(window.video, QContextMenuEvent(QContextMenuEvent.Mouse, pos, window.video.mapToGlobal(pos)))
    assert len(window.own_faces) == 1

    asked = ask(monkeypatch, QMessageBox.Cancel)
    window.quit_action.trigger()
    assert window.isVisible(), "Cancel keeps ferdesk open"
    assert len(asked) == 1 and "face rows (from demo)" in asked[0] and "1 picture of your face" in asked[0]

    asked = ask(monkeypatch, QMessageBox.Save)
    log, samples = tmp_path / "kept.csv", tmp_path / "samples"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(log), saving.LOG_CSV)))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(samples)))
    window.quit_action.trigger()
    assert len(asked) == 1 and not window.isVisible()
    with open(log, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and {r["source"] for r in rows} == {"demo"}
    assert [p.parent.name for p in samples.rglob("*.png")] == ["sad"], "the picture saved as train/sad/"
    assert not messages


def test_after_an_export_quit_does_not_ask(window, qtbot, monkeypatch, tmp_path, messages):
    window.pause_action.setChecked(True)  # no new rows after the export
    qtbot.wait(300)
    assert window.session_log.unexported_faces > 0
    patch_dialog(monkeypatch, "getSaveFileName", (str(tmp_path / "log.json"), ""))
    window.export_action.trigger()
    assert window.session_log.unexported_faces == 0 and str(tmp_path / "log.json") in window.notice.text()
    asked = ask(monkeypatch, QMessageBox.Cancel)
    window.quit_action.trigger()
    assert asked == [] and not window.isVisible()
    assert not messages


def test_the_ferdesk_command_logs_the_windows_alerts_to_stderr():
    """Problems the window shows are logged; the entry point sends the log to stderr."""
    code = (
        "import logging; from ferdesk.cli import configure_logging; configure_logging(); "
        "logging.getLogger('ferdesk.gui.notices').warning('Cannot open camera 7')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == "ferdesk: WARNING: Cannot open camera 7\n"
