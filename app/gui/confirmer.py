"""The :class:`Confirmer` port, answered by the person through the GUI.

The agent calls ``confirm``/``ask`` on its worker thread. The call emits a signal (a queued connection
to the GUI thread, where the confirmation bar shows the question) and then blocks *the worker* until the
GUI thread calls ``reply_confirmation``/``reply_question`` or the run is cancelled. The GUI thread never
blocks; calling ``confirm``/``ask`` on it is a programming error and raises at once instead of
deadlocking.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import threading
from collections.abc import Callable

from PyQt6.QtCore import QCoreApplication, QObject, QThread, pyqtSignal

from omnidesk.agent.ports import CancelToken, ConfirmationRequest

__all__ = ["QtConfirmer"]

log = logging.getLogger(__name__)

_CANCELLED = object()


class QtConfirmer(QObject):
    """Implements ``Confirmer`` by asking the GUI; one question at a time.

    Signals:
        confirmation_requested(object): a :class:`ConfirmationRequest` waits for yes/no.
        question_asked(str): the model asks the person something; waits for text or None.
        settled(): the pending question was answered or withdrawn (the bar can hide).
    """

    confirmation_requested = pyqtSignal(object)
    question_asked = pyqtSignal(str)
    settled = pyqtSignal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._pending: tuple[int, queue.Queue[object]] | None = None
        self._ids = itertools.count(1)
        self._cancel: CancelToken | None = None

    def bind(self, cancel: CancelToken) -> None:
        """Tie questions to a run: cancelling it withdraws the pending question (answer: no / None)."""
        self._cancel = cancel

    @property
    def pending(self) -> bool:
        with self._lock:
            return self._pending is not None

    # --- Confirmer port (worker thread) -------------------------------------------------------------

    def confirm(self, request: ConfirmationRequest) -> bool:
        answer = self._wait(lambda: self.confirmation_requested.emit(request))
        return answer is True

    def ask(self, question: str) -> str | None:
        answer = self._wait(lambda: self.question_asked.emit(question))
        return answer if isinstance(answer, str) else None

    # --- replies (GUI thread) ----------------------------------------------------------------------

    def reply_confirmation(self, allowed: bool) -> None:
        self._reply(bool(allowed))

    def reply_question(self, answer: str | None) -> None:
        self._reply(answer)

    def withdraw(self) -> None:
        """Answer the pending question with no / None (the run is stopping, the window closing)."""
        self._reply(_CANCELLED)

    # --- internals ---------------------------------------------------------------------------------

    def _wait(self, announce: Callable[[], None]) -> object:
        app = QCoreApplication.instance()
        if app is not None and QThread.currentThread() is app.thread():
            raise RuntimeError("QtConfirmer must be called from a worker thread, never the GUI thread")
        cancel = self._cancel
        if cancel is not None and cancel.cancelled:
            return _CANCELLED
        replies: queue.Queue[object] = queue.Queue(maxsize=1)
        with self._lock:
            if self._pending is not None:
                raise RuntimeError("a confirmation is already pending; the agent asks one at a time")
            self._pending = (next(self._ids), replies)
        if cancel is not None:
            cancel.on_cancel(lambda: _offer(replies, _CANCELLED))
        try:
            announce()
            answer = replies.get()
        finally:
            with self._lock:
                self._pending = None
            self.settled.emit()
        log.info("confirmation answered (%s)", "withdrawn" if answer is _CANCELLED else "by the person")
        return answer

    def _reply(self, answer: object) -> None:
        with self._lock:
            pending = self._pending
        if pending is None:
            log.debug("reply with no pending question ignored")
            return
        _offer(pending[1], answer)


def _offer(replies: queue.Queue[object], answer: object) -> None:
    """Put the first answer only; later ones (a cancel after a click) are dropped."""
    with contextlib.suppress(queue.Full):
        replies.put_nowait(answer)
