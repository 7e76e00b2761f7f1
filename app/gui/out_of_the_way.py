"""The window gets out of the agent's way: hidden during a run on its own monitor, back when needed.

The agent sees the desktop, not Omnidesk (whose windows are also masked in every frame); the person gets
the window back when the run ends, pauses, or asks them something, and it goes away again afterwards.
It holds the window weakly: the window owns it, and a reference back would put the window in a cycle that
only Python's garbage collector frees — at any moment, even in the middle of the window's own paint event.
"""

from __future__ import annotations

import weakref

from PyQt6.QtWidgets import QMainWindow, QSystemTrayIcon

from omnidesk.agent.geometry import MonitorInfo

__all__ = ["OutOfTheWay"]


class OutOfTheWay:
    """Hides ``window`` (to the tray when there is one, else minimised) during a run while ``enabled``."""

    def __init__(self, window: QMainWindow, tray: QSystemTrayIcon | None, *, enabled: bool) -> None:
        self._window_ref = weakref.ref(window)
        self._tray = tray
        self.enabled = enabled
        self.hidden_for_run = False

    @property
    def _window(self) -> QMainWindow:
        window = self._window_ref()
        assert window is not None, "the window owns this helper and outlives it"
        return window

    def run_started(self, monitor: MonitorInfo | None) -> None:
        """Hide if the run acts on the monitor the window is on."""
        if not self.enabled or monitor is None or not self._on_monitor(monitor):
            return
        self.hidden_for_run = True
        self.hide_again()

    def hide_again(self) -> None:
        """Hide once more after showing for a question or a pause (only during a run that hid it)."""
        if not self.hidden_for_run:
            return
        if self._tray is not None and self._tray.isVisible():
            self._window.hide()
        else:
            self._window.showMinimized()

    def come_back(self, keep_hidden_flag: bool = False) -> None:
        """Show the window (tray Show, run end, a question that needs the person)."""
        window = self._window
        if not keep_hidden_flag:
            self.hidden_for_run = False
        if window.isHidden() or window.isMinimized():
            window.showNormal()
        window.raise_()
        window.activateWindow()

    def _on_monitor(self, monitor: MonitorInfo) -> bool:
        ratio = self._window.devicePixelRatioF()
        center = self._window.frameGeometry().center()
        return monitor.geometry.contains(center.x() * ratio, center.y() * ratio)
