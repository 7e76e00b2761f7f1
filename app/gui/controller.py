"""Starts, pauses and stops agent runs on a worker thread; the GUI's one way to run the agent.

The agent is reached through a :data:`Runner` — ``runner(request, cancel) -> Iterator[Step]`` — that the
composition root builds (``Agent.run`` with settings for dry run and monitor); tests pass a scripted
generator. The controller owns the worker thread and its :class:`CancelToken`, binds the confirmer to the
run, and turns the worker's signals into run-level ones.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from PyQt6.QtCore import QObject, QThread, pyqtSignal

from omnidesk.agent.ports import AudioClip, CancelToken, MonitorInfo, Step
from omnidesk.app.gui.confirmer import QtConfirmer
from omnidesk.app.gui.worker import GeneratorWorker, start_worker

__all__ = ["RunController", "RunRequest", "Runner"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What the person asked for: the task, and how to run it.

    ``voice`` is a push-to-talk recording of the instruction: the agent sends it to the model as an
    ``AudioPart`` next to ``task`` (the typed text, or a placeholder when nothing was typed).
    ``replay`` is a recorded run's bundle to do again without the model (a saved replay automation);
    ``fallback`` is a taught one's task description, for the model to carry on from when a target is gone.
    """

    task: str
    dry_run: bool = False
    monitor: MonitorInfo | None = None
    voice: AudioClip | None = None
    replay: Path | None = None
    fallback: str = ""


Runner = Callable[[RunRequest, CancelToken], Iterator[Step]]
"""``Agent.run`` adapted by the composition root: yields one :class:`Step` per step until the run ends."""


class RunController(QObject):
    """One run at a time on a worker thread.

    Signals:
        run_started(object): the :class:`RunRequest` now running.
        stepped(object): a :class:`Step` the agent yielded.
        errored(object): the exception that ended the run (a bug or an unrecoverable error).
        pause_changed(bool): the run is now paused (True) or running (False).
        run_finished(str): the thread has stopped; outcome ``finished``, ``stopped`` or ``error``.
    """

    run_started = pyqtSignal(object)
    stepped = pyqtSignal(object)
    errored = pyqtSignal(object)
    pause_changed = pyqtSignal(bool)
    run_finished = pyqtSignal(str)

    def __init__(self, runner: Runner | None, confirmer: QtConfirmer, parent: QObject | None = None):
        super().__init__(parent)
        self._runner = runner
        self._confirmer = confirmer
        self._worker: GeneratorWorker | None = None
        self._thread: QThread | None = None
        self._failed = False
        self._stop_requested_at: float | None = None
        self.last_stop_latency: float | None = None

    @property
    def available(self) -> bool:
        return self._runner is not None

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def paused(self) -> bool:
        return self._worker is not None and self._worker.is_paused

    def start(self, request: RunRequest) -> bool:
        """Start a run; False if one is already running or there is no agent."""
        runner = self._runner
        if runner is None or self.running:
            return False
        cancel = CancelToken()
        self._confirmer.bind(cancel)
        worker = GeneratorWorker(lambda token: runner(request, token), cancel)
        worker.yielded.connect(self.stepped)
        worker.errored.connect(self._on_errored)
        self._worker, self._failed, self._stop_requested_at = worker, False, None
        self._thread = start_worker(worker, self._on_thread_finished)
        log.info("run started (dry run: %s)", request.dry_run)
        self.run_started.emit(request)
        return True

    def stop(self) -> None:
        """Cancel the run (reaches into a generation); ``run_finished`` follows once the thread ends."""
        if self._worker is None or self._worker.cancel.cancelled:
            return
        self._stop_requested_at = time.monotonic()
        self._worker.abort()
        self._confirmer.withdraw()

    def set_paused(self, paused: bool) -> None:
        """Hold the run between steps, or let it go on."""
        worker = self._worker
        if worker is None or worker.cancel.cancelled or worker.is_paused == paused:
            return
        if paused:
            worker.pause()
        else:
            worker.resume()
        self.pause_changed.emit(paused)

    def wait(self, timeout_ms: int) -> bool:
        """Block until the worker thread ends (only for shutdown); True if it has."""
        return self._thread is None or self._thread.wait(timeout_ms)

    def _on_errored(self, exc: object) -> None:
        self._failed = True
        self.errored.emit(exc)

    def _on_thread_finished(self) -> None:
        thread, worker = self._thread, self._worker
        if thread is not None:
            thread.wait()
        stopped = worker is not None and worker.cancel.cancelled
        self._thread = self._worker = None
        if self._stop_requested_at is not None:
            self.last_stop_latency = time.monotonic() - self._stop_requested_at
            log.info("run stopped %.3f s after the stop request", self.last_stop_latency)
        outcome = "error" if self._failed else "stopped" if stopped else "finished"
        self.run_finished.emit(outcome)
