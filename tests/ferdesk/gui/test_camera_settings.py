"""Source > Camera settings… in the real window: the choices are remembered and reach the camera source.

No machine in CI has a camera: the window is told cameras 0 and 2 exist, so opening one fails the way an unplugged
camera does (named in the window, the current source kept), after the requests have gone to the camera source.
"""

from __future__ import annotations

from PyQt5.QtWidgets import QDialogButtonBox

from ferdesk.gui import sources_control
from ferdesk.sources import CameraSource, open_source


def test_camera_settings_are_remembered_and_asked_of_the_camera(
    start_window, gui_settings, qtbot, monkeypatch, messages
):
    monkeypatch.setattr(sources_control, "list_cameras", lambda: [0, 2])
    opened = []

    def recording_open_source(spec, **options):
        source = open_source(spec, **options)
        opened.append(source)
        return source

    monkeypatch.setattr(sources_control, "open_source", recording_open_source)
    win = start_window(source="demo")
    qtbot.waitUntil(lambda: win.source_spec == "demo", timeout=30000)
    win.show_camera_settings()
    dialog = win.camera_dialog
    assert [dialog.device.itemText(i) for i in range(dialog.device.count())] == ["Camera 0", "Camera 2"]
    dialog.device.setCurrentIndex(1)
    dialog.resolution.setCurrentText("1280 x 720")
    dialog.frame_rate.setCurrentText("15 frames/s")
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.Ok).click()

    camera = opened[-1]
    assert isinstance(camera, CameraSource) and camera.index == 2 and camera.requested == (1280, 720, 15)
    qtbot.waitUntil(lambda: "Cannot open camera 2" in win.alert.text(), timeout=10000)  # no camera here
    assert win.source_spec == "demo"
    assert gui_settings.value("camera/resolution") == "1280 x 720"
    win.close()

    # Remembered: a new window asks the same of any camera it opens, and the dialog shows the choices.
    again = start_window(source="demo")
    qtbot.waitUntil(lambda: again.source_spec == "demo", timeout=30000)
    again.set_source("0")
    assert opened[-1].requested == (1280, 720, 15)
    again.show_camera_settings([])
    assert again.camera_dialog.resolution.currentText() == "1280 x 720"
    assert not again.camera_dialog.device.isEnabled() and "No camera found" in again.camera_dialog.note.text()
    again.camera_dialog.reject()
    messages.clear()  # the failed camera opens were shown in the window, as they should be
