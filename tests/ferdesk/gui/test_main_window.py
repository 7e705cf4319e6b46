"""The real app under pytest-qt: demo fallback, every menu action, model loading, retraining and its cancel.

The window runs the shipped models (models/study-sad-surprise, models/default), so these tests need no dataset;
only the retraining ones do.
"""

from __future__ import annotations

import pytest
from gui_helpers import GRACE_HOPPER, STUDY_MODEL, configure_retrain, damaged_model, patch_dialog, wait_for_frames
import csv
import json
import shutil

import cv2
import numpy as np
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QMessageBox

from ferdesk.gui import models_control, sources_control
from ferdesk.gui.main_window import SMOOTHING_CHOICES
from ferdesk.gui.model_info import ModelInfoDialog
from ferdesk.model_card import read_card
from ferdesk.paths import USER_GUIDE, model_folders
from ferdesk.pipeline import DEFAULT_MODEL


def test_starts_on_demo_without_camera_and_draws_boxes_on_real_faces(window, messages):
    result = window.last_result
    assert window.source_spec == "demo" and window.source_fallback == sources_control.NO_CAMERA
    assert result.annotated.shape == result.frame.shape == (480, 640, 3)
    face = result.faces[0]
    x, y, w, h = (int(v) for v in (face.box.x, face.box.y, face.box.w, face.box.h))
    edge_changed = np.any(result.annotated[y : y + h, x : x + 3] != result.frame[y : y + h, x : x + 3])
    assert edge_changed, "a box is drawn along the face's left edge"
    assert sorted(result.labels) == ["sad", "surprise"]
    assert "Source: demo" in window.status_label.text() and "FPS" in window.status_label.text()
    # What the user sees is the annotated frame.
    shot = window.video.grab().toImage()
    assert not shot.isNull() and window.video.image.width() == 640
    assert not messages


def test_open_image_snapshot_record_and_export(window, qtbot, monkeypatch, tmp_path, messages):
    patch_dialog(monkeypatch, "getOpenFileName", (GRACE_HOPPER, ""))
    window.open_action.trigger()
    qtbot.waitUntil(
        lambda: window.last_result is not None and window.last_result.frame.shape[:2] == (600, 512), timeout=15000
    )
    qtbot.waitUntil(lambda: len(window.last_result.faces) == 1, timeout=10000)

    snapshot = tmp_path / "snap.png"
    patch_dialog(monkeypatch, "getSaveFileName", (str(snapshot), ""))
    window.snapshot_as_action.trigger()
    saved = cv2.imread(str(snapshot))
    assert saved is not None and saved.shape == (600, 512, 3)

    window.set_source("demo")
    qtbot.waitUntil(lambda: window.last_result.frame.shape[:2] == (480, 640), timeout=15000)
    video = tmp_path / "rec.avi"
    patch_dialog(monkeypatch, "getSaveFileName", (str(video), ""))
    window.record_action.trigger()
    qtbot.waitUntil(lambda: window.rec_label.isVisible() and "REC" in window.rec_label.text(), timeout=5000)
    recording_from = window.worker.frames_processed  # every processed frame is recorded
    qtbot.waitUntil(lambda: window.worker.frames_processed >= recording_from + 15, timeout=60000)
    with qtbot.waitSignal(window.worker.recording_changed, timeout=5000):  # sent once the file is closed
        window.record_action.trigger()
    assert not window.record_action.isChecked() and video.is_file()
    capture = cv2.VideoCapture(str(video))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, first = capture.read()
    capture.release()
    assert ok and first.shape == (480, 640, 3) and frames >= 10

    log = tmp_path / "log.csv"
    patch_dialog(monkeypatch, "getSaveFileName", (str(log), ""))
    window.export_action.trigger()
    with open(log, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 10 and {"frame", "track_id", "label", "p_sad", "p_surprise"} <= set(rows[0])
    assert all(abs(float(r["p_sad"]) + float(r["p_surprise"]) - 1) < 1e-3 for r in rows)
    assert not messages


def test_invalid_model_folder_is_refused_and_old_model_kept(window, qtbot, monkeypatch, tmp_path, messages):
    before = window.card.folder
    bogus = tmp_path / "not_a_model"
    bogus.mkdir()
    (bogus / "card.json").write_text('{"format": 1, "labels": ["a"]}')
    patch_dialog(monkeypatch, "getExistingDirectory", str(bogus))
    window.load_model_action.trigger()
    qtbot.waitUntil(lambda: "not_a_model" in window.alert.text(), timeout=10000)
    assert "labels" in window.alert.text() and "study-sad-surprise, stays in use" in window.alert.text()
    # A folder whose card passes but whose model file is corrupt is refused too: the whole model is loaded and run.
    broken = tmp_path / "broken"
    shutil.copytree(before, broken)
    (broken / "model.tflite").write_bytes(b"\x00" * 64)
    window.set_model(broken)
    qtbot.waitUntil(lambda: str(broken) in window.alert.text(), timeout=10000)
    assert "not a usable TFLite model" in window.alert.text() and window.alert_box.isVisible()
    wait_for_frames(qtbot, window)
    assert window.card.folder == before and window.worker.pipeline.classifier.card.folder == before
    window.set_model(DEFAULT_MODEL)  # a model that loads clears the problem
    qtbot.waitUntil(lambda: window.card.folder == DEFAULT_MODEL, timeout=10000)
    assert "Cannot load model" not in window.alert.text()
    assert not messages


def test_view_changes_reach_the_worker_as_commands_never_as_a_shared_object(window, qtbot, messages):
    """The worker thread reads its own copy of the view options; the window changes it only by a command."""
    assert window.view is not window.worker.view and window.worker.pipeline.view is window.worker.view
    before = window.worker.view
    window.view_actions["boxes"].trigger()  # off
    assert before.show_boxes, "the worker's options were not changed under its feet"
    qtbot.waitUntil(
        lambda: not window.worker.view.show_boxes and not window.worker.pipeline.view.show_boxes, timeout=5000
    )
    window.view_actions["boxes"].trigger()
    qtbot.waitUntil(lambda: window.worker.view.show_boxes, timeout=5000)
    assert not messages


def test_view_menu_and_help(window, qtbot, messages):
    window._set_view("boxes", False)
    window._set_view("labels", False)
    window._set_view("bars", False)
    window._set_view("mirror", True)
    # The worker takes the options as a command between frames: count frames from when it has them.
    qtbot.waitUntil(
        lambda: window.worker.view.mirror and not window.worker.view.show_bars and window.last_result is not None,
        timeout=5000,
    )
    index = window.last_result.index
    qtbot.waitUntil(lambda: window.last_result.index > index + 2, timeout=5000)
    result = window.last_result
    assert np.array_equal(result.annotated, result.frame), "with every overlay off, the frame is shown untouched"
    window.set_smoothing("Strong")
    qtbot.waitUntil(lambda: window.worker.pipeline.tracker.alpha == SMOOTHING_CHOICES["Strong"], timeout=5000)
    assert window.settings.value("view/smoothing") == "Strong"
    assert "Ctrl+S" in window.shortcuts_text() and "Ctrl+T" in window.shortcuts_text()
    assert window.card.name in window.about_text() and "MediaPipe" in window.about_text()
    dialog = ModelInfoDialog(window.card, window)
    tabs = [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())]
    assert tabs[:2] == ["Card", "Report"] and "confusion matrix" in tabs
    assert not messages


def test_source_failing_mid_stream_shows_a_message(window, qtbot, tmp_path, messages):
    video = tmp_path / "clip.avi"
    face = cv2.imread(GRACE_HOPPER)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (512, 600))
    for _ in range(60):
        writer.write(face)
    writer.release()
    window.set_source(str(video))
    qtbot.waitUntil(lambda: window.last_result.frame.shape[:2] == (600, 512), timeout=15000)
    video.unlink()  # the decoder plays on from its open handle, then finds the file gone
    qtbot.waitUntil(lambda: window.banner_box.isVisible(), timeout=60000)
    text = window.banner.text()  # the first failure, or a retry that finds the file gone
    assert "stopped delivering frames" in text and ("disappeared" in text or "not found" in text), text
    window.demo_button.click()
    qtbot.waitUntil(lambda: window.last_result.frame.shape[:2] == (480, 640), timeout=15000)
    assert not window.banner_box.isVisible() and not messages


# ---------------------------------------------------------------- unusable models and sources: said, never stuck


def test_a_damaged_last_used_model_falls_back_to_the_default_and_every_model_entry_works(
    start_window, gui_settings, qtbot, monkeypatch, tmp_path, caplog, messages
):
    broken = damaged_model(tmp_path)
    gui_settings.setValue("model", str(broken))  # the last-used model, damaged since
    monkeypatch.setattr(models_control, "model_folders", lambda: [*model_folders(), broken])
    win = start_window(source="demo")
    qtbot.waitUntil(lambda: win.card is not None, timeout=30000)
    text = win.alert.text()
    assert win.card.folder == DEFAULT_MODEL and win.alert_box.isVisible()
    assert f"Cannot load model {broken}" in text and "not a usable TFLite model" in text, text
    assert f"Using default ({DEFAULT_MODEL}) instead" in text, text
    assert f"Cannot load model {broken}" in caplog.text  # logged: `ferdesk` sends it to stderr
    assert gui_settings.value("model") == str(DEFAULT_MODEL), "the next start does not meet the damaged one again"
    qtbot.waitUntil(lambda: win.last_result is not None and len(win.last_result.labels) == 7, timeout=30000)

    win._fill_model_menu()
    assert win.model_actions[str(broken)].text().endswith("could not be loaded")
    # The default leads the menu, and each shipped model states its cost beside its accuracy.
    assert list(win.model_actions)[0] == str(DEFAULT_MODEL)
    default = win.model_actions[str(DEFAULT_MODEL)].text()
    assert default.startswith("default (") and "test accuracy 70.0%, 528M multiply-adds a face)" in default, default
    for folder, action in win.model_actions.items():
        if folder == str(broken):  # refused again; the model in use stays
            with qtbot.waitSignal(win.worker.model_failed, timeout=10000):
                action.trigger()
            assert win.alert.text().startswith(f"Cannot load model {broken}") and win.alert_box.isVisible()
            wait_for_frames(qtbot, win)
            assert win.card.folder != broken and win.worker.pipeline.classifier.card.folder == win.card.folder
        else:
            with qtbot.waitSignal(win.worker.model_changed, timeout=10000):
                action.trigger()
            assert str(win.card.folder) == folder and "Cannot load model" not in win.alert.text()
            wait_for_frames(qtbot, win, 1)
    assert not messages


def test_a_model_whose_card_does_not_match_its_outputs_is_refused_at_start(
    start_window, gui_settings, qtbot, tmp_path, messages
):
    mislabelled = tmp_path / "five-labels"
    mislabelled.mkdir()
    card = json.loads((DEFAULT_MODEL / "card.json").read_text())
    card["labels"] = card["labels"][:5]
    (mislabelled / "card.json").write_text(json.dumps(card))
    (mislabelled / "model.tflite").symlink_to(DEFAULT_MODEL / "model.tflite")
    gui_settings.setValue("model", str(STUDY_MODEL))
    win = start_window(source="demo", model=str(mislabelled))
    qtbot.waitUntil(lambda: win.card is not None, timeout=30000)
    text = win.alert.text()
    assert str(mislabelled) in text and "7 outputs but the card lists 5 labels" in text, text
    assert win.card.folder == DEFAULT_MODEL and "Model: default" in win.status_label.text()
    wait_for_frames(qtbot, win)
    assert gui_settings.value("model") == str(STUDY_MODEL), "a failed --model does not replace the last-used one"
    assert not messages


def test_with_no_usable_model_at_start_the_model_menu_still_works(start_window, qtbot, monkeypatch, tmp_path, messages):
    broken, also_broken = damaged_model(tmp_path), damaged_model(tmp_path, "also-damaged")
    monkeypatch.setattr(models_control, "DEFAULT_MODEL", broken)
    monkeypatch.setattr(models_control, "model_folders", lambda: [also_broken])
    win = start_window(source="demo")
    qtbot.waitUntil(lambda: "No model could be loaded" in win.alert.text(), timeout=30000)
    assert str(broken) in win.alert.text() and "also-damaged" in win.alert.text()
    assert win.card is None and "No usable model" in win.video.message and "Model: —" in win.status_label.text()
    monkeypatch.setattr(models_control, "model_folders", lambda: [STUDY_MODEL])
    win._fill_model_menu()
    win.model_actions[str(STUDY_MODEL)].trigger()
    qtbot.waitUntil(lambda: win.card is not None and win.card.folder == STUDY_MODEL, timeout=30000)
    qtbot.waitUntil(lambda: win.last_result is not None and len(win.last_result.faces) > 0, timeout=30000)
    assert not win.alert_box.isVisible() and not win.video.message
    assert not messages


def test_a_camera_that_is_not_there_is_named_and_the_demo_shown_instead(start_window, qtbot, caplog, messages):
    win = start_window(source="7", model=str(STUDY_MODEL))
    qtbot.waitUntil(lambda: win.source_spec == "demo", timeout=30000)
    assert "Cannot open camera 7" in win.alert.text() and "demo faces instead" in win.alert.text()
    assert "Cannot open camera 7" in caplog.text
    wait_for_frames(qtbot, win)
    assert "Source: demo (camera 7 could not be opened)" in win.status_label.text()
    assert win.alert_box.isVisible() and not messages


def test_a_missing_video_file_is_named_and_never_opens_a_camera(
    start_window, gui_settings, qtbot, monkeypatch, tmp_path, caplog, messages
):
    monkeypatch.setattr(sources_control, "list_cameras", lambda: [0])  # as on a machine with a webcam
    opened = []
    open_source = sources_control.open_source
    monkeypatch.setattr(
        sources_control, "open_source", lambda spec, **options: opened.append(spec) or open_source(spec, **options)
    )
    missing = tmp_path / "missing" / "file.mp4"
    win = start_window(source=str(missing), model=str(STUDY_MODEL))
    qtbot.waitUntil(lambda: win.source_spec == "demo", timeout=30000)
    assert opened == [str(missing), "demo"]
    assert f"Cannot open {missing}" in win.alert.text() and "not found" in win.alert.text()
    assert f"Cannot open {missing}" in caplog.text
    wait_for_frames(qtbot, win)
    win.close()
    assert gui_settings.value("source") is None, "the stand-in demo is not remembered"
    assert not messages


def test_opening_a_file_that_is_not_a_video_or_image_keeps_the_previous_source(
    window, qtbot, monkeypatch, tmp_path, messages
):
    table = tmp_path / "faces.csv"
    table.write_text("emotion,pixels,Usage\n0,1 2 3,Training\n")
    broken_image = tmp_path / "photo.png"
    broken_image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    for path, problem in ((table, "not a video or image"), (broken_image, "no frame")):
        patch_dialog(monkeypatch, "getOpenFileName", (str(path), ""))
        window.open_action.trigger()
        qtbot.waitUntil(lambda path=path: f"Cannot open {path}" in window.alert.text(), timeout=10000)
        assert problem in window.alert.text() and "Still showing demo" in window.alert.text()
        wait_for_frames(qtbot, window, 10)
        assert window.source_spec == "demo" and not window.banner_box.isVisible() and not window.video.message
    patch_dialog(monkeypatch, "getOpenFileName", (GRACE_HOPPER, ""))
    window.open_action.trigger()
    qtbot.waitUntil(lambda: window.source_spec == GRACE_HOPPER, timeout=10000)
    assert not window.alert_box.isVisible()
    assert not messages


def test_no_camera_notice_stays_while_the_demo_stands_in_and_is_not_remembered(
    window, gui_settings, qtbot, monkeypatch, messages
):
    wait_for_frames(qtbot, window, 20)  # well after the first frames replaced the old on-video notice
    assert window.alert_box.isVisible() and "No camera found" in window.alert.text()
    assert "Source: demo (no camera found)" in window.status_label.text()
    # A camera plugged in meanwhile is offered at once.
    monkeypatch.setattr(sources_control, "list_cameras", lambda: [2])
    window.camera_poll.setInterval(50)
    qtbot.waitUntil(lambda: window.alert_action.isVisible(), timeout=5000)
    assert "Camera 2 is connected now" in window.alert.text() and window.alert_action.text() == "Use camera 2"
    window.close()
    assert gui_settings.value("source") is None
    # So the next start prefers a camera when one is there.
    assert sources_control.start_source(None, "", [0]) == ("0", "")
    assert sources_control.start_source(None, "", []) == ("demo", sources_control.NO_CAMERA)
    assert not messages


def test_the_demo_chosen_by_the_user_is_remembered(window, gui_settings, qtbot, messages):
    window.demo_action.trigger()
    qtbot.waitUntil(lambda: not window.source_fallback, timeout=10000)
    assert not window.alert_box.isVisible() and "Source: demo   |" in window.status_label.text()
    window.close()
    assert gui_settings.value("source") == "demo"
    assert sources_control.start_source(None, "demo", [0]) == ("demo", "")
    assert not messages


@pytest.mark.slow  # over 30 s on 2 cores
def test_retrain_completes_shows_report_and_switches_model(window, qtbot, small_study_csv, messages):
    old = window.card.folder
    window.retrain_action.trigger()
    dialog = window.retrain_dialog
    configure_retrain(dialog, small_study_csv, "gui-tiny", epochs=2)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.running(), timeout=5000)
    frames_before = window.last_result.index
    qtbot.waitUntil(lambda: not dialog.running(), timeout=600000)  # about a minute on an idle 2-core CPU
    assert window.last_result.index > frames_before + 10, "the live view kept running during training"
    assert dialog.use_button.isEnabled(), dialog.log.toPlainText()[-2000:]
    assert dialog.overall.value() == dialog.overall.maximum() == 3
    assert "cnn_small" in dialog.result_label.text() and "CV" in dialog.result_label.text()
    assert dialog.confusion.pixmap() is not None and not dialog.confusion.pixmap().isNull()
    dialog.use_button.click()
    qtbot.waitUntil(lambda: window.card.folder == dialog.out_dir, timeout=10000)
    assert window.card.folder != old and read_card(dialog.out_dir).labels == ["sad", "surprise"]
    assert not messages


def test_retrain_can_fine_tune_the_model_in_use(window, qtbot, tiny_cnn_model, small_study_csv, messages):
    window.set_model(tiny_cnn_model)
    qtbot.waitUntil(lambda: window.card.folder == tiny_cnn_model, timeout=30000)
    window.retrain_action.trigger()
    dialog = window.retrain_dialog
    assert dialog.fine_tune.isEnabled() and "tiny-cnn (cnn_small)" in dialog.fine_tune.text()
    configure_retrain(dialog, small_study_csv, "gui-fine-tuned", epochs=1)
    dialog.emotion_boxes["happy"].setChecked(True)
    dialog.folds.setValue(0)
    dialog.fine_tune.setChecked(True)
    # The fine-tune keeps the start model's network and learns its emotions (or fewer): nothing else is offered.
    assert [e for e, b in dialog.emotion_boxes.items() if b.isChecked()] == ["sad", "surprise"]
    assert [e for e, b in dialog.emotion_boxes.items() if b.isEnabled()] == ["sad", "surprise"]
    assert [m for m, b in dialog.model_boxes.items() if b.isChecked()] == ["cnn_small"]
    assert not any(b.isEnabled() for b in dialog.model_boxes.values())
    dialog.start_button.click()
    qtbot.waitUntil(lambda: not dialog.running(), timeout=600000)
    assert dialog.use_button.isEnabled(), dialog.log.toPlainText()[-2000:]
    command = read_card(dialog.out_dir).training["command"]
    assert f"--init-from {tiny_cnn_model}" in command and "--learning-rate 0.0003" in command
    dialog.fine_tune.setChecked(False)
    assert all(b.isEnabled() for b in dialog.model_boxes.values())
    assert not messages


@pytest.mark.slow  # over 30 s on 2 cores
def test_an_ensemble_runs_live_but_is_not_offered_as_a_fine_tuning_start(window, qtbot, tiny_ensemble_model, messages):
    window.set_model(tiny_ensemble_model)
    qtbot.waitUntil(lambda: window.worker.pipeline.classifier.card.folder == tiny_ensemble_model, timeout=30000)
    count = window.last_result.index
    qtbot.waitUntil(lambda: window.last_result.index > count + 3 and bool(window.last_result.faces), timeout=10000)
    assert window.card.folder == tiny_ensemble_model and "Model: tiny-ensemble" in window.status_label.text()
    window.retrain_action.trigger()
    dialog = window.retrain_dialog
    assert not dialog.fine_tune.isEnabled() and not dialog.fine_tune.isChecked()
    assert "ensemble model" in dialog.fine_tune_note.text()
    info = ModelInfoDialog(window.card, window)
    assert "member recall" in [info.tabs.tabText(i) for i in range(info.tabs.count())]
    assert not messages


def test_retrain_cancel_leaves_old_model_and_nothing_on_disk(window, qtbot, small_study_csv, monkeypatch, messages):
    old = window.card.folder
    window.retrain_action.trigger()
    dialog = window.retrain_dialog
    configure_retrain(dialog, small_study_csv, "gui-cancelled", epochs=200)
    dialog.KILL_AFTER_MS = 0  # the worst case: the trainer is killed before it can clean up itself
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.epoch_bar.value() >= 1, timeout=180000)
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.Yes))  # past a minute
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.running(), timeout=60000)
    assert "Cancelled" in dialog.status.text()
    assert not dialog.out_dir.exists()
    assert not list(dialog.output_root.glob(".gui-cancelled*"))
    assert window.card.folder == old and not dialog.use_button.isEnabled()
    assert not messages


def test_closing_the_window_during_retrain_stops_the_trainer_and_cleans_up(window, qtbot, small_study_csv, messages):
    from PyQt5 import sip
    from PyQt5.QtCore import QProcess

    window.retrain_action.trigger()
    dialog = window.retrain_dialog
    configure_retrain(dialog, small_study_csv, "gui-closed", epochs=200)
    dialog.KILL_AFTER_MS = 500
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.epoch_bar.value() >= 1, timeout=180000)
    process = dialog.process
    window.close()
    assert process.state() == QProcess.NotRunning, "the trainer does not outlive the window"
    assert not dialog.out_dir.exists() and not list(dialog.output_root.glob(".gui-closed*"))
    # The app then deletes the dialog and its process; the pending kill timer must go with them, not fire later.
    sip.delete(dialog)
    window.retrain_dialog = None
    qtbot.wait(1000)  # past the 500 ms kill timer; pytest-qt fails the test on any exception in the event loop
    assert not messages


def test_platform_is_the_one_asked_for(qapp):
    """Under Xvfb (.ci/run) this runs on the real xcb plugin, where the OpenCV/Qt plugin clash would show."""
    import os

    wanted = os.environ.get("QT_QPA_PLATFORM", "offscreen")
    assert qapp.platformName() == wanted
    assert "QT_QPA_PLATFORM_PLUGIN_PATH" not in os.environ


def test_face_detection_menu_switches_the_detector_and_is_remembered(window, start_window, qtbot, gui_settings):
    assert window.detector_actions["auto"].isChecked()
    assert window.worker.pipeline.detector.mode == "auto"
    window.detector_actions["tiled"].trigger()
    qtbot.waitUntil(lambda: window.worker.pipeline.detector.mode == "tiled", timeout=10000)
    assert gui_settings.value("view/detector") == "tiled"
    shown = window.worker.frames_processed
    qtbot.waitUntil(
        lambda: window.worker.frames_processed > shown + 2 and len(window.last_result.faces) > 0, timeout=20000
    )
    window.close()
    again = start_window(model=str(STUDY_MODEL))
    assert again.detector_actions["tiled"].isChecked() and again.worker.detector_mode == "tiled"


def test_the_first_run_hint_shows_on_the_first_launch_only(start_window, qtbot, gui_settings):
    first = start_window(source="demo")
    hint = first.first_run_hint
    assert hint.isVisible()
    text = hint.text.text()
    assert "Click a face" in text and "bars" in text and "DEMO" in text
    qtbot.mouseClick(hint.dismiss_button, Qt.LeftButton)
    assert not hint.isVisible()
    first.close()
    second = start_window(source="demo")
    assert not second.first_run_hint.isVisible() and second.first_run_hint.isHidden()


def test_help_user_guide_shows_the_guide_rendered(start_window, qtbot):
    win = start_window(source="demo")
    headings = [line[3:] for line in USER_GUIDE.read_text().splitlines() if line.startswith("## ")]
    assert "Performance: when the computer gets hot or slow" in headings
    win.guide_action.trigger()
    dialog = win.guide_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    shown = dialog.browser.toPlainText()
    assert all(heading in shown for heading in headings)
    assert "## " not in shown and "**" not in shown  # rendered, not the Markdown source
    qtbot.mouseClick(win.first_run_hint.guide_button, Qt.LeftButton)  # the hint's button opens the same dialog
    assert win.guide_dialog is dialog and dialog.isVisible()
