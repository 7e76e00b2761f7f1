"""Ask a question about a recording from the History tab: pick one, type the question, read the answer.

The question goes through :func:`~omnidesk.app.recording_question.ask_about_recording` (the one way to
ask, the same as ``omnidesk ask --recording``) on a worker thread with the window's loaded model; the GUI
thread only lists the recordings' folders and shows progress, the answer and its times, or one line saying
what went wrong. Stop cancels the scan or the generation in progress.

A question can also be spoken: hold "Ask by voice" (the window's microphone, :class:`VoiceRecorder`, records
on its worker) and the clip goes to the model as the question's audio, after the recording's media
(:mod:`omnidesk.agent.recording_prompt`); anything typed goes with it. The what-just-happened hotkey held
down does the same for the newest recording's last minutes (:meth:`RecordingAskPanel.ask_what_happened`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from PyQt6.QtCore import QObject, Qt, QThread, pyqtSignal
from PyQt6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from omnidesk.agent.ports import AudioClip, CancelToken
from omnidesk.app.gui.voice import VoiceRecorder
from omnidesk.app.gui.worker import GeneratorWorker, start_worker
from omnidesk.app.recording_question import Progress, RecordingAnswer, RecordingQuestion

__all__ = [
    "MIN_SPOKEN_SECONDS",
    "QUESTION",
    "WHAT_HAPPENED",
    "Busy",
    "RecordingAskPanel",
    "RecordingAsker",
    "answer_text",
    "list_recordings",
]

log = logging.getLogger(__name__)

RecordingAsker = Callable[[RecordingQuestion, Progress, CancelToken], "RecordingAnswer | None"]
"""``(question, progress, cancel) -> answer`` (None: stopped); runs on a worker thread."""

WHAT_HAPPENED = (
    "What happened on the screen, and what was said, in this part of the recording? Say what was done, in "
    "order, citing the times."
)
"""The question the what-just-happened hotkey asks about the newest recording's last minutes."""

QUESTION = "question"
"""The :class:`VoiceRecorder` purpose of a question spoken in History."""

MIN_SPOKEN_SECONDS = 0.3
"""A shorter clip is a slip of the finger, not a question (as for a spoken task)."""

Busy = Callable[[], "str | None"]
"""Why the model cannot take a question now (a run is using it), or None."""


def list_recordings(recordings_dir: Path | None) -> list[Path]:
    """Recording folders (those with an ``index.json``), newest first (their names start with the time)."""
    if recordings_dir is None or not recordings_dir.is_dir():
        return []
    return sorted((p for p in recordings_dir.iterdir() if (p / "index.json").is_file()), reverse=True)


def _mmss(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60:02d}:{whole % 60:02d}"


def answer_text(answer: RecordingAnswer) -> str:
    """The answer, then what the model looked at (the span and the frames' times) and any notes."""
    times = sorted({t for part in answer.parts for t in part.frame_times})
    looked = f"Looked at {_mmss(answer.start)}–{_mmss(answer.end)} of {answer.recording.name}"
    if times:
        looked += f": {len(times)} frame{'s' if len(times) > 1 else ''} at " + ", ".join(_mmss(t) for t in times)
    if len(answer.parts) > 1:
        looked += f" (in {len(answer.parts)} parts)"
    return "\n\n".join([answer.text.strip() or "(the model gave no answer)", looked, *answer.notes])


class _ProgressRelay(QObject):
    """Lives on the GUI thread; :meth:`update`, called on the worker, reaches it as a queued signal."""

    moved = pyqtSignal(str, float, float)


class _RelayedProgress(Progress):
    def __init__(self, relay: _ProgressRelay) -> None:
        self._relay = relay

    def update(self, stage: str, done: float, total: float) -> None:
        self._relay.moved.emit(stage, done, total)


class RecordingAskPanel(QWidget):
    """Recordings, a question field, Ask and Stop, a progress bar and the answer.

    Signals:
        answered(object): the :class:`RecordingAnswer`.
        failed(str): one line saying what went wrong.
        finished(str): "answered", "stopped" or "error", once per question.
    """

    answered = pyqtSignal(object)
    failed = pyqtSignal(str)
    finished = pyqtSignal(str)

    def __init__(
        self,
        recordings_dir: Path | None,
        asker: RecordingAsker | None,
        parent: QWidget | None = None,
        *,
        busy: Busy | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("recording_ask")
        self._recordings_dir = recordings_dir
        self._asker = asker
        self._busy = busy
        self._worker: GeneratorWorker | None = None
        self._thread: QThread | None = None
        self._outcome = ""
        self._relay = _ProgressRelay(self)
        self._relay.moved.connect(self._on_progress)
        self.recordings = QListWidget(self)
        self.question = QLineEdit(self)
        self.question.setPlaceholderText("Ask about the selected recording, e.g. what did I open?")
        self.ask_button = QPushButton("Ask", self)
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setEnabled(False)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.voice_button = QPushButton("Hold to ask by voice", self)
        self.voice_button.setObjectName("recording_ask_voice")
        self.voice_button.setEnabled(False)
        self.voice_button.setToolTip("No microphone configured")
        self._voice: VoiceRecorder | None = None
        self._deaf: str | None = None  # why the loaded model cannot hear a spoken question
        self._listening = False
        self._spoken: float | None = None
        self.answer = QLabel("Select a recording and ask a question about it", self)
        self.answer.setWordWrap(True)
        self.answer.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.answer.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        scroll = QScrollArea(self)  # a long answer scrolls instead of being cut off below the panel
        scroll.setWidget(self.answer)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setMinimumHeight(90)
        row = QHBoxLayout()
        row.addWidget(self.question, 1)
        row.addWidget(self.ask_button)
        row.addWidget(self.voice_button)
        row.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Recordings", self))
        layout.addWidget(self.recordings, 1)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(scroll, 1)
        self.ask_button.clicked.connect(self.ask)
        self.question.returnPressed.connect(self.ask)
        self.stop_button.clicked.connect(self.stop)
        self.voice_button.pressed.connect(self.start_listening)
        self.voice_button.released.connect(self.stop_listening)

    @property
    def asking(self) -> bool:
        return self._thread is not None

    @property
    def listening(self) -> bool:
        """A spoken question is being recorded."""
        return self._listening

    def set_voice(self, voice: VoiceRecorder | None) -> None:
        """The window's microphone recorder, for spoken questions (None: the voice button stays off)."""
        if self._voice is not None:
            self._voice.heard.disconnect(self._on_heard)
            self._voice.failed.disconnect(self._on_voice_failed)
            self._voice.stopped.disconnect(self._on_voice_stopped)
        self._voice, self._listening = voice, False
        self._update_voice_button()
        if voice is not None:
            voice.heard.connect(self._on_heard)
            voice.failed.connect(self._on_voice_failed)
            voice.stopped.connect(self._on_voice_stopped)

    def set_hearing_problem(self, problem: str | None) -> None:
        """Why the loaded model cannot hear a spoken question (None: it can): the voice button is off then,
        its tooltip saying why."""
        self._deaf = problem
        self._update_voice_button()

    def _update_voice_button(self) -> None:
        if self._voice is None:
            tip = "No microphone configured"
        elif self._deaf is not None:
            tip = self._deaf
        else:
            tip = "Hold while you say your question about the selected recording"
        self.voice_button.setEnabled(self._voice is not None and self._deaf is None and not self.asking)
        self.voice_button.setToolTip(tip)

    def start_listening(self) -> bool:
        """Record a spoken question about the selected recording until :meth:`stop_listening`; False (with a
        line) if it cannot."""
        problem = self._problem() or ("Stop the question in progress first" if self.asking else None)
        if problem is None and self.selected() is None:
            problem = "Select a recording first (none yet? record one with `omnidesk record`)"
        if problem is None and self._voice is None:
            problem = "No microphone configured: type the question"
        if problem is None and self._deaf is not None:
            problem = self._deaf
        if problem is not None or self._voice is None:
            self._fail(problem or "No microphone configured")
            return False
        if not self._voice.press(QUESTION):
            self._fail("The microphone is busy recording; try again when it is done")
            return False
        self._listening = True
        self.answer.setText("Listening… release the button when you have asked")
        return True

    def stop_listening(self) -> None:
        """The person let go: the clip comes back through the recorder's ``heard``."""
        if self._listening and self._voice is not None:
            self._voice.release()

    def ask_spoken(self, clip: AudioClip) -> bool:
        """Ask the spoken ``clip`` (with anything typed) about the selected recording; False (with a line) if
        it cannot start."""
        path = self.selected()
        problem = self._problem() or ("Stop the question in progress first" if self.asking else None)
        if problem is None and clip.duration < MIN_SPOKEN_SECONDS:
            problem = "Too short — hold the button while you say the question"
        if problem is None and path is None:
            problem = "Select a recording first (none yet? record one with `omnidesk record`)"
        if problem is not None or path is None:
            self._fail(problem or "Select a recording first")
            return False
        ask = RecordingQuestion(self.question.text().strip(), path=path, spoken=clip)
        return self._start(ask, f"{path.name} (a spoken question of {clip.duration:.1f} s)")

    def _on_heard(self, purpose: str, clip: object) -> None:
        if purpose == QUESTION and isinstance(clip, AudioClip):
            self._listening = False
            self.ask_spoken(clip)

    def _on_voice_failed(self, line: str) -> None:
        if self._listening:
            self._listening = False
            self._fail(line.strip().splitlines()[0] if line.strip() else "The microphone failed")

    def _on_voice_stopped(self) -> None:
        if self._listening:  # released before anything came back (aborted)
            self._listening = False

    def refresh(self) -> None:
        """Re-read the recordings' folders, keeping the selection."""
        current = self.selected()
        self.recordings.clear()
        for folder in list_recordings(self._recordings_dir):
            item = QListWidgetItem(folder.name)
            item.setData(Qt.ItemDataRole.UserRole, str(folder))
            self.recordings.addItem(item)
            if current == folder:
                self.recordings.setCurrentItem(item)

    def selected(self) -> Path | None:
        item = self.recordings.currentItem()
        return Path(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def ask(self) -> bool:
        """Ask the typed question about the selected recording on a worker; False (with a line) if it cannot."""
        if self.asking:
            return False
        problem = self._problem()
        path = self.selected()
        text = self.question.text().strip()
        if problem is None and path is None:
            problem = "Select a recording first (none yet? record one with `omnidesk record`)"
        if problem is None and not text:
            problem = "Type a question about the recording first"
        if problem is not None or path is None:
            self._fail(problem or "Select a recording first")
            return False
        return self._start(RecordingQuestion(text, path=path), path.name)

    def ask_what_happened(self, minutes: float, spoken: AudioClip | None = None) -> bool:
        """Ask :data:`WHAT_HAPPENED` (or the ``spoken`` question) about the last ``minutes`` of the newest
        recording (one that is still being written is read as far as it goes); False (with a line) if it cannot
        start."""
        if self.asking:
            self._fail("Still answering the question before; stop it or wait")
            return False
        problem = self._problem()
        if problem is None and self._recordings_dir is None:
            problem = "There is no recordings folder to ask about"
        if problem is not None:
            self._fail(problem)
            return False
        what = f"the newest recording's last {minutes:g} minutes"
        if spoken is not None:
            self.question.clear()
            ask = RecordingQuestion("", recordings_dir=self._recordings_dir, last=minutes * 60, spoken=spoken)
            return self._start(ask, what + " (spoken)")
        self.question.setText(WHAT_HAPPENED)
        ask = RecordingQuestion(WHAT_HAPPENED, recordings_dir=self._recordings_dir, last=minutes * 60)
        return self._start(ask, what)

    def _start(self, question: RecordingQuestion, what: str) -> bool:
        if self._asker is None:
            self._fail("No model is set up to answer: set one up in the window first")
            return False
        asker, progress = self._asker, _RelayedProgress(self._relay)

        def job(cancel: CancelToken) -> Iterator[object]:
            yield asker(question, progress, cancel)

        worker = GeneratorWorker(job)
        worker.yielded.connect(self._on_answer)
        worker.errored.connect(self._on_error)
        self._worker, self._outcome = worker, "stopped"
        self.ask_button.setEnabled(False)
        self.voice_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.progress.setFormat("starting…")
        self._spoken = question.spoken.duration if question.spoken is not None else None
        spoken = f" your spoken question ({self._spoken:.1f} s)" if self._spoken is not None else ""
        self.answer.setText(f"Asking{spoken}…")
        self._thread = start_worker(worker, self._on_thread_finished)
        log.info("asking about %s", what)
        return True

    def stop(self) -> None:
        """Cancel the question in progress (the scan or the generation); ``finished`` follows."""
        if self._worker is not None:
            self._worker.abort()
            self.progress.setFormat("stopping…")

    def wait(self, timeout_ms: int) -> bool:
        """Block until the worker ends (only for shutdown); True if it has."""
        return self._thread is None or self._thread.wait(timeout_ms)

    def _problem(self) -> str | None:
        if self._asker is None:
            return "No model is set up to answer: set one up in the window first"
        return self._busy() if self._busy is not None else None

    def _fail(self, line: str) -> None:
        self.answer.setText(line)
        self.failed.emit(line)

    def _on_progress(self, stage: str, done: float, total: float) -> None:
        if self._thread is None:
            return
        self.progress.setValue(round(1000 * min(max(done / total, 0.0), 1.0)) if total > 0 else 0)
        self.progress.setFormat(stage)

    def _on_answer(self, answer: object) -> None:
        if not isinstance(answer, RecordingAnswer):
            return  # None: stopped before the model answered
        self._outcome = "answered"
        heard = f"You asked by voice ({self._spoken:.1f} s).\n\n" if self._spoken is not None else ""
        self.answer.setText(heard + answer_text(answer))
        self.answered.emit(answer)

    def _on_error(self, exc: object) -> None:
        self._outcome = "error"
        log.warning("the question about the recording failed: %s", type(exc).__name__)
        line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        self._fail(f"Could not answer: {line}")

    def _on_thread_finished(self) -> None:
        thread, worker = self._thread, self._worker
        if thread is not None:
            thread.wait()
        self._thread = self._worker = None
        if self._outcome == "stopped" and worker is not None and worker.cancel.cancelled:
            self.answer.setText("Stopped")
        self.ask_button.setEnabled(True)
        self._update_voice_button()
        self.stop_button.setEnabled(False)
        self.progress.setVisible(False)
        self.finished.emit(self._outcome)
