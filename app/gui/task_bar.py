"""The task bar: what to do (text or voice), on which monitor, dry run or not, and Run / Pause / Stop."""

from __future__ import annotations

from collections.abc import Sequence

from PyQt6.QtCore import QSize, pyqtSignal
from PyQt6.QtGui import QIcon
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from omnidesk.agent.geometry import MonitorInfo
from omnidesk.app.gui.style import icon_path

__all__ = ["TaskBar"]


def _monitor_text(monitor: MonitorInfo) -> str:
    g = monitor.geometry
    name = monitor.name or f"Monitor {monitor.index}"
    primary = " · primary" if monitor.primary else ""
    return f"{name} — {g.width}×{g.height} at {g.x},{g.y}{primary}"


class TaskBar(QWidget):
    """Signals:
    run_requested(str): the person asked to run this task (Run or Enter).
    pause_toggled(bool): Pause pressed (True) or Resume pressed (False).
    stop_requested(): Stop pressed.
    mic_pressed() / mic_released(): push-to-talk on the mic button.
    settings_requested(): the Settings button.
    """

    run_requested = pyqtSignal(str)
    pause_toggled = pyqtSignal(bool)
    stop_requested = pyqtSignal()
    mic_pressed = pyqtSignal()
    mic_released = pyqtSignal()
    settings_requested = pyqtSignal()

    def __init__(self, monitors: Sequence[MonitorInfo], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("task_bar")
        self._monitors = list(monitors)
        self.task_edit = QLineEdit(self)
        self.task_edit.setObjectName("task_edit")
        self.task_edit.setPlaceholderText("What should Omnidesk do?  e.g. “Open the settings and turn on dark mode”")
        self.task_edit.setClearButtonEnabled(True)
        self.mic_button = QPushButton(QIcon(icon_path("mic.svg")), "", self)
        self.mic_button.setIconSize(QSize(20, 20))
        self.mic_button.setObjectName("mic_button")
        self.mic_button.setToolTip("Hold to speak the task")
        self.mic_button.setFixedSize(QSize(44, 38))
        self.run_button = QPushButton("Run", self)
        self.run_button.setObjectName("run_button")
        self.run_button.setDefault(True)
        self.pause_button = QPushButton("Pause", self)
        self.pause_button.setObjectName("pause_button")
        self.pause_button.setCheckable(True)
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setObjectName("stop_button")
        self.dry_run_box = QCheckBox("Dry run (plan only, do not act)", self)
        self.dry_run_box.setObjectName("dry_run")
        self.settings_button = QPushButton("Settings…", self)
        self.settings_button.setObjectName("settings_button")
        self.monitor_box = QComboBox(self)
        self.monitor_box.setObjectName("monitor_box")
        for monitor in self._monitors:
            self.monitor_box.addItem(_monitor_text(monitor))
        self._layout()
        self.task_edit.returnPressed.connect(self._on_run)
        self.run_button.clicked.connect(self._on_run)
        self.pause_button.toggled.connect(self.pause_toggled)
        self.stop_button.clicked.connect(self.stop_requested)
        self.mic_button.pressed.connect(self.mic_pressed)
        self.mic_button.released.connect(self.mic_released)
        self.settings_button.clicked.connect(self.settings_requested)
        self.set_state("idle")

    def _layout(self) -> None:
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.addWidget(self.task_edit, 0, 0, 1, 3)
        grid.addWidget(self.mic_button, 0, 3)
        grid.addWidget(self.run_button, 0, 4)
        grid.addWidget(self.pause_button, 0, 5)
        grid.addWidget(self.stop_button, 0, 6)
        grid.addWidget(QLabel("Monitor:", self), 1, 0)
        grid.addWidget(self.monitor_box, 1, 1)
        grid.addWidget(self.dry_run_box, 1, 2)
        grid.addWidget(self.settings_button, 1, 5, 1, 2)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(2, 2)

    @property
    def dry_run(self) -> bool:
        return self.dry_run_box.isChecked()

    def selected_monitor(self) -> MonitorInfo | None:
        index = self.monitor_box.currentIndex()
        return self._monitors[index] if 0 <= index < len(self._monitors) else None

    def select_monitor(self, name: str) -> None:
        for i, monitor in enumerate(self._monitors):
            if monitor.name == name:
                self.monitor_box.setCurrentIndex(i)
                return

    def set_mic_available(self, available: bool, why: str = "") -> None:
        self.mic_button.setEnabled(available)
        self.mic_button.setToolTip("Hold to speak the task" if available else why or "No microphone")

    def set_state(self, state: str) -> None:
        """``idle``, ``running``, ``paused`` or ``unavailable`` (no agent to run)."""
        busy = state in ("running", "paused")
        self.run_button.setEnabled(state == "idle")
        self.task_edit.setReadOnly(busy)
        self.monitor_box.setEnabled(not busy)
        self.dry_run_box.setEnabled(not busy)
        self.pause_button.setEnabled(busy)
        self.stop_button.setEnabled(busy)
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(state == "paused")
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.pause_button.blockSignals(False)

    def _on_run(self) -> None:
        task = self.task_edit.text().strip()
        if task and self.run_button.isEnabled():
            self.run_requested.emit(task)
