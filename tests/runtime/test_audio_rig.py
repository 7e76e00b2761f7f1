"""The microphone on the rig's PulseAudio: espeak-ng speech played into the null-sink microphone."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import wave
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


def listen(mic: SoundDeviceMicrophone, seconds: float, during: threading.Thread | None = None) -> list[AudioClip]:
    stop = CancelToken()
    clips: list[AudioClip] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            clips.extend(mic.utterances(stop))
        except Exception as exc:  # noqa: BLE001 - reported in the test thread
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.3)
    if during is not None:
        during.start()
    time.sleep(seconds)
    stop.cancel()
    worker.join(5)
    assert not errors, errors
    return clips


def test_speech_is_one_utterance_at_the_right_time(pulse_audio: PulseAudioRig) -> None:
    wav = pulse_audio.speak("open the terminal and list the files in my home folder")
    head, tail = voiced_span(read_wav(wav))
    played: list[float] = []

    def play() -> None:
        played.append(time.monotonic())
        pulse_audio.play(wav)

    with SoundDeviceMicrophone(AudioConfig()) as mic:
        clips = listen(mic, 5.0, threading.Thread(target=play))
    start_truth, end_truth = played[0] + head, played[0] + tail
    print(f"truth {start_truth:.3f}..{end_truth:.3f}; clips {[(c.start, c.end) for c in clips]}")
    assert len(clips) == 1
    assert abs(clips[0].start - start_truth) <= 0.2
    assert abs(clips[0].end - end_truth) <= 0.2


def test_silence_yields_no_utterance(pulse_audio: PulseAudioRig) -> None:
    with SoundDeviceMicrophone(AudioConfig()) as mic:
        assert listen(mic, 2.0) == []
        assert mic.level() < 0.05


def test_push_to_talk_records_the_spoken_audio(pulse_audio: PulseAudioRig) -> None:
    wav = pulse_audio.speak("take a screenshot")
    source = read_wav(wav)
    with SoundDeviceMicrophone(AudioConfig()) as mic:
        time.sleep(0.3)
        mic.start_push_to_talk()
        pressed = time.monotonic()
        pulse_audio.play(wav)
        time.sleep(0.3)
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
    time.sleep(0.5)  # the person keeps holding push-to-talk after the device died
    try:
        with pytest.raises(NoMicrophoneError, match="reconnect"):
            mic.stop_push_to_talk()
    finally:
        mic.close()
    # The session's microphone still works afterwards.
    monkeypatch.undo()
    with SoundDeviceMicrophone(AudioConfig()) as again:
        assert again.blocks_after(0, 2.0)
