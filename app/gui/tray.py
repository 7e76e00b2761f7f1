"""The system tray icon: status in the tooltip, and Show / Pause / Stop / Quit in its menu."""

from __future__ import annotations

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtGui import QAction, QIcon
from PyQt6.QtWidgets import QMenu, QSystemTrayIcon

from omnidesk.app.gui.style import icon_path

__all__ = ["TrayIcon", "app_icon"]


def app_icon() -> QIcon:
    """Omnidesk's icon from ``assets/icons``."""
    return QIcon(icon_path("omnidesk.svg"))


class TrayIcon(QSystemTrayIcon):
    """Signals:
    show_requested(): Show chosen, or the icon clicked.
    pause_toggled(bool): Pause (True) / Resume (False) chosen.
    stop_requested(): Stop chosen.
    quit_requested(): Quit chosen.
    """

    show_requested = pyqtSignal()
    pause_toggled = pyqtSignal(bool)
    stop_requested = pyqtSignal()
    quit_requested = pyqtSignal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(app_icon(), parent)
        self._menu = QMenu()
        self.show_action = QAction("Show Omnidesk", self._menu)
        self.pause_action = QAction("Pause", self._menu)
        self.pause_action.setCheckable(True)
        self.stop_action = QAction("Stop", self._menu)
        self.quit_action = QAction("Quit", self._menu)
        for action in (self.show_action, self.pause_action, self.stop_action):
            self._menu.addAction(action)
        self._menu.addSeparator()
        self._menu.addAction(self.quit_action)
        self.setContextMenu(self._menu)
        self.show_action.triggered.connect(self.show_requested)
        self.pause_action.toggled.connect(self.pause_toggled)
        self.stop_action.triggered.connect(self.stop_requested)
        self.quit_action.triggered.connect(self.quit_requested)
        self.activated.connect(self._on_activated)
        self.set_state("idle", "Omnidesk — idle")

    def set_state(self, state: str, status: str) -> None:
        """``idle``, ``running`` or ``paused``, with a one-line status for the tooltip."""
        busy = state in ("running", "paused")
        self.pause_action.setEnabled(busy)
        self.stop_action.setEnabled(busy)
        self.pause_action.blockSignals(True)
        self.pause_action.setChecked(state == "paused")
        self.pause_action.setText("Resume" if state == "paused" else "Pause")
        self.pause_action.blockSignals(False)
        self.setToolTip(status)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.show_requested.emit()
