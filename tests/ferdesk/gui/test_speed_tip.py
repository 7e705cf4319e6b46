"""Where classifying is slow on this CPU, the window offers the shipped lighter model once (real worker, demo faces).

Where a test lowers the threshold, it is so that it does not depend on how fast this machine is; the timings are real.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

from gui_helpers import wait_for_frames
from PyQt5.QtCore import Qt

from ferdesk.gui import models_control
from ferdesk.gui.models_control import SPEED_TIP_OFF
from ferdesk.paths import MODELS_DIR, model_folders
from ferdesk.pipeline import DEFAULT_MODEL

COMPACT = MODELS_DIR / "compact"


def only_shipped_models(monkeypatch):
    """Not the models other tests trained into the session's user folder."""
    shipped = [folder for folder in model_folders() if MODELS_DIR in folder.parents]
    monkeypatch.setattr(models_control, "model_folders", lambda: shipped)


def slow_everywhere(monkeypatch, gui_settings, frames=5):
    only_shipped_models(monkeypatch)
    monkeypatch.setattr(models_control, "SLOW_MS_PER_FACE", 0.0)
    monkeypatch.setattr(models_control, "TIMED_FRAMES", frames)
    gui_settings.setValue(SPEED_TIP_OFF, False)


def test_a_slow_model_gets_a_tip_whose_button_switches_to_the_lighter_one(
    start_window, qtbot, monkeypatch, gui_settings, messages
):
    slow_everywhere(monkeypatch, gui_settings)
    win = start_window(model=str(DEFAULT_MODEL))
    qtbot.waitUntil(lambda: win.speed_tip.isVisible(), timeout=60000)
    text = win.speed_tip.label.text()
    assert text.startswith("default takes ") and " ms a face on this computer. compact does 23% of its work" in text
    assert "67.7% test accuracy instead of 70.0% test accuracy" in text
    assert win.speed_tip.switch_button.text() == "Use compact"
    with qtbot.waitSignal(win.models.card_changed, timeout=30000):
        qtbot.mouseClick(win.speed_tip.switch_button, Qt.LeftButton)
    assert win.card.folder == COMPACT and not win.speed_tip.isVisible()
    assert win.models.ms_per_face == [] or len(win.models.ms_per_face) < 5  # the lighter model is timed afresh
    # Nothing lighter ships, so once it is timed no tip comes back.
    qtbot.waitUntil(lambda: len(win.models.ms_per_face) >= 5, timeout=60000)
    wait_for_frames(qtbot, win)
    assert not win.speed_tip.isVisible()
    assert gui_settings.value("model") == str(COMPACT) and not messages


def test_the_tip_waits_for_enough_frames_and_a_slow_median(start_window, qtbot, monkeypatch, gui_settings):
    """The controller on real results of the running window, with only their classify time changed."""
    gui_settings.setValue(SPEED_TIP_OFF, False)
    only_shipped_models(monkeypatch)
    win = start_window(model=str(DEFAULT_MODEL))
    qtbot.waitUntil(lambda: win.last_result is not None and len(win.last_result.faces) >= 2, timeout=60000)
    win.pause_action.setChecked(True)  # the live frames stop feeding it; the test does
    qtbot.wait(500)
    tips = []
    win.models.speed_tip.connect(tips.append)
    real = win.last_result
    faces = len(real.faces)

    index = itertools.count(real.index + 1)

    def feed(ms_per_face, frames):
        for _ in range(frames):
            timings = {**real.timings_ms, "classify": ms_per_face * faces}
            win.models.note_speed(replace(real, index=next(index), timings_ms=timings))

    win.models.ms_per_face = []
    feed(9.0, models_control.TIMED_FRAMES - 1)
    assert tips == []  # not before 60 frames
    win.models.note_speed(replace(real, index=next(index), faces=[]))  # says nothing of the time a face
    before = list(win.models.ms_per_face)
    win.models.note_speed(replace(real, index=win.models.last_index))  # a redraw of the last frame
    assert tips == [] and win.models.ms_per_face == before
    feed(9.0, 1)  # the 60th: 9 ms a face; the member would take 4.5 ms, over 4, so the cheapest
    assert len(tips) == 1 and tips[0][2] == "compact" and "takes 9.0 ms a face" in tips[0][0]
    feed(9.0, 10)
    assert len(tips) == 1  # once per model
    win.models.ms_per_face = []
    feed(7.0, models_control.TIMED_FRAMES)  # the member fits in 3.5 ms and is the more accurate
    assert tips[-1][2] == "gpu-cnn_wide-s22-e89"
    win.models.ms_per_face = []
    feed(3.9, models_control.TIMED_FRAMES)  # fast enough: no tip
    assert len(tips) == 2


def test_dont_suggest_again_is_remembered_and_the_model_menu_turns_it_back_on(
    start_window, qtbot, monkeypatch, gui_settings
):
    slow_everywhere(monkeypatch, gui_settings)
    win = start_window(model=str(DEFAULT_MODEL))
    assert win.speed_tips_action.isChecked()
    qtbot.waitUntil(lambda: win.speed_tip.isVisible(), timeout=60000)
    qtbot.mouseClick(win.speed_tip.off_button, Qt.LeftButton)
    assert not win.speed_tip.isVisible() and not win.speed_tips_action.isChecked()
    assert gui_settings.value(SPEED_TIP_OFF, type=bool)
    win.close()
    again = start_window(model=str(DEFAULT_MODEL))
    assert not again.speed_tips_action.isChecked()
    qtbot.waitUntil(lambda: len(again.models.ms_per_face) >= 5, timeout=60000)
    wait_for_frames(qtbot, again)
    assert not again.speed_tip.isVisible() and again.card.folder == DEFAULT_MODEL
    again.speed_tips_action.trigger()  # Model > Suggest a lighter model when slow
    assert again.speed_tips_action.isChecked() and not gui_settings.value(SPEED_TIP_OFF, type=bool)
    again.models.ms_per_face = []  # timed afresh, as after a model change
    qtbot.waitUntil(lambda: again.speed_tip.isVisible(), timeout=60000)


def test_frames_are_not_timed_while_a_trainer_shares_the_cpu(start_window, qtbot, monkeypatch, gui_settings):
    slow_everywhere(monkeypatch, gui_settings)
    win = start_window(model=str(DEFAULT_MODEL))
    monkeypatch.setattr(win.training, "busy", lambda: True)  # as while Retrain or Teach it my face trains
    qtbot.waitUntil(lambda: win.last_result is not None and len(win.last_result.faces) > 0, timeout=60000)
    wait_for_frames(qtbot, win, count=10)
    assert win.models.ms_per_face == [] and not win.speed_tip.isVisible()
    monkeypatch.setattr(win.training, "busy", lambda: False)
    qtbot.waitUntil(lambda: win.speed_tip.isVisible(), timeout=60000)
