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
