"""A question about a recording asked by voice from History: espeak-ng speech played into the rig's PulseAudio
null-sink microphone, recorded by the real microphone (PortAudio) while "Hold to ask by voice" is held, and
sent with the recording to the strict scripted Nemotron, which takes the spoken question only as its own
labelled 16 kHz audio after the recording's frames and sound. No microphone: one clear line, nothing asked."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import Qt

from omnidesk.agent.errors import NoMicrophoneError
from omnidesk.agent.ports import CancelToken
from omnidesk.agent.recording_prompt import SPOKEN_QUESTION
from omnidesk.app.gui.agent_runner import GuiAgentRunner
from omnidesk.app.gui.confirmer import QtConfirmer
from omnidesk.app.gui.history import HistoryPanel
from omnidesk.app.gui.voice import VoiceRecorder
from omnidesk.app.settings import AppPaths, Settings
from tests.app.gui.test_agent_runner import FakeSessions
from tests.app.test_ask_recording import BEEP_AT, BLUE_AT, RED_AT, make_recording, policy
from tests.fakes import FakeMicrophone
from tests.models.scripted_nemotron_video import Combine, SeenPart, serve

pytestmark = pytest.mark.desktop

WAIT_MS = 120_000
FOLDER = "20261202-101500-demo"


def voiced_seconds(samples: np.ndarray, rate: int = 16000) -> float:
    """From the first to the last 10 ms window louder than a tenth of the loudest: how long the speech is."""
    windows = len(samples) // (rate // 100)
    env = np.sqrt((samples[: windows * (rate // 100)].reshape(windows, -1) ** 2).mean(axis=1))
    loud = np.flatnonzero(env > 0.1 * env.max())
    return float(loud[-1] - loud[0] + 1) / 100 if len(loud) else 0.0


def answer_spoken(seen: SeenPart | Combine) -> str:
    """Says how much speech the question held, then what :func:`policy` says about the boxes."""
    heard = f"I heard {voiced_seconds(seen.spoken):.1f} s of question. " if seen.spoken is not None else ""
    return heard + policy(seen)


def _history(qtbot, tmp_path: Path, url: str, voice: VoiceRecorder | None) -> tuple[HistoryPanel, GuiAgentRunner]:
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")
    make_recording(paths.recordings_dir / FOLDER)
    settings = Settings()
    settings.model.remote_url = url  # loopback: no consent question
    runner = GuiAgentRunner(settings, paths, QtConfirmer(), session_factory=FakeSessions())
    list(runner.load(CancelToken()))
    panel = HistoryPanel(paths.runs_dir, recordings_dir=paths.recordings_dir, asker=runner.ask_recording)
    panel.ask.set_voice(voice)
    qtbot.addWidget(panel)
    panel.show()
    return panel, runner


def _select(panel: HistoryPanel, name: str) -> None:
    ask = panel.ask
    ask.refresh()
    items = [ask.recordings.item(i) for i in range(ask.recordings.count())]
    ask.recordings.setCurrentItem(next(i for i in items if i is not None and i.text() == name))


@pytest.mark.audio
def test_a_spoken_question_reaches_the_model_as_its_own_audio_with_the_recording(
    qtbot, tmp_path: Path, pulse_audio
) -> None:
    from omnidesk.runtime.audio import SoundDeviceMicrophone
    from omnidesk.runtime.config import AudioConfig

    speech = pulse_audio.speak("when did the blue box appear")
    with wave.open(str(speech)) as wav:
        said = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.float32) / 32768
    mic = SoundDeviceMicrophone(AudioConfig())
    try:
        with serve(answer_spoken, (640, 360)) as model:
            voice = VoiceRecorder(mic, 30.0)
            panel, runner = _history(qtbot, tmp_path, model.url, voice)
            _select(panel, FOLDER)
            ask = panel.ask
            assert ask.voice_button.isEnabled()
            with qtbot.waitSignal(voice.level, timeout=10_000):
                qtbot.mousePress(ask.voice_button, Qt.MouseButton.LeftButton)
            assert ask.listening and "Listening" in ask.answer.text()
            pulse_audio.play(speech)
            with qtbot.waitSignal(ask.finished, timeout=WAIT_MS) as finished:
                qtbot.mouseRelease(ask.voice_button, Qt.MouseButton.LeftButton)
            runner.close()
    finally:
        mic.close()
    assert finished.args == ["answered"], ask.answer.text()
    assert model.refusals == []
    (seen,) = model.seen
    assert isinstance(seen, SeenPart) and seen.spoken is not None
    # The question: the speech espeak-ng said (as long, within 0.25 s), not silence, apart from the recording.
    heard, spoken = voiced_seconds(seen.spoken), voiced_seconds(said)
    rms = float(np.sqrt(np.mean(np.square(seen.spoken))))
    print(f"espeak said {spoken:.2f} s; the model got {len(seen.spoken) / 16000:.2f} s, {heard:.2f} s voiced")
    assert abs(heard - spoken) <= 0.25 and rms > 0.01
    # The recording: its frames (the start, then once each box has settled) and its own 8 s of sound, the beep
    # where it was.
    assert len(seen.times) == 3 and seen.times[0] == 0.0 and RED_AT <= seen.times[1] < BLUE_AT <= seen.times[2]
    assert sum(seen.clips) == pytest.approx(8.0, abs=0.15)
    loud = np.flatnonzero(np.abs(seen.audio) > 0.25)
    assert loud[0] / 16000 == pytest.approx(BEEP_AT, abs=0.05)
    text = ask.answer.text()
    assert text.startswith(f"You asked by voice ({len(seen.spoken) / 16000:.1f} s).\n\nI heard {heard:.1f} s of"), text
    assert "red box at 00:02 and the blue box at 00:05" in text
    assert f"Looked at 00:00–00:08 of {FOLDER}: 3 frames at 00:00, 00:02, 00:05" in text
    assert ask.voice_button.isEnabled() and not ask.listening


class MissingMicrophone(FakeMicrophone):
    def start_push_to_talk(self) -> None:
        raise NoMicrophoneError("no microphone: plug one in or pick a device with `omnidesk config set audio.device`")


def test_no_microphone_is_one_line_and_nothing_is_asked(qtbot, tmp_path: Path) -> None:
    with serve(answer_spoken, (640, 360)) as model:
        voice = VoiceRecorder(MissingMicrophone(), 30.0)
        panel, runner = _history(qtbot, tmp_path, model.url, voice)
        ask = panel.ask
        with qtbot.waitSignal(ask.failed) as failed:
            qtbot.mouseClick(ask.voice_button, Qt.MouseButton.LeftButton)
        assert failed.args[0].startswith("Select a recording first") and not voice.recording
        _select(panel, FOLDER)
        with qtbot.waitSignal(ask.failed, timeout=10_000) as failed:
            qtbot.mousePress(ask.voice_button, Qt.MouseButton.LeftButton)
        qtbot.mouseRelease(ask.voice_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not voice.recording, timeout=10_000)
        runner.close()
    line = ask.answer.text()
    assert failed.args == [line] and line.startswith("no microphone: plug one in") and "\n" not in line
    assert not ask.listening and not ask.asking and ask.voice_button.isEnabled()
    assert model.seen == [] and model.refusals == []
    panel.ask.set_voice(None)
    assert not ask.voice_button.isEnabled() and ask.voice_button.toolTip() == "No microphone configured"


@pytest.mark.audio
def test_the_what_happened_hotkey_held_asks_the_spoken_question_and_tapped_the_default(
    qtbot, tmp_path: Path, pulse_audio
) -> None:
    """xdotool holds the global hotkey while espeak-ng speaks into the rig's microphone: the newest recording's
    last 3 s go to the model with the spoken question; a tap then asks the default question."""
    import os
    import subprocess

    from omnidesk.app.gui.main_window import MainWindow
    from omnidesk.app.gui.recording_ask import WHAT_HAPPENED
    from omnidesk.app.hotkeys import GlobalHotkeys
    from omnidesk.runtime.audio import SoundDeviceMicrophone
    from omnidesk.runtime.config import AudioConfig
    from tests.app.gui.scripts import MONITOR

    speech = pulse_audio.speak("what did I just do")
    with wave.open(str(speech)) as wav:
        said = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.float32) / 32768
    settings = Settings()
    settings.recording.what_happened_minutes = 0.05  # the last 3 s
    combo, env = settings.hotkeys.what_happened, dict(os.environ)
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")
    make_recording(paths.recordings_dir / "20261202-090000-older", audio=False)
    make_recording(paths.recordings_dir / FOLDER)
    hotkeys = GlobalHotkeys(settings.hotkeys)
    assert hotkeys.start() is None
    mic = SoundDeviceMicrophone(AudioConfig())
    try:
        with serve(answer_spoken, (640, 360)) as model:
            settings.model.remote_url = model.url
            runner = GuiAgentRunner(settings, paths, QtConfirmer(), session_factory=FakeSessions())
            list(runner.load(CancelToken()))
            window = MainWindow(
                settings,
                runner,
                monitors=[MONITOR],
                paths=paths,
                recording_asker=runner.ask_recording,
                hotkeys=hotkeys,
                microphone=mic,
            )
            qtbot.addWidget(window)
            window.hide()  # the hotkey works with the window hidden
            ask = window.history.ask
            assert ask.voice_button.isEnabled()  # the window's microphone is History's too
            with qtbot.waitSignal(window.voice.level, timeout=10_000):
                subprocess.run(["xdotool", "keydown", combo], check=True, env=env, timeout=10)
            pulse_audio.play(speech)
            with qtbot.waitSignal(ask.finished, timeout=WAIT_MS) as spoken:
                subprocess.run(["xdotool", "keyup", combo], check=True, env=env, timeout=10)
            assert spoken.args == ["answered"], ask.answer.text()
            spoken_text = ask.answer.text()
            with qtbot.waitSignal(ask.finished, timeout=WAIT_MS) as tapped:
                subprocess.run(["xdotool", "key", combo], check=True, env=env, timeout=10)
            runner.close()
    finally:
        hotkeys.stop()
        mic.close()
    assert tapped.args == ["answered"], ask.answer.text()
    assert model.refusals == []
    first, second = model.seen
    assert isinstance(first, SeenPart) and first.spoken is not None and first.question == SPOKEN_QUESTION
    heard, spoken_seconds = voiced_seconds(first.spoken), voiced_seconds(said)
    print(
        f"espeak said {spoken_seconds:.2f} s; the model got {heard:.2f} s voiced of {len(first.spoken) / 16000:.2f} s"
    )
    assert abs(heard - spoken_seconds) <= 0.25
    # The newest recording (with sound), its last 3 s: one frame, 3 s of its own sound, apart from the question.
    assert first.span == ("00:05", "00:08", "00:08") and len(first.times) == 1
    assert sum(first.clips) == pytest.approx(3.0, abs=0.15)
    assert spoken_text.startswith("You asked by voice (") and f"I heard {heard:.1f} s of question." in spoken_text
    assert f"Looked at 00:05–00:08 of {FOLDER}: 1 frame at 00:05" in spoken_text
    assert isinstance(second, SeenPart) and second.spoken is None and second.question == WHAT_HAPPENED
    assert window.isVisible() and window.side_tabs.currentWidget() is window.history


def test_the_what_happened_hotkey_asks_once_per_hold_whatever_the_microphone_does(qtbot) -> None:
    from omnidesk.agent.ports import AudioClip
    from omnidesk.app.gui.what_happened import WhatHappenedHotkey

    def hold(voice: VoiceRecorder | None, until: str) -> list[object]:
        """Press, wait ``until`` (the recording "failed" or "asked" while held, or "listening"), release."""
        trigger = WhatHappenedHotkey(voice)
        asks: list[object] = []
        trigger.ask.connect(asks.append)
        trigger.press()
        if voice is not None:
            ready = {"failed": lambda: not voice.recording, "asked": lambda: bool(asks)}
            qtbot.waitUntil(ready.get(until, lambda: voice.recording), timeout=10_000)
            assert trigger.listening is (until == "listening")
        trigger.release()
        if voice is not None:
            qtbot.waitUntil(lambda: bool(asks) and not voice.recording, timeout=10_000)
        qtbot.wait(50)  # let any second, wrong ask arrive
        return asks

    assert hold(None, "") == [None]  # no microphone configured: the default question, as a tap
    assert hold(VoiceRecorder(MissingMicrophone(), 30.0), "failed") == [None]  # fails while held: asked on release
    tap = AudioClip(np.zeros(800, np.float32), 16000, 0.0, 0.05)
    assert hold(VoiceRecorder(FakeMicrophone([tap]), 30.0), "listening") == [None]  # too short to be a question
    said = AudioClip(np.full(16000, 0.1, np.float32), 16000, 0.0, 1.0)
    assert hold(VoiceRecorder(FakeMicrophone([said]), 30.0), "listening") == [said]
    # Held past the recording's limit: the question is asked when the clip comes, the release asks nothing more.
    assert hold(VoiceRecorder(FakeMicrophone([said]), 0.1), "asked") == [said]
    # A model that cannot hear: the hold records nothing and asks the default question.
    voice = VoiceRecorder(FakeMicrophone([said]), 30.0)
    deaf = WhatHappenedHotkey(voice)
    deaf.set_hearing_problem("the model cannot hear: its mmproj has no audio encoder")
    asks: list[object] = []
    deaf.ask.connect(asks.append)
    deaf.press()
    assert not deaf.listening and not voice.recording
    deaf.release()
    assert asks == [None]
