"""The window's voice and global-hotkey handling, kept out of ``main_window.py`` so that stays short.

:class:`VoiceAndHotkeys` is a child of the :class:`MainWindow` it serves. It connects push-to-talk (the
mic button and its hotkey), the spoken-command interpreter, the voice bar and the global hotkeys to short
slots that act on the window's widgets. It reaches the window through Qt's parent pointer rather than a
Python reference, so window and helper form no reference cycle: the window is freed when its owner drops
it, never later by the garbage collector. Being a QObject living on the GUI thread, it receives the
hotkeys' signals (emitted on pynput's thread) queued, except the kill switch's direct stop.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, cast

from PyQt6.QtCore import QObject, Qt

from omnidesk.agent.ports import AudioClip
from omnidesk.agent.safety import SafetyPolicy
from omnidesk.app.gui.voice import TASK
from omnidesk.app.gui.voice_command import Understood
from omnidesk.app.gui.what_happened import WhatHappenedHotkey

if TYPE_CHECKING:
    from omnidesk.app.gui.main_window import MainWindow
    from omnidesk.app.settings import Settings

__all__ = ["MIN_VOICE_SECONDS", "SPOKEN_TASK", "VoiceAndHotkeys"]

log = logging.getLogger(__name__)

SPOKEN_TASK = "(spoken task: follow the instruction in the recording)"
"""The task text of a voice run with nothing typed; the recording goes to the model as audio."""
MIN_VOICE_SECONDS = 0.3


class VoiceAndHotkeys(QObject):
    """Push-to-talk, spoken commands and global hotkeys for ``window`` (its parent)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.what_happened = WhatHappenedHotkey(window.voice, self)

    @property
    def _window(self) -> MainWindow:
        return cast("MainWindow", self.parent())

    def connect_signals(self) -> None:
        """Connect the window's voice recorder, interpreter, voice bar and hotkeys (those it has)."""
        w = self._window
        bar = w.task_bar
        if w.voice is not None:
            bar.mic_pressed.connect(w.voice.press)
            bar.mic_released.connect(w.voice.release)
            w.voice.level.connect(self._on_voice_level)
            w.voice.recorded.connect(self._on_voice_recorded)
            w.voice.failed.connect(w.state_label.setText)
            w.voice.stopped.connect(w.close_if_closing)
            w.voice.heard.connect(self._on_voice_heard)
            w.history.ask.set_voice(w.voice)
        if w.voice_commands is not None:
            w.voice_commands.command_understood.connect(self._on_voice_understood)
            w.voice_commands.confirmation_answered.connect(w.confirmer.reply_confirmation)
            w.voice_commands.question_answered.connect(w.confirmer.reply_question)
            w.voice_commands.status.connect(w.state_label.setText)
            w.voice_commands.stopped.connect(w.close_if_closing)
            w.voice_bar.go.connect(w.start_run)
            w.voice_bar.cancelled.connect(self._on_voice_cancelled)
        if w.hotkeys is not None:
            # Direct: the kill switch stops the run from pynput's thread even while this one is busy.
            w.hotkeys.kill_switch.connect(w.controller.stop, type=Qt.ConnectionType.DirectConnection)  # type: ignore[call-arg]
            w.hotkeys.kill_switch.connect(self._on_kill_switch)
            w.hotkeys.pause_resume.connect(self._on_pause_hotkey)
            w.hotkeys.show_hide.connect(self._on_show_hide_hotkey)
            w.hotkeys.automation_requested.connect(w.run_automation_named)
            w.hotkeys.what_happened_pressed.connect(self.what_happened.press)
            w.hotkeys.what_happened_released.connect(self.what_happened.release)
            self.what_happened.ask.connect(self._on_what_happened_hotkey)
            if w.voice is not None:
                w.hotkeys.push_to_talk_pressed.connect(w.voice.press)
                w.hotkeys.push_to_talk_released.connect(w.voice.release)

    # --- what the window asks of it -----------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """Recording speech or working out what was said (closing the window waits for it)."""
        w = self._window
        return (w.voice is not None and w.voice.recording) or (w.voice_commands is not None and w.voice_commands.busy)

    def abort(self) -> None:
        """End the recording and the interpretation in progress (the window is closing)."""
        w = self._window
        if w.voice is not None:
            w.voice.abort()
        if w.voice_commands is not None:
            w.voice_commands.abort()

    def model_ready(self) -> None:
        """The model is loaded: the mic button, History's voice button and a held what-just-happened hotkey
        record speech unless the model cannot hear."""
        w = self._window
        problem = w.voice_commands.hearing_problem() if w.voice_commands is not None else None
        if w.voice is not None:
            w.task_bar.set_mic_available(problem is None, problem or "")
        w.history.ask.set_hearing_problem(problem)
        self.what_happened.set_hearing_problem(problem)

    def apply_settings(self, settings: Settings, *, audio: bool, hotkeys: bool) -> tuple[bool, str | None]:
        """Put changed settings in force: the interpreter's safety policy, the microphone (``audio``
        changed), the hotkeys (``hotkeys`` changed). Returns whether the audio change is already live and
        why there are no global hotkeys (None: they work or did not change)."""
        w = self._window
        if w.voice_commands is not None:
            w.voice_commands.set_policy(SafetyPolicy(settings.safety))
        audio_live = audio and w.voice is not None and w.voice.reconfigure(settings.audio)
        problem = w.hotkeys.reconfigure(settings.hotkeys) if hotkeys and w.hotkeys is not None else None
        return audio_live, problem

    # --- voice ---------------------------------------------------------------------------------------

    def _on_voice_level(self, level: float) -> None:
        bars = "▮" * round(level * 10)
        voice = self._window.voice
        done = "the mic button when done" if voice is None or voice.purpose == TASK else "when you have asked"
        self._window.state_label.setText(f"Listening… release {done}  {bars}")

    def _on_voice_recorded(self, clip: AudioClip) -> None:
        w = self._window
        if clip.duration < MIN_VOICE_SECONDS:
            w.state_label.setText("Too short — hold the mic button while you speak")
            return
        if w.voice_commands is None:  # a runner without an interpreter gets the recording itself
            w.start_run(w.task_bar.task_edit.text().strip() or SPOKEN_TASK, clip)
            return
        if w.controller.running and not w.confirm_bar.mode:
            w.state_label.setText("A run is going; stop it before speaking a new command")
            return
        w.voice_bar.dismiss()
        monitor = w.task_bar.selected_monitor()
        if not w.voice_commands.hear(clip, monitor, w.confirm_bar.mode, w.confirm_bar.question):
            w.state_label.setText("Still working out what you said before; speak again in a moment")

    def _on_voice_heard(self, purpose: str, _clip: object) -> None:
        if purpose != TASK:  # a spoken question about a recording: History shows what happens to it
            self._window.state_label.setText("Spoken question recorded — the answer shows in History")

    def _on_voice_understood(self, understood: Understood) -> None:
        w = self._window
        w.come_back(keep_hidden_flag=True)  # spoken with the window hidden: show what was understood
        if understood.risky:
            w.voice_bar.ask(understood.text, understood.reason)
            w.state_label.setText("Confirm the spoken command above before it runs")
        else:
            w.voice_bar.offer(understood.text, w.settings.gui.voice_countdown_seconds)

    def _on_voice_cancelled(self) -> None:
        self._window.state_label.setText("Spoken command cancelled")

    # --- hotkeys -------------------------------------------------------------------------------------

    def _on_kill_switch(self) -> None:
        self._window.state_label.setText("Kill switch pressed — stopping")

    def _on_pause_hotkey(self) -> None:
        controller = self._window.controller
        controller.set_paused(not controller.paused)

    def _on_what_happened_hotkey(self, spoken: object = None) -> None:
        """Ask the newest recording about its last minutes (the spoken question, if the hotkey was held);
        the answer shows in History."""
        w = self._window
        w.come_back(keep_hidden_flag=True)
        w.side_tabs.setCurrentWidget(w.history)
        clip = spoken if isinstance(spoken, AudioClip) else None
        w.history.ask.ask_what_happened(w.settings.recording.what_happened_minutes, clip)

    def _on_show_hide_hotkey(self) -> None:
        w = self._window
        if w.isVisible() and not w.isMinimized():
            w.hide()
        else:
            w.come_back(keep_hidden_flag=True)
