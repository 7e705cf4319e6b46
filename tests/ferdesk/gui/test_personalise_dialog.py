"""Teach it my face in the real window (issue 20, new capabilities): guided capture on the demo, review, a real
fine-tune, and the video's right-click "This is actually …".

The demo's faces are real FER2013 faces of known emotions on a schedule that depends on time alone
(ferdesk.sources.DemoSource), so the test plays a user who shows the emotion asked for: it clicks the demo face of
that emotion. Fixtures come from conftest.py; the window runs the shipped sad/surprise study model.
"""

from __future__ import annotations

import pytest
from gui_helpers import on_screen, wait_for_frames
import os
import re

import numpy as np
from PyQt5.QtCore import QPoint, Qt, QTimer
from PyQt5.QtGui import QContextMenuEvent
from PyQt5.QtWidgets import QApplication, QMenu
from gui_helpers import STUDY_MODEL

from ferdesk.classify import EmotionClassifier
from ferdesk.model_card import read_card
from ferdesk.personalise import CORRECTION, face_crop
from ferdesk.sources import DemoSource


DEMO = DemoSource()  # the app's demo has the same defaults, so the same faces at the same times
DEMO.open()


def demo_face(result, emotion: str):
    """The face in `result` that is the demo's FER face of `emotion`, and the seconds until its slot changes face."""
    index, seconds = DEMO.find_face([face.box for face in result.faces], f"fer_{emotion}", result.timestamp)
    return (None, 0.0) if index is None else (result.faces[index], seconds)


def open_dialog(win, tmp_path):
    win.personalise_action.trigger()
    dialog = win.personalise_dialog
    dialog.output_root = tmp_path / "models"  # this test's own, not the session's user-model folder
    dialog.count_step_s, dialog.collect_s = 0.2, 1.6  # a 3-2-1 of 0.6 s, then 1.6 s of pictures
    return dialog


@pytest.mark.slow  # over 30 s on 2 cores
def test_teach_it_my_face_on_the_demo_from_capture_to_a_fine_tuned_model(window, qtbot, tmp_path, messages):
    dialog = open_dialog(window, tmp_path)
    assert window.personalise_action in window.model_menu.actions()
    assert dialog.pages.currentWidget() is dialog.setup_page and list(dialog.emotion_boxes) == ["sad", "surprise"]
    assert all(box.isChecked() for box in dialog.emotion_boxes.values())  # default: all of the model's

    # The user: shows the emotion asked for (clicks the demo face of it, so the side panel follows it).
    shown = {"emotion": None}
    verified = {}  # track id -> the demo emotion it was seen to show

    def act():
        result = window.last_result
        if shown["emotion"] is None or result is None or window.video.image is None:
            return
        face, _ = demo_face(result, shown["emotion"])
        if face is not None:
            verified[face.track_id] = shown["emotion"]
            if window.selected_track != face.track_id:
                qtbot.mouseClick(window.video, Qt.LeftButton, pos=on_screen(window, face))

    user = QTimer(interval=30)
    user.timeout.connect(act)
    user.start()
    prompts = []
    try:
        for emotion in ("sad", "surprise"):
            if dialog.pages.currentWidget() is not dialog.setup_page:
                dialog.show_setup()
            for name, box in dialog.emotion_boxes.items():
                box.setChecked(name == emotion)
            shown["emotion"] = emotion
            # Start once that face is in view for long enough (the demo shows each face for 5 s).
            qtbot.waitUntil(lambda e=emotion: demo_face(window.last_result, e)[1] > 3.0, timeout=45000)
            qtbot.waitUntil(lambda e=emotion: verified.get(window.selected_track) == e, timeout=5000)
            qtbot.mouseClick(dialog.start_button, Qt.LeftButton)
            assert dialog.pages.currentWidget() is dialog.capture_page and dialog.countdown.text() == "3"
            prompts.append(dialog.prompt.text())
            qtbot.waitUntil(lambda: dialog.pages.currentWidget() is dialog.review_page, timeout=10000)
    finally:
        user.stop()
    assert prompts == ["Show: sad", "Show: surprise"]
    for emotion in ("sad", "surprise"):
        taken = window.own_faces.of(emotion)
        assert 3 <= len(taken) <= dialog.collect_s * dialog.per_second + 1  # at most 5 a second
        # Every picture is of the face followed while that emotion was asked for: the demo's face of it.
        assert all(verified.get(s.track_id) == emotion for s in taken), [s.track_id for s in taken]
        assert all(s.face.shape == (48, 48) and s.origin != CORRECTION for s in taken)

    # Review: a click discards that picture.
    sad_row = dialog.review_lists["sad"]
    count = sad_row.count()
    clicked = sad_row.item(0).data(Qt.UserRole)
    qtbot.mouseClick(sad_row.viewport(), Qt.LeftButton, pos=sad_row.visualItemRect(sad_row.item(0)).center())
    assert len(window.own_faces.of("sad")) == count - 1 and clicked not in window.own_faces.samples
    assert dialog.review_lists["sad"].count() == count - 1
    assert dialog.fine_tune_button.isEnabled(), dialog.readiness.text()

    # Fine-tune with the real trainer, one epoch; the video is paused so that the trainer has the two cores.
    window.pause_action.setChecked(True)
    dialog.epochs.setValue(1)
    qtbot.mouseClick(dialog.fine_tune_button, Qt.LeftButton)
    assert dialog.running() and dialog.pages.currentWidget() is dialog.train_page
    samples_dir = dialog.samples_dir.name
    assert os.stat(samples_dir).st_mode & 0o777 == 0o700
    qtbot.waitUntil(lambda: not dialog.running(), timeout=240000)
    assert not os.path.exists(samples_dir), "the pictures' folder goes as soon as the trainer is done"
    assert dialog.use_button.isEnabled(), dialog.status.text() + dialog.log.toPlainText()[-2000:]

    # Before and after, on the held-back pictures, as the app's classifier scores them.
    faces, truth = dialog.parts.test_faces()
    assert len(truth) == sum(len(v) for v in dialog.parts.test.values()) >= 2
    assert not {id(s) for v in dialog.parts.train.values() for s in v} & {
        id(s) for v in dialog.parts.test.values() for s in v
    }

    def scored(folder):
        classifier = EmotionClassifier(folder)
        predicted = np.argmax(classifier.predict(faces), axis=1)
        return np.mean([classifier.labels[k] == e for k, e in zip(predicted, truth)])

    text = dialog.result_label.text()
    assert f"before: {100 * scored(STUDY_MODEL):.0f}%" in text, text

    qtbot.mouseClick(dialog.use_button, Qt.LeftButton)
    kept = [p for p in dialog.output_root.iterdir()]
    assert [p.name for p in kept] == ["study-sad-surprise-my-face"], "a normal model folder, no hidden leftovers"
    assert re.search(rf"after: <b>{100 * scored(kept[0]):.0f}%</b>", text), text
    card = read_card(kept[0])
    assert card.training["started_from"]["name"] == "study-sad-surprise" and card.labels == ["sad", "surprise"]
    assert card.metrics["test_split"] and card.data["test_size"] == len(truth)
    qtbot.waitUntil(lambda: window.card is not None and window.card.folder == kept[0], timeout=20000)
    assert all(not os.path.exists(folder) for folder in dialog.used_folders)
    assert not messages


def test_right_click_this_is_actually_adds_the_face_and_the_capture_asks_in_turn(
    window, qtbot, tmp_path, monkeypatch, messages
):
    menus = []

    def choose_surprise(menu, *args):
        actually = next(a.menu() for a in menu.actions() if a.menu() is not None)
        menus.append((actually.title(), [a.text() for a in actually.actions()]))
        return next(a for a in actually.actions() if a.text() == "surprise")

    monkeypatch.setattr(QMenu, "exec_", choose_surprise)
    result = window.last_result
    face = result.faces[0]
    pos = on_screen(window, face)
    QApplication.sendEvent(window.video, QContextMenuEvent(QContextMenuEvent.Mouse, pos, window.video.mapToGlobal(pos)))
    assert menus == [("This is actually", ["sad", "surprise"])]
    (sample,) = window.own_faces.samples
    assert sample.emotion == "surprise" and sample.origin == CORRECTION and sample.track_id == face.track_id
    assert np.array_equal(sample.face, face_crop(result.frame, face))  # the shared crop of that face
    # A click on no face offers nothing.
    QApplication.sendEvent(
        window.video, QContextMenuEvent(QContextMenuEvent.Mouse, QPoint(1, 1), window.video.mapToGlobal(QPoint(1, 1)))
    )
    assert len(menus) == 1 and len(window.own_faces) == 1

    dialog = open_dialog(window, tmp_path)
    assert dialog.to_review_button.text() == "Review samples (1)"
    qtbot.mouseClick(dialog.to_review_button, Qt.LeftButton)
    row = dialog.review_lists["surprise"]
    assert row.count() == 1 and "correction" in row.item(0).toolTip()
    assert not dialog.fine_tune_button.isEnabled() and "sad (0 so far)" in dialog.readiness.text()

    # Both emotions ticked: each is asked for in turn, with its own countdown.
    qtbot.mouseClick(dialog.more_button, Qt.LeftButton)
    assert dialog.pages.currentWidget() is dialog.setup_page
    seen = []
    watch = QTimer(interval=20)
    watch.timeout.connect(
        lambda: (
            seen.append((dialog.prompt.text(), dialog.countdown.text()))
            if dialog.pages.currentWidget() is dialog.capture_page
            else None
        )
    )
    watch.start()
    qtbot.mouseClick(dialog.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.pages.currentWidget() is dialog.review_page, timeout=15000)
    watch.stop()
    steps = list(dict.fromkeys(seen))  # in order, each once
    assert [p for p in dict.fromkeys(p for p, _ in steps)] == ["Show: sad", "Show: surprise"]
    for prompt in ("Show: sad", "Show: surprise"):
        counted = [c for p, c in steps if p == prompt]
        assert counted[:4] == ["3", "2", "1", "Hold it…"], counted
    counts = window.own_faces.counts()
    assert counts["sad"] >= 2 and counts["surprise"] >= 3  # the correction and this capture's
    assert dialog.fine_tune_button.isEnabled(), dialog.readiness.text()
    assert not messages


def test_closing_the_dialog_stops_a_capture_and_keeps_its_pictures(window, qtbot, tmp_path):
    dialog = open_dialog(window, tmp_path)
    dialog.collect_s = 30.0
    qtbot.mouseClick(dialog.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: len(window.own_faces) >= 2, timeout=15000)
    dialog.reject()
    assert dialog.phase == "idle" and not dialog.step_timer.isActive() and not dialog.isVisible()
    taken = len(window.own_faces)
    wait_for_frames(qtbot, window, 5)
    assert len(window.own_faces) == taken >= 2, "no pictures are taken once the dialog is closed"
