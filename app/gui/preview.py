"""The live preview: the step's overview image with EVS boxes and the planned action drawn on it."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QFont, QIcon, QImage, QPainter, QPainterPath, QPaintEvent, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from omnidesk.agent.ports import ModelImage
from omnidesk.app.gui.overlay import Overlay
from omnidesk.app.gui.style import icon_path

__all__ = ["PreviewWidget", "to_qimage"]

_CROP = QColor(255, 176, 32)
_CHANGED = QColor(90, 200, 250)
_TARGET = QColor(255, 64, 96)
_BACKGROUND = QColor(24, 26, 30)


def to_qimage(image: ModelImage) -> QImage:
    """A QImage that owns a copy of the model image's RGB pixels."""
    height, width = image.pixels.shape[:2]
    data = np.ascontiguousarray(image.pixels[:, :, :3]).tobytes()
    return QImage(data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class PreviewWidget(QWidget):
    """Paints an :class:`Overlay`: the picture scaled to fit, then boxes, target point, drag and text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("preview")
        self.setMinimumSize(320, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._overlay: Overlay | None = None
        self._picture: QImage | None = None
        self._picture_of: ModelImage | None = None
        self._placeholder = "No run yet — type a task and press Run."
        self._logo = QIcon(icon_path("omnidesk.svg"))

    @property
    def overlay(self) -> Overlay | None:
        return self._overlay

    @property
    def placeholder(self) -> str:
        return self._placeholder

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(960, 540)

    def show_overlay(self, overlay: Overlay) -> None:
        if overlay.image is not self._picture_of:
            self._picture_of = overlay.image
            self._picture = None if overlay.image is None else to_qimage(overlay.image)
        self._overlay = overlay
        self.update()

    def clear(self, placeholder: str) -> None:
        self._overlay = self._picture = self._picture_of = None
        self._placeholder = placeholder
        self.update()

    def image_rect(self) -> QRectF:
        """Where the picture is drawn (letterboxed into the widget)."""
        if self._picture is None:
            return QRectF()
        scale = min(self.width() / self._picture.width(), self.height() / self._picture.height())
        w, h = self._picture.width() * scale, self._picture.height() * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def map_to_widget(self, x: float, y: float) -> QPointF:
        """A point in overview-image pixels to widget coordinates."""
        rect = self.image_rect()
        assert self._picture is not None
        scale = rect.width() / self._picture.width()
        return QPointF(rect.x() + x * scale, rect.y() + y * scale)

    def paintEvent(self, event: QPaintEvent | None) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), _BACKGROUND)
        if self._picture is None or self._overlay is None:
            painter.setPen(QColor(170, 176, 186))
            text = self._placeholder
            if self._overlay is not None and self._overlay.label:
                text = self._overlay.label
            logo = self._logo.pixmap(96, 96)
            painter.setOpacity(0.5)
            painter.drawPixmap((self.width() - 96) // 2, self.height() // 2 - 130, logo)
            painter.setOpacity(1.0)
            area = self.rect().adjusted(40, 0, -40, 0)
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)
            painter.end()
            return
        painter.drawImage(self.image_rect(), self._picture)
        self._paint_boxes(painter, self._overlay)
        self._paint_action(painter, self._overlay)
        painter.end()

    def _paint_boxes(self, painter: QPainter, overlay: Overlay) -> None:
        for box in overlay.boxes:
            top_left = self.map_to_widget(box.x, box.y)
            bottom_right = self.map_to_widget(box.x + box.width, box.y + box.height)
            color = _CROP if box.kind == "crop" else _CHANGED
            pen = QPen(color, 2 if box.kind == "crop" else 1)
            if box.kind != "crop":
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(top_left, bottom_right))

    def _paint_action(self, painter: QPainter, overlay: Overlay) -> None:
        pen = QPen(_TARGET, 3)
        painter.setPen(pen)
        if overlay.path is not None:
            start = self.map_to_widget(*overlay.path[0])
            end = self.map_to_widget(*overlay.path[1])
            painter.drawLine(start, end)
            painter.setBrush(_TARGET)
            painter.drawEllipse(start, 5, 5)
            _arrow_head(painter, start, end)
        if overlay.point is not None:
            center = self.map_to_widget(*overlay.point)
            painter.setBrush(QColor(255, 64, 96, 60))
            painter.drawEllipse(center, 16, 16)
            painter.drawLine(center + QPointF(-24, 0), center + QPointF(-8, 0))
            painter.drawLine(center + QPointF(8, 0), center + QPointF(24, 0))
            painter.drawLine(center + QPointF(0, -24), center + QPointF(0, -8))
            painter.drawLine(center + QPointF(0, 8), center + QPointF(0, 24))
        if overlay.label:
            anchor = self.map_to_widget(*overlay.point) if overlay.point is not None else None
            self._paint_label(painter, overlay.label, anchor)

    def _paint_label(self, painter: QPainter, text: str, anchor: QPointF | None) -> None:
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.15)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        width, height = metrics.horizontalAdvance(text) + 20, metrics.height() + 12
        image = self.image_rect()
        if anchor is None:
            x, y = image.center().x() - width / 2, image.bottom() - height - 16
        else:
            x = min(max(anchor.x() + 24, image.left()), image.right() - width)
            y = min(max(anchor.y() + 24, image.top()), image.bottom() - height)
        bubble = QRectF(x, y, width, height)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(20, 20, 24, 220))
        painter.drawRoundedRect(bubble, 6, 6)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(bubble, Qt.AlignmentFlag.AlignCenter, text)


def _arrow_head(painter: QPainter, start: QPointF, end: QPointF) -> None:
    direction = end - start
    length = max((direction.x() ** 2 + direction.y() ** 2) ** 0.5, 1e-6)
    unit = direction / length
    normal = QPointF(-unit.y(), unit.x())
    path = QPainterPath(end)
    path.lineTo(end - unit * 14 + normal * 7)
    path.lineTo(end - unit * 14 - normal * 7)
    path.closeSubpath()
    painter.setBrush(_TARGET)
    painter.drawPath(path)
