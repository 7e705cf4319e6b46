"""The app's window under pytest-qt: its own settings, no camera, message boxes recorded."""

from __future__ import annotations

import pytest
from gui_helpers import STUDY_MODEL
from PyQt5.QtWidgets import QMessageBox

from ferdesk.gui import sources_control
from ferdesk.gui.models_control import SPEED_TIP_OFF
from ferdesk.gui.main_window import MainWindow


@pytest.fixture
def messages(monkeypatch):
    """Message boxes are recorded instead of shown; a test fails if one appears that it did not expect."""
    shown = []

    def record(kind):
        def box(parent, title, text, *args, **kwargs):
            shown.append((kind, title, text))
            return QMessageBox.Ok

        return box

    for kind in ("warning", "information", "critical", "about"):
        monkeypatch.setattr(QMessageBox, kind, staticmethod(record(kind)))
    return shown


@pytest.fixture
def start_window(qtbot, gui_settings, messages, monkeypatch):
    """Open the app as `ferdesk [--source S] [--model M]` would, with its own settings file and no camera."""
    monkeypatch.setattr(sources_control, "list_cameras", lambda: [])  # the same on a machine with a webcam
    windows = []

    def start(**kwargs) -> MainWindow:
        if not gui_settings.contains(SPEED_TIP_OFF):  # on a slow machine the tip would come and go between tests
            gui_settings.setValue(SPEED_TIP_OFF, True)
        win = MainWindow(settings=gui_settings, **kwargs)
        qtbot.addWidget(win)
        win.show()
        windows.append(win)
        return win

    yield start
    for win in windows:
        win.close()


@pytest.fixture
def window(start_window, qtbot):
    win = start_window(model=str(STUDY_MODEL))
    qtbot.waitUntil(lambda: win.last_result is not None and len(win.last_result.faces) > 0, timeout=30000)
    return win
