"""Loading the model on a worker — at start, after the first-run setup, after a settings change — and
what state it is in, so the window can say why Run waits.

The loading itself is the status source (``GuiAgentRunner.load``): a generator run on a worker that yields
:class:`ModelStatus` lines. A load asked for while one runs is done once that one ends (the newest settings
win); the window defers a reload while a run uses the model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from PyQt6.QtCore import QObject, QThread, pyqtSignal

from omnidesk.agent.ports import CancelToken
from omnidesk.app.gui.confirmer import QtConfirmer
from omnidesk.app.gui.worker import GeneratorWorker, start_worker

__all__ = ["ModelLoader", "ModelState", "ModelStatus", "StatusSource"]

log = logging.getLogger(__name__)

ModelState = Literal["missing", "loading", "ready", "failed"]
_WAITING = {
    "missing": "No model yet — choose a download or an engine on the left",
    "loading": "Run waits for the model to load",
    "failed": "The model failed to load — choose another on the left or fix it in Settings",
}


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """One line for the status bar, and the state it puts the model in."""

    state: ModelState
    text: str


StatusSource = Callable[[CancelToken], Iterator[ModelStatus | str]]
"""Runs on a worker (e.g. loads the model) and yields status lines; a plain ``str`` means still loading."""


class ModelLoader(QObject):
    """Runs the status source on a worker whenever a load is asked for.

    Without a source the model counts as ready (the runner brings its own).

    Signals:
        status(object): the :class:`ModelStatus` now (loading lines, ready, missing, failed).
        errored(object): the exception that ended a load.
        idle(): no load runs any more (closing waits for this).
    """

    status = pyqtSignal(object)
    errored = pyqtSignal(object)
    idle = pyqtSignal()

    def __init__(self, source: StatusSource | None, confirmer: QtConfirmer, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._source = source
        self._confirmer = confirmer
        self._worker: GeneratorWorker | None = None
        self._thread: QThread | None = None
        self._again = False
        self.current = ModelStatus("ready", "—") if source is None else ModelStatus("missing", "not loaded yet")

    @property
    def state(self) -> ModelState:
        return self.current.state

    @property
    def busy(self) -> bool:
        return self._thread is not None

    def waiting_reason(self) -> str | None:
        """Why a task that needs the model cannot run now (None: the model is ready)."""
        return _WAITING.get(self.current.state)

    def load(self) -> None:
        """Load (again) on a worker; while a load runs, load once more after it."""
        if self._source is None:
            return
        if self._thread is not None:
            self._again = True
            return
        source = self._source
        worker = GeneratorWorker(source)
        worker.yielded.connect(self._on_yielded)
        worker.errored.connect(self._on_errored)
        self._confirmer.bind(worker.cancel)  # a consent question while loading belongs to this load
        self._worker = worker
        self._set(ModelStatus("loading", "loading…"))
        self._thread = start_worker(worker, self._on_finished)

    def abort(self) -> None:
        """Give up the load in progress (closing the window); no reload follows."""
        self._again = False
        if self._worker is not None:
            self._worker.abort()
            self._confirmer.withdraw()

    def _set(self, status: ModelStatus) -> None:
        self.current = status
        self.status.emit(status)

    def _on_yielded(self, item: object) -> None:
        self._set(item if isinstance(item, ModelStatus) else ModelStatus("loading", str(item)))

    def _on_errored(self, exc: object) -> None:
        self._set(ModelStatus("failed", f"failed to load: {exc}"))
        self.errored.emit(exc)

    def _on_finished(self) -> None:
        if self._thread is not None:
            self._thread.wait()
        self._thread = self._worker = None
        if self.current.state == "loading":  # a source that only yields lines: done means ready
            self._set(ModelStatus("ready", self.current.text))
        if self._again:
            self._again = False
            self.load()
            return
        self.idle.emit()
