"""Spoken commands: the recording goes as audio, with the screen, straight to the omni model.

The model restates the command (no separate speech-to-text); :class:`VoiceCommands` asks it on a worker
thread and reports what it understood. A restatement that matches the safety policy's confirmation
patterns (the same matcher the agent uses for typed text) is flagged risky. When the agent is waiting
for an answer (a confirmation or a question), the spoken reply answers it instead.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Protocol

from PyQt6.QtCore import QObject, QThread, pyqtSignal

from omnidesk.agent.actions import TypeText
from omnidesk.agent.errors import OmnideskError
from omnidesk.agent.geometry import MonitorInfo
from omnidesk.agent.ports import AudioClip, CancelToken
from omnidesk.agent.safety import SafetyPolicy
from omnidesk.app.gui.worker import GeneratorWorker, start_worker

__all__ = ["Understood", "VoiceCommands", "VoiceInterpreter", "yes_or_no"]

log = logging.getLogger(__name__)

_YES = {"yes", "yeah", "yep", "sure", "ok", "okay", "allow", "go", "confirm", "oui", "ja", "si", "sí"}
_NO = {"no", "nope", "don't", "dont", "deny", "stop", "cancel", "non", "nein"}


class VoiceInterpreter(Protocol):
    """The model behind spoken commands (``GuiAgentRunner`` implements it)."""

    def understand(
        self, clip: AudioClip, monitor: MonitorInfo | None, cancel: CancelToken, *, question: str | None = None
    ) -> str | None:
        """The model's restatement of the spoken command (or of the answer to ``question``); None if cancelled.

        Runs on a worker thread. Raises ``ModelCapabilityError`` when the model cannot hear.
        """
        ...

    def hearing_problem(self) -> str | None:
        """Why spoken commands cannot work with the loaded model (and how to fix it), or None."""
        ...


class Understood:
    """What the model made of a recording: a command (``risky`` with a reason) or an answer."""

    __slots__ = ("answer_to", "reason", "risky", "text")

    def __init__(self, text: str, *, answer_to: str = "", risky: bool = False, reason: str = "") -> None:
        self.text, self.answer_to, self.risky, self.reason = text, answer_to, risky, reason


def yes_or_no(text: str) -> bool | None:
    """True / False for a spoken yes / no (its first word), None when it is neither."""
    words = re.findall(r"[\w']+", text.lower())
    if not words:
        return None
    if words[0] in _YES:
        return True
    if words[0] in _NO:
        return False
    return None


class VoiceCommands(QObject):
    """Sends recordings to the interpreter on a worker thread, one at a time.

    Signals:
        command_understood(object): an :class:`Understood` command, to offer with a countdown (or to confirm).
        confirmation_answered(bool): the spoken reply to a pending yes/no confirmation.
        question_answered(str): the spoken reply to a pending question of the agent.
        status(str): a line for the status bar (listening, not understood, failures).
        stopped(): the interpreting thread has ended.
    """

    command_understood = pyqtSignal(object)
    confirmation_answered = pyqtSignal(bool)
    question_answered = pyqtSignal(str)
    status = pyqtSignal(str)
    stopped = pyqtSignal()

    def __init__(self, interpreter: VoiceInterpreter, policy: SafetyPolicy, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._interpreter = interpreter
        self._policy = policy
        self._worker: GeneratorWorker | None = None
        self._thread: QThread | None = None

    @property
    def busy(self) -> bool:
        return self._thread is not None

    def set_policy(self, policy: SafetyPolicy) -> None:
        """The safety policy for the next spoken command (settings changed: confirm patterns, deny-list)."""
        self._policy = policy

    def hearing_problem(self) -> str | None:
        return self._interpreter.hearing_problem()

    def hear(self, clip: AudioClip, monitor: MonitorInfo | None, pending: str = "", question: str = "") -> bool:
        """Interpret ``clip``: a new command, or (``pending`` is ``confirm``/``question``) the reply to ``question``.

        Returns False if a recording is still being interpreted.
        """
        if self._thread is not None:
            return False
        answer_to = pending if pending in ("confirm", "question") else ""
        ask = None
        if answer_to == "confirm":
            ask = f"{question} (The person answers yes or no; write only yes or no.)"
        elif answer_to == "question":
            ask = question
        interpreter = self._interpreter

        def interpret(cancel: CancelToken) -> Iterator[object]:
            text = interpreter.understand(clip, monitor, cancel, question=ask)
            if text is not None:
                yield text

        worker = GeneratorWorker(interpret)
        worker.yielded.connect(lambda text: self._on_text(str(text), answer_to))
        worker.errored.connect(self._on_errored)
        self._worker = worker
        self._thread = start_worker(worker, self._on_finished)
        self.status.emit("Understanding what you said…")
        return True

    def abort(self) -> None:
        if self._worker is not None:
            self._worker.abort()

    def _on_text(self, text: str, answer_to: str) -> None:
        if answer_to == "confirm":
            allowed = yes_or_no(text)
            if allowed is None:
                self.status.emit(f"Heard “{text}” — say yes or no, or use the buttons")
                return
            self.confirmation_answered.emit(allowed)
            return
        if answer_to == "question":
            self.question_answered.emit(text)
            return
        verdict = self._policy.review(TypeText(text=text))
        risky = verdict.decision != "allow"
        log.info("spoken command understood (%d characters, risky: %s)", len(text), risky)
        self.command_understood.emit(Understood(text, risky=risky, reason=verdict.reason))

    def _on_errored(self, exc: object) -> None:
        if isinstance(exc, OmnideskError):
            self.status.emit(str(exc))
        else:
            log.error("understanding the recording failed: %r", exc)
            self.status.emit(f"understanding the recording failed: {exc}")

    def _on_finished(self) -> None:
        if self._thread is not None:
            self._thread.wait()
        self._thread = self._worker = None
        self.stopped.emit()
