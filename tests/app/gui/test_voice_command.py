"""Spoken commands: the recording and the screen go to the model in one request, the window shows what it
understood with a countdown (Cancel stops it), risky commands wait for the person, and a spoken reply
answers a pending question."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
from PyQt6.QtCore import Qt

from omnidesk.agent.ports import AudioClip, AudioPart, ImagePart, ModelRequest
from omnidesk.app.gui.agent_runner import GuiAgentRunner
from omnidesk.app.gui.app import qt_monitors
from omnidesk.app.gui.confirmer import QtConfirmer
from omnidesk.app.gui.main_window import MainWindow
from omnidesk.app.gui.voice_command import yes_or_no
from omnidesk.app.settings import AppPaths, Settings
from tests.app.gui.test_agent_runner import FakeSessions
from tests.app.gui.test_with_agent import code
from tests.fakes import CAPS_FRACTION, FakeMicrophone, FakeModel

pytestmark = pytest.mark.desktop

RESTATED = "Click the middle of the screen"


def _clip(seconds: float) -> AudioClip:
    t = np.arange(int(16000 * seconds), dtype=np.float32) / 16000
    return AudioClip((0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000, 0.0, seconds)


def _audio(request: ModelRequest) -> list[AudioPart]:
    return [p for m in request.messages for p in m.parts if isinstance(p, AudioPart)]


def _images(request: ModelRequest) -> list[ImagePart]:
    return [p for m in request.messages for p in m.parts if isinstance(p, ImagePart)]


def restating_model(restatement: str, **kw: object) -> FakeModel:
    """Restates a recording as ``restatement``; in a run, clicks the middle once and finishes."""

    steps: list[ModelRequest] = []

    def script(request: ModelRequest) -> str:
        if _audio(request):
            return restatement
        steps.append(request)
        return code("computer.terminate()") if len(steps) > 1 else code("pyautogui.click(0.5, 0.5)")

    return FakeModel(script, **kw)  # type: ignore[arg-type]


class Harness:
    def __init__(self, qtbot, tmp_path, model: FakeModel, *, countdown: float = 1.0, clip_seconds: float = 1.5):  # type: ignore[no-untyped-def]
        self.qtbot = qtbot
        settings = Settings()
        settings.model.model = "tiny.gguf"
        settings.gui.hide_during_run = False
        settings.gui.voice_countdown_seconds = countdown
        self.model = model
        self.sessions = FakeSessions()
        self.confirmer = QtConfirmer()
        self.runner = GuiAgentRunner(
            settings,
            AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r"),
            self.confirmer,
            model_factory=lambda s, p, c: model,
            session_factory=self.sessions,
            record=False,
        )
        self.clip = _clip(clip_seconds)
        self.window = MainWindow(
            settings,
            self.runner,
            monitors=qt_monitors(),
            confirmer=self.confirmer,
            status_source=self.runner.load,
            microphone=FakeMicrophone([self.clip]),
            interpreter=self.runner,
        )
        self.started: list[str] = []
        self.window.controller.run_started.connect(lambda request: self.started.append(request.task))
        qtbot.addWidget(self.window)
        self.window.show()
        self.window.start_status_source()
        qtbot.waitUntil(lambda: "ready" in self.window.model_label.text(), timeout=5000)

    def speak(self) -> None:
        button = self.window.task_bar.mic_button
        self.qtbot.mousePress(button, Qt.MouseButton.LeftButton)
        self.qtbot.waitUntil(lambda: self.window.voice is not None and self.window.voice.recording, timeout=3000)
        self.qtbot.mouseRelease(button, Qt.MouseButton.LeftButton)


def test_the_model_hears_the_clip_with_the_screen_and_the_restatement_counts_down(qtbot, tmp_path) -> None:
    h = Harness(qtbot, tmp_path, restating_model(RESTATED), countdown=1.0)
    h.speak()
    bar = h.window.voice_bar
    qtbot.waitUntil(bar.isVisible, timeout=10000)
    assert bar.task == RESTATED and RESTATED in bar.message.text()
    assert bar.countdown.text() == "starting in 1 s" and bar.counting
    assert h.started == []  # nothing runs during the countdown
    request = h.model.requests[0]
    (audio,) = _audio(request)
    assert audio.clip.sample_rate == 16000 and len(audio.clip.samples) == 24000
    (image,) = _images(request)
    assert image.image.kind == "overview" and image.image.pixels.shape[:2] == (1080, 1920)  # the whole screen
    assert request.enable_thinking is False and request.max_tokens >= 256  # nothing can starve the sentence
    with qtbot.waitSignal(h.window.controller.run_finished, timeout=10000) as finished:
        pass  # the countdown ends by itself and the run starts
    assert finished.args == ["finished"] and h.started == [RESTATED]
    assert not bar.isVisible()
    assert len(h.sessions.calls) == 1


def test_cancel_during_the_countdown_prevents_the_run(qtbot, tmp_path) -> None:
    h = Harness(qtbot, tmp_path, restating_model(RESTATED), countdown=0.6)
    h.speak()
    bar = h.window.voice_bar
    qtbot.waitUntil(bar.isVisible, timeout=10000)
    qtbot.mouseClick(bar.cancel_button, Qt.MouseButton.LeftButton)
    assert not bar.isVisible()
    qtbot.wait(1000)  # well past the countdown
    assert h.started == [] and h.sessions.calls == []
    assert h.window.state_label.text() == "Spoken command cancelled"


def test_a_risky_restatement_asks_instead_of_counting_down(qtbot, tmp_path) -> None:
    h = Harness(qtbot, tmp_path, restating_model("Delete the file report.txt"), countdown=0.3)
    h.speak()
    bar = h.window.voice_bar
    qtbot.waitUntil(bar.isVisible, timeout=10000)
    assert not bar.counting and "risky" in bar.message.text() and "delete" in bar.message.text()
    qtbot.wait(700)  # longer than the countdown: it does not start on its own
    assert h.started == []
    with qtbot.waitSignal(h.window.controller.run_finished, timeout=10000):
        qtbot.mouseClick(bar.run_button, Qt.MouseButton.LeftButton)
    assert h.started == ["Delete the file report.txt"]


def test_a_spoken_reply_answers_the_pending_question(qtbot, tmp_path) -> None:
    h = Harness(qtbot, tmp_path, restating_model("The one called budget"))
    answers: list[str | None] = []
    asker = threading.Thread(target=lambda: answers.append(h.confirmer.ask("Which spreadsheet?")))
    asker.start()
    qtbot.waitUntil(lambda: h.window.confirm_bar.mode == "question", timeout=3000)
    h.speak()
    qtbot.waitUntil(lambda: not asker.is_alive(), timeout=10000)
    assert answers == ["The one called budget"]
    assert not h.window.voice_bar.isVisible() and h.started == []
    prompt = " ".join(p.text for m in h.model.requests[0].messages for p in m.parts if hasattr(p, "text"))
    assert "Which spreadsheet?" in prompt


def test_a_spoken_yes_allows_the_pending_confirmation(qtbot, tmp_path) -> None:
    from omnidesk.agent.actions import TypeText
    from omnidesk.agent.ports import ConfirmationRequest

    h = Harness(qtbot, tmp_path, restating_model("Yes."))
    allowed: list[bool] = []
    request = ConfirmationRequest(TypeText(text="rm -rf build"), "risky text", "Type rm -rf build?")
    asker = threading.Thread(target=lambda: allowed.append(h.confirmer.confirm(request)))
    asker.start()
    qtbot.waitUntil(lambda: h.window.confirm_bar.mode == "confirm", timeout=3000)
    h.speak()
    qtbot.waitUntil(lambda: not asker.is_alive(), timeout=10000)
    assert allowed == [True]


def test_a_model_that_cannot_hear_says_so_on_the_voice_button(qtbot, tmp_path) -> None:
    deaf = replace(CAPS_FRACTION, audio=False)
    h = Harness(qtbot, tmp_path, restating_model(RESTATED, capabilities=deaf))
    qtbot.waitUntil(lambda: not h.window.task_bar.mic_button.isEnabled(), timeout=3000)
    tip = h.window.task_bar.mic_button.toolTip()
    assert "no audio encoder" in tip and "download it in the window" in tip


def test_historys_voice_button_is_off_while_the_model_cannot_hear(qtbot, tmp_path) -> None:
    deaf = replace(CAPS_FRACTION, audio=False)
    h = Harness(qtbot, tmp_path, restating_model(RESTATED, capabilities=deaf))
    button = h.window.history.ask.voice_button
    qtbot.waitUntil(lambda: not h.window.task_bar.mic_button.isEnabled(), timeout=3000)  # the model is ready
    assert not button.isEnabled()
    tip = button.toolTip()
    assert "no audio encoder" in tip and "download it in the window" in tip
    held = h.window.voice_hotkeys.what_happened  # the what-just-happened hotkey held: nothing is recorded
    held.press()
    assert not held.listening and h.window.voice is not None and not h.window.voice.recording
    held.release()
    hearing = Harness(qtbot, tmp_path / "hearing", restating_model(RESTATED))
    assert hearing.window.history.ask.voice_button.isEnabled()
    assert "Hold while you say your question" in hearing.window.history.ask.voice_button.toolTip()


@pytest.mark.parametrize(
    ("text", "expected"), [("Yes.", True), ("yes please", True), ("No, don't", False), ("maybe", None), ("", None)]
)
def test_yes_or_no(text: str, expected: bool | None) -> None:
    assert yes_or_no(text) is expected


@pytest.mark.audio
def test_push_to_talk_hotkey_sends_the_held_speech_to_the_model(qtbot, tmp_path, pulse_audio) -> None:
    """espeak-ng speech in the null-sink mic, push-to-talk held with xdotool on the global hotkey: the model
    port gets 16 kHz PCM as long as the hold (±0.3 s), and the window offers the restatement."""
    import os
    import subprocess
    import time

    from omnidesk.app.hotkeys import GlobalHotkeys
    from omnidesk.runtime.audio import SoundDeviceMicrophone
    from omnidesk.runtime.config import AudioConfig

    settings = Settings()
    settings.model.model = "tiny.gguf"
    settings.gui.hide_during_run = False
    settings.gui.voice_countdown_seconds = 30
    combo = settings.hotkeys.push_to_talk
    model = restating_model(RESTATED)
    confirmer = QtConfirmer()
    runner = GuiAgentRunner(
        settings,
        AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r"),
        confirmer,
        model_factory=lambda s, p, c: model,
        session_factory=FakeSessions(),
        record=False,
    )
    speech = pulse_audio.speak("open the text editor and write hello")
    mic = SoundDeviceMicrophone(AudioConfig())
    hotkeys = GlobalHotkeys(settings.hotkeys)
    assert hotkeys.start() is None
    env = dict(os.environ)
    try:
        mic.start()  # the stream is open before the hold, as after the first use in the app
        window = MainWindow(
            settings,
            runner,
            monitors=qt_monitors(),
            confirmer=confirmer,
            status_source=runner.load,
            microphone=mic,
            hotkeys=hotkeys,
            interpreter=runner,
        )
        qtbot.addWidget(window)
        window.start_status_source()  # the window stays hidden (in the tray): the hotkey works anyway
        qtbot.waitUntil(lambda: "ready" in window.model_label.text(), timeout=5000)
        assert window.voice is not None and not window.isVisible()
        with qtbot.waitSignal(window.voice.level, timeout=5000):
            subprocess.run(["xdotool", "keydown", combo], check=True, env=env, timeout=10)
            held_from = time.monotonic()
        pulse_audio.play(speech)
        qtbot.wait(300)
        held_until = time.monotonic()
        subprocess.run(["xdotool", "keyup", combo], check=True, env=env, timeout=10)
        qtbot.waitUntil(window.voice_bar.isVisible, timeout=10000)  # the window came back to show it
        assert window.isVisible() and window.voice_bar.task == RESTATED
        qtbot.mouseClick(window.voice_bar.cancel_button, Qt.MouseButton.LeftButton)
    finally:
        hotkeys.stop()
        mic.close()
    hold = held_until - held_from
    (audio,) = _audio(model.requests[0])
    clip = audio.clip
    rms = float(np.sqrt(np.mean(np.square(clip.samples))))
    print(f"held {hold:.2f} s, the model got {clip.duration:.2f} s at {clip.sample_rate} Hz, rms {rms:.4f}")
    assert clip.sample_rate == 16000 and clip.samples.dtype == np.float32 and clip.samples.ndim == 1
    assert abs(clip.duration - hold) <= 0.3
    assert rms > 0.01  # the speech, not silence
    assert len(_images(model.requests[0])) == 1
