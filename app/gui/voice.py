"""Push-to-talk: hold the mic button to record a spoken task on a worker thread (never the GUI thread)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from PyQt6.QtCore import QObject, QThread, pyqtSignal

from omnidesk.agent.errors import OmnideskError
from omnidesk.agent.ports import AudioClip, CancelToken, Microphone
from omnidesk.app.gui.worker import GeneratorWorker, start_worker

__all__ = ["VoiceRecorder"]

log = logging.getLogger(__name__)

_LEVEL_INTERVAL = 0.05


class VoiceRecorder(QObject):
    """Records while the button is held; the microphone is only touched on the worker thread.

    Signals:
        level(float): input level 0..1 while recording (for a meter).
        recorded(object): the :class:`AudioClip` once the button is released.
        failed(str): why nothing could be recorded (no microphone…), for the person.
        stopped(): the recording thread has ended.
    """

    level = pyqtSignal(float)
    recorded = pyqtSignal(object)
    failed = pyqtSignal(str)
    stopped = pyqtSignal()

    def __init__(self, microphone: Microphone, max_seconds: float, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._microphone = microphone
        self._max_seconds = max_seconds
        self._released = threading.Event()
        self._worker: GeneratorWorker | None = None
        self._thread: QThread | None = None

    @property
    def recording(self) -> bool:
        return self._thread is not None

    def press(self) -> None:
        if self._thread is not None:
            return
        self._released = threading.Event()
        worker = GeneratorWorker(lambda cancel: self._record(cancel, self._released))
        worker.yielded.connect(self._on_yielded)
        worker.errored.connect(self._on_errored)
        self._worker = worker
        self._thread = start_worker(worker, self._on_finished)

    def release(self) -> None:
        self._released.set()

    def abort(self) -> None:
        """Drop the recording (window closing)."""
        if self._worker is not None:
            self._worker.abort()

    def _record(self, cancel: CancelToken, released: threading.Event) -> Iterator[float | AudioClip]:
        mic = self._microphone
        mic.start_push_to_talk()
        clip: AudioClip | None = None
        waited = 0.0
        try:
            while not released.wait(_LEVEL_INTERVAL) and not cancel.cancelled:
                waited += _LEVEL_INTERVAL
                if waited >= self._max_seconds:
                    log.info("push-to-talk stopped at the %.0f s limit", self._max_seconds)
                    break
                yield mic.level()
        finally:
            clip = mic.stop_push_to_talk()
        if not cancel.cancelled:
            yield clip

    def _on_yielded(self, item: object) -> None:
        if isinstance(item, AudioClip):
            self.recorded.emit(item)
        elif isinstance(item, float):
            self.level.emit(item)

    def _on_errored(self, exc: object) -> None:
        if isinstance(exc, OmnideskError):
            self.failed.emit(str(exc))
        else:
            log.error("recording failed: %r", exc)
            self.failed.emit(f"recording failed: {exc}")

    def _on_finished(self) -> None:
        if self._thread is not None:
            self._thread.wait()
        self._thread = self._worker = None
        self.stopped.emit()
