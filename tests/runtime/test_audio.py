"""The microphone adapter with a fake PortAudio, and the VAD cutter on synthetic audio."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from omnidesk.agent.errors import NoMicrophoneError
from omnidesk.agent.ports import CancelToken, Microphone
from omnidesk.runtime.audio import (
    FRAME,
    SAMPLE_RATE,
    AudioBlock,
    SoundDeviceMicrophone,
    VoiceActivityCutter,
    level_of,
)
from omnidesk.runtime.config import AudioConfig


class FakePortAudioError(Exception):
    pass


class FakeStream:
    """Calls the callback from a thread with 30 ms blocks of ``signal`` (then silence), in real time."""

    def __init__(self, device: FakeSoundDevice, callback: Any, finished_callback: Any) -> None:
        self.signal = device.signal
        self.callback = callback
        self.finished = finished_callback
        self.die_after = device.die_after
        self.played = device.played
        self.died = device.died
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        n = 0
        t0 = time.monotonic()
        clock_offset = 5000.0  # PortAudio's clock is not the monotonic one
        while not self._stop.wait(max(0.0, t0 + (n + 1) * FRAME / SAMPLE_RATE - time.monotonic())):
            if self.die_after is not None and n >= self.die_after:
                self.finished()
                self.died.set()
                return
            block = self.signal[n * FRAME : (n + 1) * FRAME]
            block = np.pad(block, (0, FRAME - len(block)))[:, None].astype(np.float32)
            now = time.monotonic() + clock_offset
            info = SimpleNamespace(currentTime=now, inputBufferAdcTime=now - FRAME / SAMPLE_RATE)
            self.callback(block, FRAME, info, 0)
            n += 1
            if n * FRAME >= len(self.signal):
                self.played.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def close(self) -> None:
        pass


class FakeSoundDevice:
    PortAudioError = FakePortAudioError

    def __init__(self, devices: list[dict[str, Any]], signal: np.ndarray | None = None, die_after: int | None = None):
        self.devices = devices
        self.signal = signal if signal is not None else np.zeros(0, np.float32)
        self.die_after = die_after
        self.opened: list[dict[str, Any]] = []
        # What tests wait on instead of a time: the whole signal has been delivered; the device "was
        # unplugged" (after ``die_after`` blocks) and the finished callback has run.
        self.played = threading.Event()
        self.died = threading.Event()

    def query_devices(self, kind: str | None = None) -> Any:
        if kind == "input":
            inputs = [d for d in self.devices if d["max_input_channels"] > 0]
            if not inputs:
                raise FakePortAudioError("Error querying device -1")
            return inputs[0]
        return self.devices

    def InputStream(self, **kwargs: Any) -> FakeStream:
        self.opened.append(kwargs)
        return FakeStream(self, kwargs["callback"], kwargs["finished_callback"])


MIC = {"name": "USB Mic: Audio (hw:1,0)", "max_input_channels": 1}
SPEAKER = {"name": "HDMI out", "max_input_channels": 0}


def tone(seconds: float, amplitude: float = 0.3, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_no_input_device_is_a_no_microphone_error() -> None:
    mic = SoundDeviceMicrophone(AudioConfig(), sounddevice=FakeSoundDevice([SPEAKER]))
    with pytest.raises(NoMicrophoneError, match="no microphone found"):
        mic.start_push_to_talk()


def test_device_selection_by_name_substring() -> None:
    sd = FakeSoundDevice([SPEAKER, MIC])
    mic = SoundDeviceMicrophone(AudioConfig(device="usb mic"), sounddevice=sd)
    mic.start()
    mic.close()
    assert sd.opened[0]["device"] == 1 and mic.device_name == MIC["name"]
    assert sd.opened[0]["samplerate"] == 16000 and sd.opened[0]["channels"] == 1
    assert sd.opened[0]["dtype"] == "float32"
    with pytest.raises(NoMicrophoneError, match=r"no microphone matches 'Blue Yeti'.*USB Mic"):
        SoundDeviceMicrophone(AudioConfig(device="Blue Yeti"), sounddevice=sd).start()


def test_push_to_talk_returns_what_was_heard_with_monotonic_times() -> None:
    signal = tone(2.0)
    held = 20  # blocks heard while the key is held (0.6 s of audio), however late they come
    sd = FakeSoundDevice([MIC], signal)
    mic = SoundDeviceMicrophone(AudioConfig(), sounddevice=sd)
    port: Microphone = mic
    before = time.monotonic()
    port.start_push_to_talk()
    pressed_at = mic.last_seq
    while mic.last_seq < pressed_at + held:
        assert mic.blocks_after(mic.last_seq, 5.0)
    clip = port.stop_push_to_talk()
    after = time.monotonic()
    assert clip.duration >= held * FRAME / SAMPLE_RATE  # every block heard while held is in the clip
    assert before - 0.1 <= clip.start and clip.end <= after + 0.05
    assert np.abs(clip.samples).max() == pytest.approx(0.3, abs=0.01)
    assert 0.7 < mic.level() <= 1.0  # a -13 dBFS tone
    mic.close()  # type: ignore[attr-defined]


def test_device_unplugged_mid_stream() -> None:
    sd = FakeSoundDevice([MIC], tone(5.0), die_after=5)
    mic = SoundDeviceMicrophone(AudioConfig(), sounddevice=sd)
    mic.start_push_to_talk()
    assert sd.died.wait(5.0)  # still held when the device goes away
    with pytest.raises(NoMicrophoneError, match="unplugged"):
        mic.stop_push_to_talk()
    mic.close()


def test_level_meter_scale() -> None:
    assert level_of(np.zeros(480, np.float32)) == 0.0
    assert level_of(np.full(480, 1.0, np.float32)) == pytest.approx(1.0)
    assert level_of(np.full(480, 0.001, np.float32)) == pytest.approx(0.0, abs=1e-6)
    assert level_of(np.full(480, 0.0316, np.float32)) == pytest.approx(0.5, abs=0.01)  # -30 dBFS


def _blocks(voiced: list[bool], start: float = 100.0) -> list[tuple[AudioBlock, bool]]:
    return [
        (AudioBlock(i + 1, np.full(FRAME, 0.1 if v else 0.0, np.float32), start + i * 0.03), v)
        for i, v in enumerate(voiced)
    ]


def test_cutter_finds_one_utterance_with_pauses_and_pads_it() -> None:
    pattern = [False] * 20 + [True] * 30 + [False] * 6 + [True] * 20 + [False] * 30
    cutter = VoiceActivityCutter(2, hangover=0.4, pad=0.06, is_speech=lambda pcm: pcm[:2] != b"\x00\x00")
    clips = [c for b, _ in _blocks(pattern) if (c := cutter.push(b)) is not None]
    assert len(clips) == 1
    clip = clips[0]
    assert clip.start == pytest.approx(100.0 + 20 * 0.03 - 0.06)
    assert clip.end == pytest.approx(100.0 + 76 * 0.03)


def test_cutter_ignores_clicks_and_caps_long_speech() -> None:
    clicks = [False] * 10 + [True, False, False, True, False] * 6 + [False] * 20
    cutter = VoiceActivityCutter(2, is_speech=lambda pcm: pcm[:2] != b"\x00\x00")
    assert [c for b, _ in _blocks(clicks) if (c := cutter.push(b))] == []
    long = VoiceActivityCutter(2, max_seconds=1.5, is_speech=lambda pcm: pcm[:2] != b"\x00\x00")
    clips = [c for b, _ in _blocks([True] * 200) if (c := long.push(b))]
    assert len(clips) >= 3 and all(c.duration <= 1.5 + 1e-6 for c in clips)


def test_utterances_stop_on_cancel() -> None:
    signal = np.concatenate([np.zeros(8000, np.float32), tone(1.0, freq=220), np.zeros(16000, np.float32)])
    sd = FakeSoundDevice([MIC], signal)
    mic = SoundDeviceMicrophone(AudioConfig(vad_aggressiveness=0), sounddevice=sd)
    stop = CancelToken()

    # Cancelled once the whole signal has been heard, its trailing second of silence included.
    threading.Thread(target=lambda: (sd.played.wait(10.0), stop.cancel()), daemon=True).start()
    clips = list(mic.utterances(stop))
    mic.close()
    assert stop.cancelled and sd.played.is_set()
    assert len(clips) == 1 and 0.8 <= clips[0].duration <= 1.4
