"""View > Session summary: each face's emotions over the whole session on a timeline, and its totals; exports."""

from __future__ import annotations

import time
from pathlib import Path

from PyQt5.QtCore import QRectF, QSize, Qt, QTimer
from PyQt5.QtGui import QColor, QPainter
from PyQt5.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ferdesk.gui.views import clock, qcolor
from ferdesk.session import FaceStory, SessionSummary

NICE_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


class TimelineView(QWidget):
    """One row per face, its emotion runs as coloured bars along a wall-clock axis; as wide as the zoom asks."""

    NAME_W, AXIS_H, ROW_H = 190, 26, 22

    def __init__(self, parent=None):
        super().__init__(parent)
        self.faces: list[FaceStory] = []
        self.start = self.end = 0.0
        self.pixels_per_second = 8.0

    def set_faces(self, faces: list[FaceStory]) -> None:
        self.faces = faces
        if faces:
            self.start = min(f.first_seen for f in faces)
            self.end = max(f.last_seen for f in faces)
        self.resize(self.sizeHint())
        self.update()

    def fit(self, width: int) -> None:
        """Zoom so the whole session fits `width` pixels."""
        self.pixels_per_second = max(0.01, (width - self.NAME_W - 30) / max(1.0, self.end - self.start))
        self.resize(self.sizeHint())
        self.update()

    def zoom(self, factor: float) -> None:
        self.pixels_per_second = min(400.0, max(0.01, self.pixels_per_second * factor))
        self.resize(self.sizeHint())
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(
            int(self.NAME_W + (self.end - self.start) * self.pixels_per_second + 30),
            self.AXIS_H + self.ROW_H * max(1, len(self.faces)) + 8,
        )

    def x_of(self, t: float) -> float:
        return self.NAME_W + (t - self.start) * self.pixels_per_second

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        text = self.palette().text().color()
        if not self.faces:
            painter.setPen(text)
            painter.drawText(QRectF(self.rect()), Qt.AlignCenter, "No faces yet")
            painter.end()
            return
        # Time ticks: a round step about every 100 pixels, labelled with the time of day.
        step = next((s for s in NICE_STEPS_S if s * self.pixels_per_second >= 100), NICE_STEPS_S[-1])
        first = (int(self.start) // step + 1) * step
        painter.setPen(QColor(150, 150, 150))
        tick = first
        while tick <= self.end + step:
            x = self.x_of(tick)
            painter.drawLine(int(x), self.AXIS_H - 6, int(x), self.height())
            painter.drawText(
                QRectF(x - 40, 0, 80, self.AXIS_H - 6), Qt.AlignCenter, time.strftime("%H:%M:%S", time.localtime(tick))
            )
            tick += step
        for row, face in enumerate(self.faces):
            y = self.AXIS_H + row * self.ROW_H
            painter.setPen(text)
            painter.drawText(QRectF(4, y, self.NAME_W - 8, self.ROW_H), Qt.AlignLeft | Qt.AlignVCenter, face.name)
            for run in face.runs:
                x0 = self.x_of(run.start)
                painter.fillRect(
                    QRectF(x0, y + 3, max(2.0, (run.end - run.start) * self.pixels_per_second), self.ROW_H - 6),
                    qcolor(run.label),
                )
        painter.end()


class SummaryDialog(QDialog):
    """Live while open: refreshed every couple of seconds from the session's summary."""

    def __init__(self, summary: SessionSummary, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Session summary")
        self.resize(980, 640)
        self.summary = summary
        self.header = QLabel()
        self.legend = QLabel()
        self.timeline = TimelineView()
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.timeline)
        self.scroll.setMinimumHeight(160)
        zoom_in, zoom_out, fit = QPushButton("Zoom in"), QPushButton("Zoom out"), QPushButton("Fit")
        zoom_in.clicked.connect(lambda: self.timeline.zoom(2.0))
        zoom_out.clicked.connect(lambda: self.timeline.zoom(0.5))
        fit.clicked.connect(lambda: self.timeline.fit(self.scroll.viewport().width()))
        self.table = QTableWidget()
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.png_button = QPushButton("Save timeline as PNG…")
        self.png_button.clicked.connect(self.export_png)
        self.table_button = QPushButton("Save summary as CSV or JSON…")
        self.table_button.clicked.connect(self.export_table)
        close = QPushButton("Close")
        close.clicked.connect(self.close)

        top = QHBoxLayout()
        top.addWidget(self.legend, 1)
        for button in (zoom_out, zoom_in, fit):
            top.addWidget(button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.png_button)
        bottom.addWidget(self.table_button)
        bottom.addStretch(1)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addLayout(top)
        layout.addWidget(self.scroll, 2)
        layout.addWidget(self.table, 3)
        layout.addLayout(bottom)
        self.refresh_timer = QTimer(self, interval=2000)
        self.refresh_timer.timeout.connect(self.refresh)
        self.refresh(fit=True)

    def showEvent(self, event) -> None:
        self.refresh_timer.start()
        super().showEvent(event)

    def hideEvent(self, event) -> None:
        self.refresh_timer.stop()
        super().hideEvent(event)

    def refresh(self, fit: bool = False) -> None:
        faces = self.summary.faces()
        labels = self.summary.labels(faces)
        sources = {f.source for f in faces}
        if faces:
            start, end = min(f.first_seen for f in faces), max(f.last_seen for f in faces)
            self.header.setText(
                f"{len(faces)} faces from {len(sources)} source{'s' * (len(sources) != 1)} "
                f"({', '.join(sorted(sources))}), {time.strftime('%H:%M:%S', time.localtime(start))}"
                f" to {time.strftime('%H:%M:%S', time.localtime(end))}"
            )
        else:
            self.header.setText("No faces seen yet in this session.")
        self.legend.setText("  ".join(f"<span style='color:{qcolor(k).name()}'>■</span> {k}" for k in labels))
        self.timeline.set_faces(faces)
        if fit:
            self.timeline.fit(max(600, self.scroll.viewport().width()))
        columns = ["Face", "Source", "Seen for", "Frames", "Most of the time", *labels]
        self.table.setColumnCount(len(columns))
        self.table.setHorizontalHeaderLabels(columns)
        self.table.setRowCount(len(faces))
        for row, face in enumerate(faces):
            cells = [
                face.name,
                face.source + (f" ({len(face.files)} images)" if face.files else ""),
                clock(face.seen_seconds),
                str(face.frames),
                face.main_emotion,
            ]
            for label in labels:
                if label not in face.labels:
                    cells.append("—")
                    continue
                share = face.seconds.get(label, 0.0) / face.seen_seconds if face.seen_seconds else None
                cells.append(
                    f"{clock(face.seconds.get(label, 0.0))}"
                    + (f" ({share:.0%})" if share is not None else "")
                    + f", {face.counts.get(label, 0)} fr, mean {face.mean(label):.0%}"
                )
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

    def export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the timeline", "ferdesk-timeline.png", "PNG (*.png)")
        if path and not self.timeline.grab().save(path, "PNG"):
            QMessageBox.warning(self, "Timeline", f"Could not write {path}")

    def export_table(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Save the session summary",
            "ferdesk-session.csv",
            "CSV (*.csv);;JSON with each face's timeline (*.json)",
        )
        if path:
            save_summary(self, self.summary, Path(path))


def save_summary(parent, summary: SessionSummary, path: Path) -> bool:
    try:
        summary.write(path)
    except OSError as exc:
        QMessageBox.warning(parent, "Session summary", f"Could not write {path}: {exc}")
        return False
    if hasattr(parent, "show_saved"):
        parent.show_saved(path)
    elif hasattr(parent.parent(), "show_saved"):
        parent.parent().show_saved(path)
    return True
