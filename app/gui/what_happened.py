"""The what-just-happened hotkey, tapped or held: tapped, it asks the default question about the newest
recording's last minutes; held, the window's microphone records while it is down and the spoken question is
asked instead.

Why held and tapped on one combination (not push-to-talk while History is showing): the question is about
what just happened, wherever the person is, with the window hidden; one key that already means "that
recording" needs no mode to remember. Tap and hold are told apart by what the microphone got: a clip
shorter than :data:`~omnidesk.app.gui.recording_ask.MIN_SPOKEN_SECONDS` is a tap. With no microphone (none
configured, or it fails, or it is busy recording a spoken task) or a model that cannot hear (its mmproj has
no audio encoder) the hotkey asks the default question, as a tap does; the microphone's failure shows as
the window's status line.
"""

from __future__ import annotations

import logging

from PyQt6.QtCore import QObject, pyqtSignal

from omnidesk.agent.ports import AudioClip
from omnidesk.app.gui.recording_ask import MIN_SPOKEN_SECONDS
from omnidesk.app.gui.voice import VoiceRecorder

__all__ = ["WHAT_HAPPENED_PURPOSE", "WhatHappenedHotkey"]

log = logging.getLogger(__name__)

WHAT_HAPPENED_PURPOSE = "what-happened"
"""The :class:`VoiceRecorder` purpose of a question spoken while the hotkey is held."""


class WhatHappenedHotkey(QObject):
    """Connect :meth:`press` / :meth:`release` to the hotkey's held / let-go signals.

    Signals:
        ask(object): ask now — the spoken :class:`AudioClip`, or None for the default question.
    """

    ask = pyqtSignal(object)

    def __init__(self, voice: VoiceRecorder | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._voice = voice
        self._held = False  # between press and release
        self._recording = False  # the microphone records this hold's question
        self._asked = True  # this hold has asked (at most once per hold)
        self._deaf = False  # the loaded model cannot hear a spoken question
        if voice is not None:
            voice.heard.connect(self._on_heard)
            voice.failed.connect(self._on_failed)

    @property
    def listening(self) -> bool:
        """The hotkey is held and the microphone records the question."""
        return self._recording

    def set_hearing_problem(self, problem: str | None) -> None:
        """Why the loaded model cannot hear (None: it can); while it cannot, a hold records nothing and asks
        the default question."""
        self._deaf = problem is not None

    def press(self) -> None:
        if self._held:
            return
        self._held, self._asked = True, False
        if self._deaf:
            log.info("what-just-happened held, but the model cannot hear: the default question")
            return
        self._recording = self._voice is not None and self._voice.press(WHAT_HAPPENED_PURPOSE)
        if self._voice is not None and not self._recording:
            log.info("what-just-happened held while the microphone records something else: the default question")

    def release(self) -> None:
        self._held = False
        if self._recording and self._voice is not None:
            self._voice.release()  # the clip comes back through heard (or failed)
        else:
            self._ask(None)

    def _ask(self, clip: AudioClip | None) -> None:
        if not self._asked:
            self._asked = True
            self.ask.emit(clip)

    def _on_heard(self, purpose: str, clip: object) -> None:
        if purpose != WHAT_HAPPENED_PURPOSE or not self._recording:
            return
        self._recording = False  # released, or held past the recording's limit: ask now, the release asks nothing
        spoken = isinstance(clip, AudioClip) and clip.duration >= MIN_SPOKEN_SECONDS
        self._ask(clip if spoken and isinstance(clip, AudioClip) else None)

    def _on_failed(self, line: str) -> None:
        if not self._recording:
            return
        self._recording = False
        log.info("the microphone failed for a spoken what-just-happened question: the default question")
        if not self._held:
            self._ask(None)  # else the release asks
