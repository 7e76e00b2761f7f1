"""The microphone on the rig's PulseAudio: espeak-ng speech played into the null-sink microphone."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from omnidesk.agent.errors import NoMicrophoneError
from omnidesk.agent.ports import AudioClip, CancelToken
from omnidesk.runtime.audio import SoundDeviceMicrophone
from omnidesk.runtime.config import AudioConfig
from tests.rig.audio import PulseAudioRig

pytestmark = pytest.mark.audio


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        assert wav.getframerate() == 16000 and wav.getnchannels() == 1
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return data.astype(np.float32) / 32768.0


def voiced_span(samples: np.ndarray, rate: int = 16000) -> tuple[float, float]:
    """First and last 10 ms frame of the WAV louder than -40 dBFS, in seconds from its start."""
    frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)
    rms = np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1))
    loud = np.nonzero(rms > 0.01)[0]
    return loud[0] * 160 / rate, (loud[-1] + 1) * 160 / rate


class _ListeningToken(CancelToken):
    """A stop token that tells when the listener first asks it whether to stop: ``utterances()`` has taken
    its place in the stream by then, so what is played from now on is heard."""

    def __init__(self) -> None:
        super().__init__()
        self.listening = threading.Event()

    @property
    def cancelled(self) -> bool:
        self.listening.set()
        return super().cancelled


class Listener:
    """``mic.utterances()`` on a thread, its clips gathered as they come."""

    def __init__(self, mic: SoundDeviceMicrophone) -> None:
        self._stop = _ListeningToken()
        self._cond = threading.Condition()
        self.clips: list[AudioClip] = []
        self._errors: list[BaseException] = []
        self._worker = threading.Thread(target=self._run, args=(mic,))
        self._worker.start()
        assert self._stop.listening.wait(10.0), "the listener never started"

    def _run(self, mic: SoundDeviceMicrophone) -> None:
        try:
            for clip in mic.utterances(self._stop):
                with self._cond:
                    self.clips.append(clip)
                    self._cond.notify_all()
        except Exception as exc:  # noqa: BLE001 - reported in the test thread
            self._errors.append(exc)

    def wait_for_clip(self, done: Callable[[AudioClip], bool], timeout: float) -> None:
        """Until a clip for which ``done`` holds has been cut (the assertions after it say what went wrong)."""
        with self._cond:
            self._cond.wait_for(lambda: any(done(c) for c in self.clips), timeout)

    def close(self) -> list[AudioClip]:
        self._stop.cancel()
        self._worker.join(5)
        assert not self._errors, self._errors
        return self.clips


def hear(mic: SoundDeviceMicrophone, seconds: float) -> None:
    """Until the microphone has delivered ``seconds`` of audio from now on (by its blocks' ADC times, so a
    busy machine that delivers late still gets all of it): the scenario's length measured in audio."""
    until = time.monotonic() + seconds
    seq = mic.last_seq
    while True:
        blocks = mic.blocks_after(seq, 5.0)
        assert blocks, "the microphone delivered no audio"
        if blocks[-1].end >= until:
            return
        seq = blocks[-1].seq


def test_speech_is_one_utterance_at_the_right_time(pulse_audio: PulseAudioRig) -> None:
    wav = pulse_audio.speak("open the terminal and list the files in my home folder")
    head, tail = voiced_span(read_wav(wav))
    with SoundDeviceMicrophone(AudioConfig()) as mic:
        listener = Listener(mic)
        try:
            played = time.monotonic()
            pulse_audio.play(wav)
            start_truth, end_truth = played + head, played + tail
            # The utterance that holds the speech's end has been cut (its hangover of silence heard).
            listener.wait_for_clip(lambda c: c.end >= end_truth - 0.2, timeout=10.0)
        finally:
            clips = listener.close()
    print(f"truth {start_truth:.3f}..{end_truth:.3f}; clips {[(c.start, c.end) for c in clips]}")
    assert len(clips) == 1
    assert abs(clips[0].start - start_truth) <= 0.2
    assert abs(clips[0].end - end_truth) <= 0.2


def test_silence_yields_no_utterance(pulse_audio: PulseAudioRig) -> None:
    with SoundDeviceMicrophone(AudioConfig()) as mic:
        listener = Listener(mic)
        try:
            hear(mic, 2.0)  # the scenario: two seconds of silence
        finally:
            clips = listener.close()
        assert clips == []
        assert mic.level() < 0.05


def test_push_to_talk_records_the_spoken_audio(pulse_audio: PulseAudioRig) -> None:
    wav = pulse_audio.speak("take a screenshot")
    source = read_wav(wav)
    with SoundDeviceMicrophone(AudioConfig()) as mic:
        assert mic.blocks_after(mic.last_seq, 5.0)  # audio flows
        mic.start_push_to_talk()
        pressed = time.monotonic()
        pulse_audio.play(wav)
        hear(mic, 0.3)  # the scenario: the key is let go a moment after the speech (past the feed's latency)
        released = time.monotonic()
        clip = mic.stop_push_to_talk()
    held = released - pressed
    assert abs(clip.duration - held) <= 0.15, (clip.duration, held)
    assert clip.sample_rate == 16000
    # Find the source in the recording and correlate.
    corr = np.correlate(clip.samples, source, mode="valid")
    lag = int(np.argmax(corr))
    part = clip.samples[lag : lag + len(source)]
    r = float(np.corrcoef(part, source)[0, 1])
    print(f"held {held:.3f} s, clip {clip.duration:.3f} s, lag {lag / 16000:.3f} s, r={r:.3f}")
    assert r >= 0.9


def test_nonexistent_device_name(pulse_audio: PulseAudioRig) -> None:
    with pytest.raises(NoMicrophoneError, match="no microphone matches 'Definitely Not A Mic'"):
        SoundDeviceMicrophone(AudioConfig(device="Definitely Not A Mic")).start()


def test_no_sound_server_is_a_clear_error_in_a_fresh_process(tmp_path: Path) -> None:
    code = (
        "from omnidesk.runtime.audio import SoundDeviceMicrophone\n"
        "from omnidesk.runtime.config import AudioConfig\n"
        "from omnidesk.agent.errors import NoMicrophoneError\n"
        "try:\n"
        "    SoundDeviceMicrophone(AudioConfig()).start_push_to_talk()\n"
        "except NoMicrophoneError as exc:\n"
        "    print('NoMicrophoneError:', exc)\n"
        "    raise SystemExit(3)\n"
    )
    env = {**os.environ, "PULSE_SERVER": f"unix:{tmp_path}/nothing-here", "PYTHONWARNINGS": "error"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "NoMicrophoneError:" in result.stdout


def test_sound_server_dying_mid_stream_is_a_no_microphone_error(
    pulse_audio: PulseAudioRig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like unplugging the microphone: a private PulseAudio is killed while the stream runs."""
    from tests.rig.audio import start_pulse_audio

    private = start_pulse_audio(tmp_path / "private")
    try:
        for name in ("PULSE_SERVER", "XDG_RUNTIME_DIR", "PULSE_RUNTIME_PATH"):
            monkeypatch.setenv(name, private.env[name])
        mic = SoundDeviceMicrophone(AudioConfig())
        mic.start_push_to_talk()
        assert mic.blocks_after(0, 2.0)  # audio flows
    finally:
        private.stop()
    # Push-to-talk is still held until the microphone has noticed: it reports the loss, or audio stops coming
    # (PortAudio may still hand over what it had buffered first).
    deadline = time.monotonic() + 10.0
    with contextlib.suppress(NoMicrophoneError):
        while mic.blocks_after(mic.last_seq, 1.0) and time.monotonic() < deadline:
            pass
    try:
        with pytest.raises(NoMicrophoneError, match="reconnect"):
            mic.stop_push_to_talk()
    finally:
        mic.close()
    # The session's microphone still works afterwards.
    monkeypatch.undo()
    with SoundDeviceMicrophone(AudioConfig()) as again:
        assert again.blocks_after(0, 2.0)
