"""Push-to-talk from the mic button: recording happens on a worker, the clip starts a run."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PyQt6.QtCore import Qt

from omnidesk.agent.errors import NoMicrophoneError
from omnidesk.agent.ports import AudioClip
from omnidesk.app.gui.main_window import SPOKEN_TASK, MainWindow
from omnidesk.app.settings import Settings
from omnidesk.runtime.config import AudioConfig
from tests.app.gui.scripts import MONITOR, ScriptedRun, click_step
from tests.fakes import FakeMicrophone

pytestmark = pytest.mark.desktop


class ThreadRecordingMicrophone(FakeMicrophone):
    """FakeMicrophone that notes which thread touched it."""

    def __init__(self, clips: list[AudioClip]) -> None:
        super().__init__(clips)
        self.threads: set[str] = set()

    def start_push_to_talk(self) -> None:
        self.threads.add(threading.current_thread().name)
        super().start_push_to_talk()

    def level(self) -> float:
        self.threads.add(threading.current_thread().name)
        return super().level()


class MissingMicrophone(FakeMicrophone):
    def start_push_to_talk(self) -> None:
        raise NoMicrophoneError("no microphone: plug one in or pick a device with `omnidesk config set audio.device`")


def _clip(seconds: float) -> AudioClip:
    return AudioClip(np.zeros(int(16000 * seconds), np.float32), 16000, 0.0, seconds)


def _window(qtbot, run, mic) -> MainWindow:
    window = MainWindow(Settings(), run, monitors=[MONITOR], microphone=mic)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_holding_the_mic_button_records_and_the_clip_starts_a_run(qtbot) -> None:
    clip = _clip(1.5)
    mic = ThreadRecordingMicrophone([clip])
    run = ScriptedRun([click_step(1)])
    window = _window(qtbot, run, mic)
    button = window.task_bar.mic_button
    assert button.isEnabled()
    with qtbot.waitSignal(window.voice.level, timeout=3000) as level:
        qtbot.mousePress(button, Qt.MouseButton.LeftButton)
    assert level.args == [0.5] and mic.recording
    assert "Listening" in window.state_label.text()
    with qtbot.waitSignal(window.controller.run_finished, timeout=5000):
        qtbot.mouseRelease(button, Qt.MouseButton.LeftButton)
    assert not mic.recording
    assert run.requests[0].voice is clip and run.requests[0].task == SPOKEN_TASK
    assert threading.main_thread().name not in mic.threads


def test_typed_text_goes_with_the_recording(qtbot) -> None:
    clip = _clip(1.0)
    run = ScriptedRun([click_step(1)])
    window = _window(qtbot, run, FakeMicrophone([clip]))
    window.task_bar.task_edit.setText("in the browser")
    qtbot.mousePress(window.task_bar.mic_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(window.controller.run_finished, timeout=5000):
        qtbot.mouseRelease(window.task_bar.mic_button, Qt.MouseButton.LeftButton)
    assert run.requests[0].task == "in the browser" and run.requests[0].voice is clip


def test_a_tap_is_too_short_and_starts_nothing(qtbot) -> None:
    run = ScriptedRun([click_step(1)])
    window = _window(qtbot, run, FakeMicrophone([_clip(0.1)]))
    qtbot.mousePress(window.task_bar.mic_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(window.voice.stopped, timeout=3000):
        qtbot.mouseRelease(window.task_bar.mic_button, Qt.MouseButton.LeftButton)
    assert run.requests == [] and "Too short" in window.state_label.text()


def test_no_microphone_is_a_message_not_a_crash(qtbot) -> None:
    window = _window(qtbot, ScriptedRun([]), MissingMicrophone())
    with qtbot.waitSignal(window.voice.failed, timeout=3000):
        qtbot.mousePress(window.task_bar.mic_button, Qt.MouseButton.LeftButton)
    qtbot.mouseRelease(window.task_bar.mic_button, Qt.MouseButton.LeftButton)
    assert window.state_label.text().startswith("no microphone")


class ClosableMicrophone(FakeMicrophone):
    """A FakeMicrophone opened from audio settings, as compose opens the real one, and closed at the end."""

    def __init__(self, clips: list[AudioClip], audio: AudioConfig | None = None) -> None:
        super().__init__(clips)
        self.audio = audio
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_changed_audio_settings_open_the_microphone_again_after_the_recording(qtbot) -> None:
    """No restart: the next recording uses a microphone opened with the new settings; one in progress keeps
    the old one, which is closed once it ends."""
    first_clip, second_clip = _clip(1.0), _clip(1.2)
    first = ClosableMicrophone([first_clip])
    opened: list[ClosableMicrophone] = []

    def reopen(audio: AudioConfig) -> ClosableMicrophone:
        opened.append(ClosableMicrophone([second_clip], audio))
        return opened[-1]

    run = ScriptedRun([click_step(1), click_step(1)])
    window = MainWindow(Settings(), run, monitors=[MONITOR], microphone=first, microphone_factory=reopen)
    qtbot.addWidget(window)
    window.show()
    button = window.task_bar.mic_button
    assert window.voice is not None
    with qtbot.waitSignal(window.voice.level, timeout=3000):
        qtbot.mousePress(button, Qt.MouseButton.LeftButton)
    changed = Settings()
    changed.audio.device = "USB Headset"
    changed.audio.max_utterance_seconds = 12.0
    window.apply_settings(changed)
    assert "the microphone uses the new audio settings from the next recording" in window.state_label.text()
    assert opened == [] and window.voice.microphone is first  # the recording in progress keeps its microphone
    with qtbot.waitSignal(window.controller.run_finished, timeout=5000):
        qtbot.mouseRelease(button, Qt.MouseButton.LeftButton)
    assert run.requests[0].voice is first_clip
    assert len(opened) == 1 and opened[0].audio == changed.audio and first.closed
    assert window.voice.microphone is opened[0]

    with qtbot.waitSignal(window.voice.level, timeout=3000):
        qtbot.mousePress(button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(window.controller.run_finished, timeout=5000):
        qtbot.mouseRelease(button, Qt.MouseButton.LeftButton)
    assert run.requests[1].voice is second_clip and not opened[0].closed


def test_a_fixed_microphone_says_audio_settings_wait_for_a_restart(qtbot) -> None:
    window = _window(qtbot, ScriptedRun([]), FakeMicrophone())
    changed = Settings()
    changed.audio.device = "USB Headset"
    window.apply_settings(changed)
    assert "audio settings apply when Omnidesk starts next" in window.state_label.text()


def test_without_a_microphone_the_button_is_disabled(qtbot) -> None:
    window = _window(qtbot, ScriptedRun([]), None)
    assert not window.task_bar.mic_button.isEnabled()
    assert window.voice is None


@pytest.mark.audio
def test_push_to_talk_records_speech_from_the_real_microphone(qtbot, pulse_audio) -> None:
    """Mic button → SoundDeviceMicrophone (PortAudio → PulseAudio) ← espeak-ng speech played into the feed."""
    import wave

    from omnidesk.runtime.audio import SoundDeviceMicrophone
    from omnidesk.runtime.config import AudioConfig

    speech = pulse_audio.speak("open the terminal and list the files")
    with wave.open(str(speech)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    run = ScriptedRun([click_step(1)])
    mic = SoundDeviceMicrophone(AudioConfig())
    try:
        window = _window(qtbot, run, mic)
        button = window.task_bar.mic_button
        with qtbot.waitSignal(window.voice.level, timeout=10000):
            qtbot.mousePress(button, Qt.MouseButton.LeftButton)
        pulse_audio.play(speech)
        with qtbot.waitSignal(window.controller.run_finished, timeout=10000):
            qtbot.mouseRelease(button, Qt.MouseButton.LeftButton)
    finally:
        mic.close()
    clip = run.requests[0].voice
    assert clip is not None and clip.sample_rate == 16000
    rms = float(np.sqrt(np.mean(np.square(clip.samples))))
    print(f"recorded {clip.duration:.2f} s (speech {seconds:.2f} s), rms {rms:.4f}")
    assert clip.duration >= seconds * 0.8
    assert rms > 0.01  # speech, not the silence of an unconnected stream


def test_a_changed_microphone_device_is_used_without_a_restart(qtbot, pulse_audio) -> None:
    """The real microphone (compose's, PortAudio → PulseAudio): a device that is not there is named at the next
    push-to-talk, and going back to the default input records speech again — the window never restarts."""
    from omnidesk.app.compose import build_microphone

    settings = Settings()
    speech = pulse_audio.speak("open the files")
    run = ScriptedRun([click_step(1)])
    window = MainWindow(
        settings,
        run,
        monitors=[MONITOR],
        microphone=build_microphone(settings),
        microphone_factory=lambda audio: build_microphone(settings.model_copy(update={"audio": audio})),
    )
    qtbot.addWidget(window)
    window.show()
    assert window.voice is not None
    try:
        elsewhere = Settings()
        elsewhere.audio.device = "Studio Desk Microphone"
        window.apply_settings(elsewhere)
        with qtbot.waitSignal(window.voice.failed, timeout=10000) as failed:
            qtbot.mousePress(window.task_bar.mic_button, Qt.MouseButton.LeftButton)
        qtbot.mouseRelease(window.task_bar.mic_button, Qt.MouseButton.LeftButton)
        assert "no microphone matches 'Studio Desk Microphone'" in failed.args[0]
        qtbot.waitUntil(lambda: not window.voice.recording, timeout=5000)

        window.apply_settings(Settings())
        with qtbot.waitSignal(window.voice.level, timeout=10000):
            qtbot.mousePress(window.task_bar.mic_button, Qt.MouseButton.LeftButton)
        pulse_audio.play(speech)
        with qtbot.waitSignal(window.controller.run_finished, timeout=10000):
            qtbot.mouseRelease(window.task_bar.mic_button, Qt.MouseButton.LeftButton)
    finally:
        close = getattr(window.voice.microphone, "close", None)
        if close is not None:
            close()
    clip = run.requests[0].voice
    assert clip is not None and float(np.sqrt(np.mean(np.square(clip.samples)))) > 0.01  # speech, not silence
