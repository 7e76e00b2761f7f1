"""The system tray icon: status in the tooltip; Show / Automations / Pause / Stop / Quit in its menu."""

from __future__ import annotations

import functools

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
    automation_requested(str): the saved automation with this name was chosen in the Automations menu.
    """

    show_requested = pyqtSignal()
    pause_toggled = pyqtSignal(bool)
    stop_requested = pyqtSignal()
    quit_requested = pyqtSignal()
    automation_requested = pyqtSignal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(app_icon(), parent)
        self._menu = QMenu()
        self.show_action = QAction("Show Omnidesk", self._menu)
        self.pause_action = QAction("Pause", self._menu)
        self.pause_action.setCheckable(True)
        self.stop_action = QAction("Stop", self._menu)
        self.quit_action = QAction("Quit", self._menu)
        self.automations_menu = QMenu("Automations", self._menu)
        self._menu.addAction(self.show_action)
        self._menu.addMenu(self.automations_menu)
        for action in (self.pause_action, self.stop_action):
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
        self.set_automations([])

    def set_automations(self, names: list[str]) -> None:
        """List the saved automations in the Automations sub-menu (one action each)."""
        self.automations_menu.clear()
        for name in names:
            action = self.automations_menu.addAction(name)
            assert action is not None
            action.triggered.connect(functools.partial(self._on_automation, name))
        if not names:
            empty = self.automations_menu.addAction("(none saved — see the Automations tab)")
            assert empty is not None
            empty.setEnabled(False)

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

    def _on_automation(self, name: str, _checked: bool = False) -> None:
        self.automation_requested.emit(name)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.show_requested.emit()
