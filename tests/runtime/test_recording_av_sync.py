"""A/V alignment of `omnidesk record` on the rig: a colour change and a click triggered together stay together.

The test app repaints a large widget (the item list) in a new colour and, at the same moment, a short
1 kHz click goes into the null-sink microphone through a `pacat` stream that is already open. In the
MKV the first video frame showing the colour (by PTS) and the click's onset (by PTS) must be within
50 ms + one frame period of each other, once the measured trigger skew (the app's `painted` time minus
the time the click was written, both on the monotonic clock) is taken off. Speech played afterwards must
correlate with the espeak-ng WAV, and every frame captured must be in the video or counted as dropped.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest

from tests.rig.audio import SAMPLE_RATE, SINK, PulseAudioRig
from tests.rig.target_client import TargetApp
from tests.runtime.test_audio_rig import read_wav
from tests.runtime.test_recording import decode
from tests.runtime.test_recording_rig import _best_correlation, _omnidesk, wait_recording

pytestmark = [pytest.mark.desktop, pytest.mark.audio]

Launcher = Callable[..., TargetApp]
FPS = 15.0
SECONDS = 6.0
COLORS = [(255, 0, 255), (255, 255, 255), (255, 128, 0)]
CLICK_LEVEL = 0.5
TOLERANCE = 0.050


@dataclass(frozen=True)
class Trigger:
    color: tuple[int, int, int]
    written: float  # monotonic time the click's bytes went to pacat
    painted: float  # monotonic time the app reported the new colour on the X server

    @property
    def skew(self) -> float:
        return self.painted - self.written


def click_bytes(seconds: float = 0.15) -> bytes:
    """A 1 kHz tone with a 1 ms rise: a sharp onset that survives Opus."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    ramp = np.minimum(1.0, t / 0.001)
    tone = CLICK_LEVEL * ramp * np.sin(2 * np.pi * 1000 * t)
    return (tone * 32767).astype("<i2").tobytes()


def open_feed(rig: PulseAudioRig) -> subprocess.Popen[bytes]:
    """A low-latency raw playback stream into the microphone feed, open before the recording starts."""
    return subprocess.Popen(
        [
            "pacat",
            "--playback",
            f"--device={SINK}",
            "--raw",
            "--format=s16le",
            f"--rate={SAMPLE_RATE}",
            "--channels=1",
            "--latency-msec=10",
        ],
        env=rig.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )


def fire(app: TargetApp, feed: subprocess.Popen[bytes], color: tuple[int, int, int], click: bytes) -> Trigger:
    """Recolour the item list and write the click at (as near as possible) the same moment."""
    assert feed.stdin is not None
    app.clear()
    app.send({"cmd": "set_color", "widget": "item_list", "color": "#{:02x}{:02x}{:02x}".format(*color)})
    written = time.monotonic()
    feed.stdin.write(click)
    feed.stdin.flush()
    painted = app.wait_for({"type": "painted"}, timeout=5.0)["t"]
    return Trigger(color, written, float(painted))


def video_onsets(path: Path, rect: tuple[int, int, int, int], colors: list[tuple[int, int, int]]) -> list[float]:
    """PTS (s) of the first frame whose item-list patch shows each colour, in order."""
    x, y, w, h = rect
    found: list[float] = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if len(found) == len(colors):
                break
            rgb = frame.to_ndarray(format="rgb24")
            patch = rgb[y + h // 4 : y + 3 * h // 4, x + w // 4 : x + 3 * w // 4].reshape(-1, 3).astype(int)
            median = np.median(patch, axis=0)
            if np.abs(median - colors[len(found)]).max() <= 30:
                found.append(float(frame.pts * frame.time_base))
    return found


def audio_onsets(path: Path, count: int, *, gap: float = 0.4) -> list[float]:
    """PTS (s) of the first sample above half the click's level, for ``count`` clicks ``gap`` s apart."""
    times: list[np.ndarray] = []
    values: list[np.ndarray] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            data = frame.to_ndarray().reshape(-1) if frame.format.is_planar else frame.to_ndarray()[0]
            start = float(frame.pts * frame.time_base)
            times.append(start + np.arange(frame.samples) / frame.sample_rate)
            values.append(data[: frame.samples])
    t, x = np.concatenate(times), np.abs(np.concatenate(values))
    onsets: list[float] = []
    after = -1.0
    for _ in range(count):
        loud = np.nonzero((x > CLICK_LEVEL / 2) & (t > after))[0]
        if loud.size == 0:
            break
        onsets.append(float(t[loud[0]]))
        after = onsets[-1] + gap
    return onsets


def test_colour_change_and_click_are_aligned(
    x_display: object, pulse_audio: PulseAudioRig, target_app: Launcher, tmp_path: Path
) -> None:
    app = target_app(x=100, y=100, width=800, height=600, title="A/V sync")
    rect = app.widget_rect("item_list")
    speech_wav = pulse_audio.speak("alignment and speech")
    speech = read_wav(speech_wav)
    click = click_bytes()
    feed = open_feed(pulse_audio)
    out = tmp_path / "rec"
    proc = _omnidesk(["record", "--seconds", str(SECONDS), "--fps", str(FPS), "--out", str(out)], tmp_path)
    try:
        wait_recording(proc, out)
        triggers = []
        for color in COLORS:
            triggers.append(fire(app, feed, color, click))
            time.sleep(0.7)  # the clicks' spacing (audio_onsets tells them apart by a 0.4 s gap)
        pulse_audio.play(speech_wav)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if feed.stdin is not None:
            feed.stdin.close()
        feed.wait(10)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    index = json.loads((out / "index.json").read_text())
    assert index["complete"] and index["audio"] and len(index["segments"]) == 1, index
    segment = out / index["segments"][0]["file"]

    frame_times, _, recorded, rate = decode(segment)
    print(f"{len(frame_times)} frames in {SECONDS:g} s at {FPS:g} fps; {stdout.strip()}")
    span = frame_times[-1] - frame_times[0]
    # The video spans the recording (--seconds counts from when both streams record; the last poll may
    # bring one more frame).
    assert 0.5 * SECONDS <= span <= SECONDS + 0.3, index
    # Every frame captured is in the video or counted as dropped (an encoder starved by a loaded machine
    # drops frames and says so); never more than the rate allows.
    assert 0.85 * FPS * span <= len(frame_times) + index["dropped_frames"], index
    assert len(frame_times) <= 1.1 * FPS * span + 1, index
    r = _best_correlation(recorded, speech)
    print(f"speech: {len(recorded) / rate:.2f} s of audio, correlation r={r:.3f}")
    assert r >= 0.7

    seen = video_onsets(segment, rect, COLORS)
    heard = audio_onsets(segment, len(COLORS))
    assert len(seen) == len(heard) == len(COLORS), (seen, heard)
    bound = TOLERANCE + 1.0 / FPS
    errors = []
    for trigger, video, audio in zip(triggers, seen, heard, strict=True):
        error = (video - audio) - trigger.skew
        errors.append(error)
        print(
            f"colour {trigger.color}: video {video:.3f} s, audio {audio:.3f} s, "
            f"video-audio {1000 * (video - audio):+.1f} ms, trigger skew {1000 * trigger.skew:+.1f} ms, "
            f"error {1000 * error:+.1f} ms (bound ±{1000 * bound:.1f} ms)"
        )
    assert all(abs(e) <= bound for e in errors), errors
