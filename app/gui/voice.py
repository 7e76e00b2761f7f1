"""Push-to-talk: hold the mic button to record a spoken task on a worker thread (never the GUI thread)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from PyQt6.QtCore import QObject, QThread, pyqtSignal

from omnidesk.agent.errors import OmnideskError
from omnidesk.agent.ports import AudioClip, CancelToken, Microphone
from omnidesk.app.gui.worker import GeneratorWorker, start_worker

if TYPE_CHECKING:
    from omnidesk.runtime.config import AudioConfig

__all__ = ["TASK", "VoiceRecorder"]

log = logging.getLogger(__name__)

_LEVEL_INTERVAL = 0.05
TASK = "task"
"""The purpose of a push-to-talk recording that is a spoken task."""


class VoiceRecorder(QObject):
    """Records while the button is held; the microphone is only touched on the worker thread.

    With ``reopen`` (how a microphone is built from audio settings), :meth:`reconfigure` puts changed audio
    settings in force without a restart: a new microphone for the next recording, the old one closed —
    after the recording in progress, if there is one.

    A recording has a purpose (:meth:`press`): a spoken task (the default) or a question for someone else
    (History's "Ask by voice", the held what-just-happened hotkey); every clip is ``heard`` with its purpose,
    only a task's is ``recorded`` too.

    Signals:
        level(float): input level 0..1 while recording (for a meter).
        recorded(object): the :class:`AudioClip` of a spoken task once the button is released.
        heard(str, object): the purpose and the :class:`AudioClip`, for every recording.
        failed(str): why nothing could be recorded (no microphone…), for the person.
        stopped(): the recording thread has ended.
    """

    level = pyqtSignal(float)
    recorded = pyqtSignal(object)
    heard = pyqtSignal(str, object)
    failed = pyqtSignal(str)
    stopped = pyqtSignal()

    def __init__(
        self,
        microphone: Microphone,
        max_seconds: float,
        parent: QObject | None = None,
        *,
        reopen: Callable[[AudioConfig], Microphone] | None = None,
    ) -> None:
        super().__init__(parent)
        self._microphone = microphone
        self._max_seconds = max_seconds
        self._reopen = reopen
        self._pending: AudioConfig | None = None
        self._released = threading.Event()
        self._worker: GeneratorWorker | None = None
        self._thread: QThread | None = None
        self._purpose = TASK

    @property
    def recording(self) -> bool:
        return self._thread is not None

    @property
    def purpose(self) -> str:
        """What the recording in progress (or the last one) is for: :data:`TASK` or the caller's word."""
        return self._purpose

    @property
    def microphone(self) -> Microphone:
        """The microphone in use now (the session closes it at the end)."""
        return self._microphone

    def reconfigure(self, audio: AudioConfig) -> bool:
        """Use ``audio`` from the next recording on; False when this recorder cannot (no ``reopen``)."""
        if self._reopen is None:
            return False
        self._pending = audio
        if self._thread is None:
            self._switch()
        return True

    def _switch(self) -> None:
        audio, self._pending = self._pending, None
        if audio is None or self._reopen is None:
            return
        old, self._microphone = self._microphone, self._reopen(audio)
        self._max_seconds = audio.max_utterance_seconds
        close = getattr(old, "close", None)
        if close is not None:
            close()  # no worker holds it: none runs between recordings
        log.info("microphone settings changed: the next recording uses them")

    def press(self, purpose: str = "") -> bool:
        """Start recording (until :meth:`release`) for ``purpose`` (empty: a spoken task); False if one is going."""
        if self._thread is not None:
            return False
        self._purpose = purpose or TASK
        self._released = threading.Event()
        worker = GeneratorWorker(lambda cancel: self._record(cancel, self._released))
        worker.yielded.connect(self._on_yielded)
        worker.errored.connect(self._on_errored)
        self._worker = worker
        self._thread = start_worker(worker, self._on_finished)
        return True

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
            if self._purpose == TASK:
                self.recorded.emit(item)
            self.heard.emit(self._purpose, item)
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
        self._switch()
        self.stopped.emit()
