"""Segmented MKV recording with synthetic frames and audio (no X server): decoding, PTS, GOP, errors."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from omnidesk.agent.errors import RecordingError
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import Frame
from omnidesk.runtime.recording import SegmentedRecorder, fit_video_size

MONITOR = MonitorInfo(1, "DUMMY0", Rect(0, 0, 1920, 1080), primary=True)
T0 = 1000.0


def frame_at(i: int, fps: float, monitor: MonitorInfo = MONITOR) -> Frame:
    h, w = monitor.geometry.height, monitor.geometry.width
    pixels = np.zeros((h, w, 4), np.uint8)
    pixels[:, :, 1] = (i * 7) % 256
    pixels[100:300, (i * 20) % (w - 200) : (i * 20) % (w - 200) + 200, :3] = 255
    return Frame(pixels, T0 + i / fps, monitor, i + 1)


def decode(path: Path) -> tuple[list[float], list[bool], np.ndarray, int]:
    """Video frame times (s), keyframe flags, and the audio resampled to 16 kHz mono."""
    with av.open(str(path)) as container:
        times, keys = [], []
        for frame in container.decode(video=0):
            times.append(float(frame.pts * frame.time_base))
            keys.append(bool(frame.key_frame))
    audio: list[np.ndarray] = []
    rate = 0
    with av.open(str(path)) as container:
        if container.streams.audio:
            resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    audio.append(out.to_ndarray()[0])
            rate = 16000
    return times, keys, (np.concatenate(audio) if audio else np.zeros(0, np.float32)), rate


def test_segments_decode_with_capture_timed_frames_and_audio(tmp_path: Path) -> None:
    fps, seconds = 10.0, 5.0
    out = tmp_path / "rec"
    recorder = SegmentedRecorder(out, monitor={"index": 1}, size=(1920, 1080), fps=fps, audio=True, segment_seconds=2.0)
    t = np.arange(int(seconds * 16000)) / 16000
    tone = (0.4 * np.sin(2 * np.pi * 330 * t) * (t % 1.0 < 0.5)).astype(np.float32)  # beeps
    n = int(seconds * fps)
    for i in range(n):
        recorder.add_frame(frame_at(i, fps))
        block = slice(int(i / fps * 16000), int((i + 1) / fps * 16000))
        recorder.add_audio(tone[block], T0 + i / fps)
    index = recorder.close()
    assert [s.file for s in index.segments] == ["segment-00000.mkv", "segment-00001.mkv", "segment-00002.mkv"]
    assert [s.start for s in index.segments] == pytest.approx([0.0, 2.0, 4.0])
    assert [s.frames for s in index.segments] == [20, 20, 10]
    assert index.complete and index.width == 1920 and index.height == 1080
    assert (out.stat().st_mode & 0o777) == 0o700
    on_disk = json.loads((out / "index.json").read_text())
    assert on_disk["complete"] and len(on_disk["segments"]) == 3
    decoded_audio = []
    for seg in index.segments:
        times, keys, audio, _ = decode(out / seg.file)
        assert len(times) == seg.frames
        assert times == pytest.approx([k / fps for k in range(seg.frames)], abs=0.002)  # PTS = capture times
        key_times = [tm for tm, k in zip(times, keys, strict=True) if k]
        assert key_times[0] == 0.0 and np.all(np.diff([*key_times, times[-1]]) <= 2.0)
        decoded_audio.append(audio)
    audio = np.concatenate(decoded_audio)
    assert abs(len(audio) - len(tone)) <= 0.1 * 16000
    # Opus is lossy and delays a little: compare loudness envelopes in 50 ms windows.
    env = lambda x: np.sqrt((x[: len(x) // 800 * 800].reshape(-1, 800) ** 2).mean(axis=1))  # noqa: E731
    a, b = env(audio), env(tone)
    m = min(len(a), len(b))
    assert np.corrcoef(a[:m], b[:m])[0, 1] > 0.9


def test_video_is_scaled_to_fit_1080p() -> None:
    assert fit_video_size(1920, 1080) == (1920, 1080)
    assert fit_video_size(3840, 2160) == (1920, 1080)
    assert fit_video_size(1280, 1024) == (1280, 1024)
    assert fit_video_size(3200, 1080) == (1920, 648)
    assert fit_video_size(1366, 768) == (1366, 768)


def test_hidpi_monitor_is_recorded_at_1080p(tmp_path: Path) -> None:
    big = MonitorInfo(1, "DUMMY0", Rect(0, 0, 3840, 2160))
    recorder = SegmentedRecorder(tmp_path / "r", monitor={}, size=(3840, 2160), fps=5, audio=False)
    for i in range(5):
        recorder.add_frame(frame_at(i, 5, big))
    index = recorder.close()
    with av.open(str(tmp_path / "r" / index.segments[0].file)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (1920, 1080)
        assert sum(1 for _ in container.decode(video=0)) == 5


def test_unwritable_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(RecordingError, match="--out"):
        SegmentedRecorder(blocker / "rec", monitor={}, size=(640, 480), fps=5, audio=False)


def test_disk_full_keeps_what_was_written(tmp_path: Path) -> None:
    opened: list[Path] = []

    def open_container(path: Path) -> Any:
        opened.append(path)
        if len(opened) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return av.open(str(path), "w", format="matroska")

    small = MonitorInfo(1, "x", Rect(0, 0, 320, 240))
    out = tmp_path / "rec"
    recorder = SegmentedRecorder(
        out, monitor={}, size=(320, 240), fps=5, audio=False, segment_seconds=2.0, open_container=open_container
    )
    with pytest.raises(RecordingError, match=r"disk is full.*segment-00000\.mkv"):
        for i in range(30):
            recorder.add_frame(frame_at(i, 5, small))
    index = json.loads((out / "index.json").read_text())
    assert [s["file"] for s in index["segments"]] == ["segment-00000.mkv"]
    assert not index["complete"] and "No space" in index["error"]
    times, _, _, _ = decode(out / "segment-00000.mkv")
    assert len(times) == 10


_CHILD = """
import sys, time
import numpy as np
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import Frame
from omnidesk.runtime.recording import SegmentedRecorder
mon = MonitorInfo(1, "x", Rect(0, 0, 640, 360))
rec = SegmentedRecorder(sys.argv[1], monitor={}, size=(640, 360), fps=10, audio=False, segment_seconds=1.0)
i = 0
while True:
    px = np.full((360, 640, 4), i % 256, np.uint8)
    rec.add_frame(Frame(px, 100.0 + i / 10, mon, i + 1))
    print(len(rec.segments), flush=True)
    i += 1
    time.sleep(0.01)
"""


def test_kill_9_loses_at_most_the_open_segment(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(out)], stdout=subprocess.PIPE, text=True, env={**os.environ}
    )
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if int(line) >= 3:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
    index = json.loads((out / "index.json").read_text())
    assert len(index["segments"]) >= 3 and not index["complete"]
    for seg in index["segments"]:
        times, keys, _, _ = decode(out / seg["file"])
        assert len(times) == seg["frames"] == 10 and keys[0]


def test_audio_stamped_before_the_last_block_ended_follows_it(tmp_path: Path) -> None:
    """The microphone's clock estimate can move back under load: a block then starts before the previous one
    ended. It follows the previous one instead (the encoder and muxer refuse time going back) and recording
    goes on with every sample."""
    fps = 10.0
    recorder = SegmentedRecorder(tmp_path / "rec", monitor={}, size=(320, 240), fps=fps, audio=True)
    t = np.arange(40 * 1600) / 16000
    tone = (0.4 * np.sin(2 * np.pi * 330 * t) * (t % 0.5 < 0.25)).astype(np.float32)  # beeps
    small = MonitorInfo(1, "m", Rect(0, 0, 320, 240))
    for i in range(40):
        recorder.add_frame(Frame(np.zeros((240, 320, 4), np.uint8), T0 + i / fps, small, i + 1))
        early = 0.05 if i == 20 else 0.0
        recorder.add_audio(tone[i * 1600 : (i + 1) * 1600], T0 + i / fps - early)
    index = recorder.close()
    assert index.complete and not index.error
    assert index.segments[0].frames == 40
    _, _, audio, _ = decode(tmp_path / "rec" / index.segments[0].file)
    assert abs(len(audio) - len(tone)) <= 0.02 * 16000  # no sample lost
    env = lambda x: np.sqrt((x[: len(x) // 800 * 800].reshape(-1, 800) ** 2).mean(axis=1))  # noqa: E731
    a, b = env(audio), env(tone)
    m = min(len(a), len(b))
    assert np.corrcoef(a[:m], b[:m])[0, 1] > 0.95  # the beeps after the early block are not shifted


class _SlowMicrophone:
    """A microphone whose first sound arrives ``delay`` s after recording begins (then one 30 ms block per
    call), as a real one that takes a while to open."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.last_seq = 0
        self.first: float | None = None

    def blocks_after(self, seq: int, timeout: float) -> list[Any]:
        from omnidesk.runtime.audio import AudioBlock

        if self.first is None:
            threading.Event().wait(self.delay)
            self.first = time.monotonic() - 0.03
        self.last_seq += 1
        return [AudioBlock(self.last_seq, np.zeros(480, np.float32), time.monotonic() - 0.03)]

    def level(self) -> float:
        return 0.0


class _ClockScreen:
    """A Screen whose frames are stamped with the monotonic clock when grabbed."""

    def __init__(self) -> None:
        self.seq = 0

    def monitors(self) -> list[MonitorInfo]:
        return [MONITOR]

    def grab(self, monitor: int) -> Frame:
        self.seq += 1
        return Frame(np.zeros((1080, 1920, 4), np.uint8), time.monotonic(), MONITOR, self.seq)


def test_seconds_count_from_when_screen_and_microphone_both_record(tmp_path: Path) -> None:
    """``record --seconds 2`` with a microphone that needs 1.5 s to deliver sound still records 2 s of both."""
    from omnidesk.agent.ports import CancelToken
    from omnidesk.runtime.capture import CaptureStream
    from omnidesk.runtime.recording import record

    microphone = _SlowMicrophone(delay=1.5)
    recorder = SegmentedRecorder(tmp_path / "rec", monitor={}, size=(1920, 1080), fps=10, audio=True)
    with CaptureStream(_ClockScreen(), fps=10) as stream:
        index = record(stream, recorder, seconds=2.0, stop=CancelToken(), microphone=microphone)  # type: ignore[arg-type]
    assert microphone.first is not None and recorder.origin is not None
    assert recorder.origin >= microphone.first  # no frame from before the first sound
    times, _, _, _ = decode(tmp_path / "rec" / index.segments[0].file)
    # The frames span about 2 s (counting from the first sound lost 1.5 s of them before).
    assert times[-1] > 1.0, times[-1]
