"""What the window saves: snapshots, the recording of the annotated video, the face log, and before quitting what
would be lost (a mixin of MainWindow).

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

from ferdesk.gui.summary import save_summary
from ferdesk.gui.views import clock

REC_COLOR = QColor(230, 40, 40)
# What Quit offers to save the session as; the first is the default.
SUMMARY_JSON = "Session summary with each face's timeline (*.json)"
SUMMARY_CSV = "Session summary, one row per face (*.csv)"
LOG_CSV = "Face log, every face in every frame (*.csv)"
LOG_JSON = "Face log, every frame (*.json)"


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
    """Snapshots, recording, the face-log export and saving before quitting, for MainWindow (uses its settings,
    worker, actions, notice, session log and summary, and its training dialogs)."""

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

    # ---------------------------------------------------------------- before quitting
    def confirm_quit(self) -> bool:
        """Ask first when quitting would stop a training run or lose session data not yet saved."""
        if self.training.retraining():
            answer = QMessageBox.question(
                self,
                "Quit ferdesk",
                "A training run is still going. Quitting cancels it and keeps nothing of it. Quit anyway?",
                QMessageBox.Yes | QMessageBox.No,
                QMessageBox.No,
            )
            if answer != QMessageBox.Yes:
                return False
        lost = self.unsaved_work()
        if not lost:
            return True
        answer = QMessageBox.question(
            self,
            "Quit ferdesk",
            "This session has not been saved:\n• "
            + "\n• ".join(lost)
            + "\n\nSave before quitting? Discard quits without saving; Cancel keeps ferdesk open.",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel,
            QMessageBox.Save,
        )
        if answer == QMessageBox.Save:
            return self.save_unsaved_work()
        return answer == QMessageBox.Discard

    def _unexported_faces(self) -> int:
        """Face rows neither the face log nor the summary has been exported with since they came."""
        return self.session_log.unexported_faces if self.summary.changed else 0

    def unsaved_work(self) -> list[str]:
        """What quitting now would lose, in words: faces not exported, pictures for Teach it my face not saved."""
        lost = []
        rows = self._unexported_faces()
        if rows:
            sources = list(dict.fromkeys(name for name, _ in self.summary.sources))
            lost.append(f"{rows:,} face rows (from {', '.join(sources)}): the face log and the summary")
        if self.own_faces.changed and len(self.own_faces):
            count = len(self.own_faces)
            lost.append(f"{count} picture{'s' if count > 1 else ''} of your face for Teach it my face")
        return lost

    def save_unsaved_work(self) -> bool:
        """Ask where to save each unsaved thing; False when one is not saved (a dialog cancelled, a write failed)."""
        if self._unexported_faces():
            path, chosen = QFileDialog.getSaveFileName(
                self,
                "Save this session",
                "ferdesk-session.json",
                ";;".join((SUMMARY_JSON, SUMMARY_CSV, LOG_CSV, LOG_JSON)),
            )
            if not path:
                return False
            saved = (
                self.write_log(Path(path))
                if chosen in (LOG_CSV, LOG_JSON)
                else save_summary(self, self.summary, Path(path))
            )
            if not saved:
                return False
        if self.own_faces.changed and len(self.own_faces):
            self.training.personalise().save_samples()  # its own folder dialog; it marks the samples saved
            return not self.own_faces.changed
        return True

    def quit_asking(self) -> None:
        if self.confirm_quit():
            self.summary.changed = False  # asked once: the close that follows does not ask again
            self.close()
