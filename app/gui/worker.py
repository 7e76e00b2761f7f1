"""Run a generator on a worker thread and report what it yields through Qt signals.

The shape is superqt's ``GeneratorWorker`` (``utils/_qthreading.py``), written out because it is small:
the worker lives on its own ``QThread``, emits ``yielded`` for every item, ``errored`` if the generator
raises, and ``finished`` exactly once at the end, whatever happened. ``abort`` is thread-safe: it cancels
the run's :class:`CancelToken`, which reaches into a generation in progress (the model checks it between
tokens) and ends the loop at the next yield. ``pause`` holds the generator between yields.

Only the worker thread touches the generator; the GUI thread only calls ``abort``/``pause``/``resume``
and receives signals (queued connections), so it never runs inference, capture, audio or input.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

from PyQt6.QtCore import QObject, Qt, QThread, pyqtSignal, pyqtSlot

from omnidesk.agent.ports import CancelToken

__all__ = ["GeneratorWorker", "start_worker"]

log = logging.getLogger(__name__)


class GeneratorWorker(QObject):
    """Runs ``func(cancel)`` — a generator function — to its end on the thread it is moved to.

    Signals:
        started(): the generator is about to be created.
        yielded(object): one item the generator yielded.
        errored(object): the exception the generator raised (the worker then finishes).
        paused() / resumed(): the worker is holding / no longer holding between yields.
        finished(): always last, once.
    """

    started = pyqtSignal()
    yielded = pyqtSignal(object)
    errored = pyqtSignal(object)
    paused = pyqtSignal()
    resumed = pyqtSignal()
    finished = pyqtSignal()

    def __init__(self, func: Callable[[CancelToken], Iterator[object]], cancel: CancelToken | None = None):
        super().__init__()
        self._func = func
        self.cancel = cancel or CancelToken()
        self._running = threading.Event()
        self._running.set()
        # A stop must wake a paused worker.
        self.cancel.on_cancel(self._running.set)

    # --- called from any thread ---------------------------------------------------------------------

    def abort(self) -> None:
        """Ask the generator to stop: cancels the token (reaching into a generation) and ends at a yield."""
        self.cancel.cancel()

    def pause(self) -> None:
        """Hold the generator at its next yield until :meth:`resume` or :meth:`abort`."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def is_paused(self) -> bool:
        return not self._running.is_set()

    # --- runs on the worker thread ------------------------------------------------------------------

    @pyqtSlot()
    def work(self) -> None:
        """Drive the generator; never raises (errors go out through ``errored``)."""
        self.started.emit()
        generator: Iterator[object] | None = None
        try:
            generator = self._func(self.cancel)
            for item in generator:
                self.yielded.emit(item)
                if not self._hold():
                    break
        except Exception as exc:  # noqa: BLE001 - every error is reported through `errored`
            log.debug("worker generator raised %s", type(exc).__name__)
            self.errored.emit(exc)
        finally:
            self._close(generator)
            self.finished.emit()

    def _hold(self) -> bool:
        """Wait while paused; False when the run was aborted."""
        if self.cancel.cancelled:
            return False
        if not self._running.is_set():
            self.paused.emit()
            self._running.wait()
            if not self.cancel.cancelled:
                self.resumed.emit()
        return not self.cancel.cancelled

    def _close(self, generator: Iterator[object] | None) -> None:
        close = getattr(generator, "close", None)
        if close is None:
            return
        try:
            close()  # runs the generator's `finally` blocks here, on the worker thread
        except Exception as exc:  # noqa: BLE001
            log.warning("closing the run generator failed: %s", exc)
            self.errored.emit(exc)


def start_worker(worker: GeneratorWorker, on_finished: Callable[[], None]) -> QThread:
    """Move ``worker`` to a new ``QThread``, start it, and tear both down when the worker finishes.

    The thread quits itself when the worker's ``finished`` signal arrives; ``on_finished`` is connected to
    the thread's ``finished`` *before* it starts (a fast generator could otherwise end unseen). The caller
    owns both: keep references until ``on_finished``, then ``thread.wait()`` and drop them.
    """
    thread = QThread()
    thread.setObjectName("omnidesk-run")
    worker.moveToThread(thread)
    thread.started.connect(worker.work)
    thread.finished.connect(on_finished)
    # Direct: QThread.quit is thread-safe, and a queued quit would wait for the GUI thread's loop.
    worker.finished.connect(thread.quit, type=Qt.ConnectionType.DirectConnection)  # type: ignore[call-arg]
    thread.start()
    return thread
