"""Widgets that show results: the live video, the selected face's probabilities and their recent history."""

from __future__ import annotations

from collections import deque

import numpy as np
from PyQt5.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt5.QtGui import QColor, QFont, QImage, QPainter, QPainterPath, QPen
from PyQt5.QtWidgets import QSizePolicy, QWidget

from ferdesk.labels import color_for


def bgr_to_qimage(frame: np.ndarray) -> QImage:
    """A deep-copied QImage, so the numpy buffer may be reused or freed afterwards."""
    frame = np.ascontiguousarray(frame)
    height, width = frame.shape[:2]
    return QImage(frame.data, width, height, frame.strides[0], QImage.Format_BGR888).copy()


def clock(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour on."""
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}" if minutes >= 60 else f"{minutes}:{seconds:02d}"


def qcolor(emotion: str) -> QColor:
    b, g, r = color_for(emotion)
    return QColor(r, g, b)


class VideoView(QWidget):
    """Shows the annotated frame scaled to fit with its aspect ratio kept; a click selects the face under it."""

    face_clicked = pyqtSignal(int)  # track id

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setMinimumSize(320, 240)
        self.image: QImage | None = None
        self.faces = []
        self.message = "Loading…"
        self.badges: dict[str, tuple[str, QColor]] = {}  # states drawn in the top-right corner (Paused, REC)

    def show_frame(self, image: QImage, faces) -> None:
        self.image, self.faces, self.message = image, faces, ""
        self.update()

    def show_message(self, text: str) -> None:
        self.message = text
        self.update()

    def set_badge(self, key: str, text: str | None, color: QColor | None = None) -> None:
        """Show (or with None, remove) a state over the video; never part of the frame that is saved."""
        if text is None:
            self.badges.pop(key, None)
        else:
            self.badges[key] = (text, color or QColor(235, 235, 235))
        self.update()

    def target_rect(self) -> QRectF:
        if self.image is None or self.image.isNull():
            return QRectF(self.rect())
        scale = min(self.width() / self.image.width(), self.height() / self.image.height())
        w, h = self.image.width() * scale, self.image.height() * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(24, 24, 28))
        if self.image is not None:
            painter.setRenderHint(QPainter.SmoothPixmapTransform)
            painter.drawImage(self.target_rect(), self.image)
        if self.message:
            painter.setPen(QColor(235, 235, 235))
            font = QFont(self.font())
            font.setPointSize(max(11, self.height() // 28))
            painter.setFont(font)
            box = QRectF(self.rect()).adjusted(20, 0, -20, 0)
            if self.image is not None:  # a banner over the last frame
                box = QRectF(0, self.height() - 60, self.width(), 60)
                painter.fillRect(box, QColor(0, 0, 0, 170))
            painter.drawText(box, Qt.AlignCenter | Qt.TextWordWrap, self.message)
        if self.badges:
            font = QFont(self.font())
            font.setPointSize(12)
            font.setBold(True)
            painter.setFont(font)
            right = self.width() - 10.0
            for text, color in self.badges.values():
                width = painter.fontMetrics().horizontalAdvance(text) + 16
                box = QRectF(right - width, 10, width, 26)
                painter.fillRect(box, QColor(0, 0, 0, 180))
                painter.setPen(color)
                painter.drawText(box, Qt.AlignCenter, text)
                right -= width + 8
        painter.end()

    def face_at(self, pos):
        """The face shown under a point of this widget, or None."""
        if self.image is None or not self.faces:
            return None
        rect = self.target_rect()
        scale = rect.width() / self.image.width()
        x = (pos.x() - rect.x()) / scale
        y = (pos.y() - rect.y()) / scale
        for face in self.faces:
            b = face.box
            if b.x <= x <= b.x + b.w and b.y <= y <= b.y + b.h:
                return face
        return None

    def mousePressEvent(self, event) -> None:
        face = self.face_at(event.pos())
        if face is not None:
            self.face_clicked.emit(face.track_id)


class ProbabilityPanel(QWidget):
    """Horizontal bars, one per label, for the selected face."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.labels: list[str] = []
        self.probabilities: np.ndarray | None = None
        self.caption = "No face"
        self.setMinimumSize(220, 180)

    def set_values(self, labels: list[str], probabilities: np.ndarray | None, caption: str) -> None:
        self.labels, self.probabilities, self.caption = list(labels), probabilities, caption
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setPen(self.palette().windowText().color())
        painter.drawText(QRectF(0, 0, self.width(), 22), Qt.AlignLeft | Qt.AlignVCenter, self.caption)
        n = max(1, len(self.labels))
        row = min(34.0, (self.height() - 28) / n)  # few labels: compact rows, not giant bars
        name_w = 78
        for i, label in enumerate(self.labels):
            y = 28 + i * row
            p = float(self.probabilities[i]) if self.probabilities is not None and i < len(self.probabilities) else 0.0
            painter.setPen(self.palette().windowText().color())
            painter.drawText(QRectF(0, y, name_w, row), Qt.AlignLeft | Qt.AlignVCenter, label)
            bar = QRectF(name_w, y + row * 0.2, (self.width() - name_w - 48) * p, row * 0.6)
            painter.fillRect(
                QRectF(name_w, y + row * 0.2, self.width() - name_w - 48, row * 0.6), QColor(128, 128, 128, 40)
            )
            painter.fillRect(bar, qcolor(label))
            painter.drawText(QRectF(self.width() - 46, y, 46, row), Qt.AlignRight | Qt.AlignVCenter, f"{p:.0%}")
        painter.end()


class HistoryPlot(QWidget):
    """Each label's probability for the selected face over the last `seconds`, as coloured lines."""

    def __init__(self, seconds: float = 10.0, parent=None):
        super().__init__(parent)
        self.seconds = seconds
        self.labels: list[str] = []
        self.samples: deque[tuple[float, np.ndarray]] = deque()
        self.setMinimumSize(220, 120)

    def clear(self, labels: list[str] | None = None) -> None:
        self.samples.clear()
        if labels is not None:
            self.labels = list(labels)
        self.update()

    def add(self, timestamp: float, probabilities: np.ndarray) -> None:
        self.samples.append((timestamp, np.asarray(probabilities, dtype=float)))
        while self.samples and timestamp - self.samples[0][0] > self.seconds:
            self.samples.popleft()
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        area = QRectF(4, 4, self.width() - 8, self.height() - 20)
        painter.fillRect(area, QColor(128, 128, 128, 30))
        painter.setPen(self.palette().windowText().color())
        painter.drawText(QRectF(0, self.height() - 16, self.width(), 16), Qt.AlignCenter, f"last {self.seconds:.0f} s")
        if len(self.samples) >= 2:
            t_end = self.samples[-1][0]
            for k, label in enumerate(self.labels):
                path = QPainterPath()
                for i, (t, p) in enumerate(self.samples):
                    if k >= len(p):
                        break
                    point = QPointF(
                        area.right() - (t_end - t) / self.seconds * area.width(),
                        area.bottom() - float(p[k]) * area.height(),
                    )
                    path.moveTo(point) if i == 0 else path.lineTo(point)
                painter.setPen(QPen(qcolor(label), 2))
                painter.drawPath(path)
        painter.end()
