"""Omnidesk's calibration window: a full-screen picture on each monitor that reports where clicks land.

``omnidesk calibrate`` covers every monitor it checks with one of these windows (so its clicks land on
Omnidesk, never on the person's applications), clicks known targets through the real input device and
compares them with what the window received — in device pixels of the X virtual desktop, the unit the input
device and the screen grabs use. The same picture, with its numbered targets, is what the model is shown when
``--model`` measures where the model points (:meth:`CalibrationDisplay.picture`).

Qt works in logical pixels (under ``QT_SCALE_FACTOR``, or a HiDPI screen's ratio); Qt 6 keeps each screen's
logical origin at its native origin and scales only the offset from it, which :func:`to_device` undoes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QGuiApplication, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QScreen
from PyQt6.QtWidgets import QApplication, QWidget

from omnidesk.agent.errors import InputError
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import InputDevice

__all__ = ["CalibrationDisplay", "CalibrationWindow", "Target", "targets_for", "to_device"]

log = logging.getLogger(__name__)

_BACKGROUND = QColor(28, 31, 38)
_GRID = QColor(52, 57, 68)
_TARGET = QColor(230, 40, 40)
_LABEL = QColor(240, 240, 240)


@dataclass(frozen=True, slots=True)
class Target:
    """A numbered target at a point of the virtual desktop (device pixels)."""

    number: int
    x: int
    y: int


def targets_for(monitor: MonitorInfo, first: int = 1) -> list[Target]:
    """Five targets on a monitor: its centre and near its four corners (10% in from each edge)."""
    g = monitor.geometry
    spots = [(0.5, 0.5), (0.1, 0.1), (0.9, 0.1), (0.1, 0.9), (0.9, 0.9)]
    return [Target(first + i, g.x + int(g.width * fx), g.y + int(g.height * fy)) for i, (fx, fy) in enumerate(spots)]


def to_device(point: QPointF, screen: QScreen) -> tuple[float, float]:
    """A logical global point as device pixels of the virtual desktop."""
    origin, dpr = screen.geometry().topLeft(), screen.devicePixelRatio()
    return origin.x() + (point.x() - origin.x()) * dpr, origin.y() + (point.y() - origin.y()) * dpr


def _device_rect(screen: QScreen) -> Rect:
    g, dpr = screen.geometry(), screen.devicePixelRatio()
    return Rect(g.x(), g.y(), round(g.width() * dpr), round(g.height() * dpr))


class CalibrationWindow(QWidget):
    """A frameless full-screen window on one monitor: a grid, numbered targets, and a report per click."""

    clicked = pyqtSignal(float, float, str)  # device pixels of the virtual desktop, and the button

    def __init__(self, screen: QScreen, monitor: MonitorInfo, targets: Sequence[Target]) -> None:
        super().__init__(
            None,
            Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint | Qt.WindowType.Tool,
        )
        self.setWindowTitle("Omnidesk calibration")
        self.setObjectName("omnidesk-calibration")
        self._screen = screen
        self.monitor = monitor
        self.shown: int | None = None  # paint only this target (the picture a model is shown), else all
        self.targets = list(targets)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setGeometry(screen.geometry())

    def device_to_local(self, x: float, y: float) -> QPointF:
        """A desktop point (device pixels) in this window's logical coordinates."""
        g, dpr = self._screen.geometry(), self._screen.devicePixelRatio()
        return QPointF((x - g.x()) / dpr, (y - g.y()) / dpr)

    def paintEvent(self, event: QPaintEvent | None) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.fillRect(self.rect(), _BACKGROUND)
            painter.setPen(QPen(_GRID, 1))
            dpr = self._screen.devicePixelRatio()
            step = 100 / dpr  # a grid line every 100 device pixels
            x = step
            while x < self.width():
                painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
                x += step
            y = step
            while y < self.height():
                painter.drawLine(QPointF(0, y), QPointF(self.width(), y))
                y += step
            radius = self._radius()
            font = QFont()
            font.setPixelSize(int(radius * 1.2))
            font.setBold(True)
            painter.setFont(font)
            for target in self.targets:
                if self.shown is not None and target.number != self.shown:
                    continue
                centre = self.device_to_local(target.x, target.y)
                painter.setPen(QPen(_TARGET, max(2.0, radius / 5)))
                painter.drawEllipse(centre, radius, radius)
                painter.drawEllipse(centre, radius / 3, radius / 3)
                painter.setPen(_LABEL)
                label = QRectF(centre.x() + radius * 1.2, centre.y() - radius, radius * 3, radius * 2)
                painter.drawText(label, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, str(target.number))
        finally:
            painter.end()

    def _radius(self) -> float:
        return max(12.0, min(self.width(), self.height()) / 40)

    @property
    def target_radius_px(self) -> float:
        """A target's outer radius in device pixels."""
        return self._radius() * self._screen.devicePixelRatio()

    def mousePressEvent(self, event: QMouseEvent | None) -> None:  # noqa: N802 - Qt override
        if event is None:
            return
        x, y = to_device(event.globalPosition(), self._screen)
        self.clicked.emit(x, y, event.button().name)

    def picture(self, only: int | None = None) -> npt.NDArray[np.uint8]:
        """What the window shows (with ``only``: that target alone), as ``H×W×3`` RGB in device pixels."""
        self.shown = only
        try:
            image = self.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
        finally:
            self.shown = None
        width, height = image.width(), image.height()
        data = image.constBits()
        if data is None:
            raise InputError("the calibration window could not be rendered")
        data.setsize(image.sizeInBytes())
        rows = np.frombuffer(data.asstring(), np.uint8).reshape(height, image.bytesPerLine())
        return np.ascontiguousarray(rows[:, : width * 3].reshape(height, width, 3))


def _exposed(widget: QWidget) -> bool:
    handle = widget.windowHandle()
    return handle is not None and handle.isExposed()


class CalibrationDisplay:
    """Calibration windows over the given monitors, and clicks through the input device checked against them.

    Use as a context manager; it creates the ``QApplication`` if there is none (``omnidesk calibrate`` is a
    command-line program) and closes its windows on exit.
    """

    def __init__(self, monitors: Sequence[MonitorInfo]) -> None:
        self._monitors = list(monitors)
        self._app: QApplication | None = None
        self.windows: list[CalibrationWindow] = []
        self._reports: list[tuple[float, float, str]] = []

    def __enter__(self) -> CalibrationDisplay:
        existing = QApplication.instance()
        self._app = existing if isinstance(existing, QApplication) else QApplication(["omnidesk-calibrate"])
        screens = {(_device_rect(s).x, _device_rect(s).y): s for s in QGuiApplication.screens()}
        first = 1
        for monitor in self._monitors:
            screen = screens.get((monitor.geometry.x, monitor.geometry.y))
            if screen is None or _device_rect(screen) != monitor.geometry:
                raise InputError(
                    f"Qt sees no screen at monitor {monitor.index} ({monitor.name}, {monitor.geometry}); "
                    "the display's layout changed while calibrating — run it again"
                )
            window = CalibrationWindow(screen, monitor, targets_for(monitor, first))
            first += len(window.targets)
            window.clicked.connect(self._report)
            window.showFullScreen()
            self.windows.append(window)
        self._wait(lambda: all(_exposed(w) for w in self.windows))
        for window in self.windows:
            window.raise_()
            window.activateWindow()
            window.repaint()
        QGuiApplication.sync()
        return self

    def __exit__(self, *exc: object) -> None:
        for window in self.windows:
            window.close()
            window.deleteLater()
        self.windows.clear()
        if self._app is not None:
            self._app.processEvents()

    def _report(self, x: float, y: float, button: str) -> None:
        self._reports.append((x, y, button))

    def _wait(self, done: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Run Qt's event loop until ``done()`` holds (or ``timeout`` s); whether it did."""
        assert self._app is not None
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                return False
            self._app.processEvents()
            QGuiApplication.sync()
        return True

    def click(self, device: InputDevice, x: int, y: int, *, timeout: float = 3.0) -> tuple[float, float] | None:
        """Click ``(x, y)`` through ``device``; where the window received it (``None``: it never arrived)."""
        self._reports.clear()
        device.click(x, y)
        if not self._wait(lambda: bool(self._reports), timeout):
            return None
        rx, ry, _ = self._reports[0]
        return rx, ry

    def window(self, monitor: MonitorInfo) -> CalibrationWindow:
        """The window on ``monitor``."""
        for window in self.windows:
            if window.monitor.index == monitor.index:
                return window
        raise InputError(f"no calibration window on monitor {monitor.index}")

    def picture(self, monitor: MonitorInfo, only: int | None = None) -> npt.NDArray[np.uint8]:
        """What the window on ``monitor`` shows (with ``only``: that target alone; RGB, device pixels)."""
        return self.window(monitor).picture(only)
