"""The voice bar: what the model understood from a spoken command, with a countdown to cancel it.

A safe command counts down (``gui.voice_countdown_seconds``) and then asks to start; a risky one (it
matches the safety policy's confirmation patterns) waits for the person to allow it instead.
"""

from __future__ import annotations

import math
import time
from html import escape

from PyQt6.QtCore import QTimer, pyqtSignal
from PyQt6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

__all__ = ["VoiceBar"]

_TICK_MS = 100


class VoiceBar(QFrame):
    """Hidden until a spoken command is understood.

    Signals:
        go(str): start a run with this task (the countdown ended, or the person chose Run).
        cancelled(): the person cancelled the spoken command.
    """

    go = pyqtSignal(str)
    cancelled = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("voice_bar")
        self._task = ""
        self._deadline: float | None = None
        self.message = QLabel(self)
        self.message.setObjectName("voice_understood")
        self.message.setWordWrap(True)
        self.countdown = QLabel(self)
        self.countdown.setObjectName("voice_countdown")
        self.run_button = QPushButton("Run now", self)
        self.run_button.setObjectName("voice_run")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("voice_cancel")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.addWidget(self.message, 1)
        layout.addWidget(self.countdown)
        layout.addWidget(self.run_button)
        layout.addWidget(self.cancel_button)
        self._timer = QTimer(self)
        self._timer.setInterval(_TICK_MS)
        self._timer.timeout.connect(self._tick)
        self.run_button.clicked.connect(self._on_run)
        self.cancel_button.clicked.connect(self._on_cancel)
        self.hide()

    @property
    def task(self) -> str:
        """The understood command on show (empty when hidden)."""
        return self._task

    @property
    def counting(self) -> bool:
        return self._deadline is not None

    def offer(self, task: str, seconds: float) -> None:
        """Show the command and start it after ``seconds`` unless cancelled (0: at once)."""
        if seconds <= 0:
            self.go.emit(task)
            return
        self._task = task
        self._deadline = time.monotonic() + seconds
        self.message.setText(f"<b>Understood:</b> {escape(task)}")
        self.run_button.setText("Run now")
        self._tick()
        self._timer.start()
        self.show()
        self.cancel_button.setFocus()

    def ask(self, task: str, reason: str) -> None:
        """Show a risky command: it starts only if the person chooses Run."""
        self._timer.stop()
        self._task, self._deadline = task, None
        self.message.setText(
            f"<b>Understood:</b> {escape(task)}<br>This looks risky ({escape(reason)}). Run it anyway?"
        )
        self.countdown.setText("")
        self.run_button.setText("Run it")
        self.show()
        self.cancel_button.setFocus()

    def dismiss(self) -> None:
        self._timer.stop()
        self._task, self._deadline = "", None
        self.hide()

    def _tick(self) -> None:
        if self._deadline is None:
            return
        left = self._deadline - time.monotonic()
        if left <= 0:
            self._on_run()
            return
        self.countdown.setText(f"starting in {math.ceil(left)} s")

    def _on_run(self) -> None:
        task = self._task
        self.dismiss()
        if task:
            self.go.emit(task)

    def _on_cancel(self) -> None:
        self.dismiss()
        self.cancelled.emit()
