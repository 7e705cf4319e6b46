"""What the window saves: snapshots, the recording of the annotated video, the face log (a mixin of MainWindow).

Files land in a default folder with timestamped names (no dialog needed), each confirmed with its path and a link
that opens its folder.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
from PyQt5.QtCore import QStandardPaths
from PyQt5.QtGui import QColor
from PyQt5.QtWidgets import QFileDialog, QMessageBox

from ferdesk.gui.views import clock

REC_COLOR = QColor(230, 40, 40)


def default_snapshot_folder() -> Path:
    """Where snapshots go unless the user chose a folder: the user's pictures folder, in ferdesk/."""
    pictures = QStandardPaths.writableLocation(QStandardPaths.PicturesLocation) or str(Path.home())
    return Path(pictures) / "ferdesk"


def timestamped_path(folder: Path, prefix: str, suffix: str) -> Path:
    """folder/prefix-YYYYmmdd-HHMMSS.suffix, with -2, -3... when several are made within a second."""
    stem = f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = folder / f"{stem}{suffix}", 2
    while path.exists():
        path, n = folder / f"{stem}-{n}{suffix}", n + 1
    return path


class SavingMixin:
    """Snapshots, recording and the face-log export of MainWindow (uses its settings, worker, actions and notice)."""

    def snapshot_folder(self) -> Path:
        return Path(str(self.settings.value("snapshots/folder", "") or default_snapshot_folder()))

    def save_snapshot(self) -> None:
        """The frame on screen, as a PNG with the time in its name, in the snapshot folder: no questions asked."""
        if self.last_result is None:
            QMessageBox.information(self, "Snapshot", "No frame yet.")
            return
        frame = self.last_result.annotated  # taken now, so the saved frame is the one on screen
        folder = self.snapshot_folder()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            QMessageBox.warning(
                self,
                "Snapshot",
                f"Cannot make the snapshot folder {folder}: {exc}. Use File > Save snapshot as… to choose another.",
            )
            return
        self._write_snapshot(frame, timestamped_path(folder, "ferdesk", ".png"))

    def save_snapshot_as(self) -> None:
        """Choose the file; its folder becomes the snapshot folder."""
        if self.last_result is None:
            QMessageBox.information(self, "Snapshot", "No frame yet.")
            return
        frame = self.last_result.annotated
        suggested = timestamped_path(self.snapshot_folder(), "ferdesk", ".png")
        path, _ = QFileDialog.getSaveFileName(self, "Save snapshot", str(suggested), "PNG (*.png);;JPEG (*.jpg)")
        if path and self._write_snapshot(frame, Path(path)):
            self.settings.setValue("snapshots/folder", str(Path(path).parent))

    def _write_snapshot(self, frame: np.ndarray, path: Path) -> bool:
        ok, data = cv2.imencode(path.suffix or ".png", frame)
        try:
            if not ok:
                raise OSError("cannot encode the image as " + (path.suffix or ".png"))
            path.write_bytes(data.tobytes())
        except OSError as exc:
            QMessageBox.warning(self, "Snapshot", f"Could not write {path}: {exc}")
            return False
        self.show_saved(path)
        return True

    def show_saved(self, path: Path) -> None:
        """Say where a file went, with a link that opens its folder."""
        folder = str(path.parent).replace("&", "&amp;").replace('"', "&quot;")
        shown = str(path).replace("&", "&amp;").replace("<", "&lt;")
        self.notice.setText(f'Saved {shown} &nbsp;<a href="{folder}">Show in folder</a>')
        self.notice.setToolTip(str(path))
        self.notice.show()
        self.notice_timer.start()

    def toggle_recording(self, on: bool) -> None:
        if on:
            suggested = timestamped_path(self.snapshot_folder(), "ferdesk-recording", ".mp4")
            path, _ = QFileDialog.getSaveFileName(
                self, "Record annotated video", str(suggested), "MP4 video (*.mp4);;AVI video (*.avi)"
            )
            if not path:
                self.record_action.blockSignals(True)
                self.record_action.setChecked(False)
                self.record_action.blockSignals(False)
                return
            self.worker.start_recording(Path(path))
        else:
            self.worker.stop_recording()
        self._update_status()

    def _on_recording_changed(self, recording: bool, detail: str) -> None:
        if not recording and detail.startswith("cannot"):
            QMessageBox.warning(self, "Recording", detail)
        self.record_action.blockSignals(True)
        self.record_action.setChecked(recording)
        self.record_action.blockSignals(False)
        if recording:
            self.rec_timer.start()
            self.rec_label.setToolTip(f"Recording to {detail}")
        else:
            self.rec_timer.stop()
            if detail and not detail.startswith("cannot"):
                self.show_saved(Path(detail))
        self._show_recording_time()
        self._update_status()

    def _show_recording_time(self) -> None:
        recording = self.record_action.isChecked()
        text = f"● REC {clock(self.worker.recording_seconds)}" if recording else None
        self.rec_label.setVisible(recording)
        self.rec_label.setText(text or "")
        self.video.set_badge("rec", text, REC_COLOR)

    def export_log(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export face log", "ferdesk-log.csv", "CSV (*.csv);;JSON (*.json)")
        if path:
            self.write_log(Path(path))

    def write_log(self, path: Path) -> bool:
        """The session's face log (each row with its source, file, model and wall-clock time), CSV or JSON."""
        try:
            self.session_log.write(path)
        except OSError as exc:
            QMessageBox.warning(self, "Export face log", f"Could not write {path}: {exc}")
            return False
        self.show_saved(path)
        return True
