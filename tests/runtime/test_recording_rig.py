"""`omnidesk record` on the rig: the target app changing on Xvfb while espeak-ng speech plays into the mic."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from tests.rig import wait_until
from tests.rig.audio import PulseAudioRig
from tests.rig.target_client import TargetApp
from tests.runtime.test_audio_rig import read_wav
from tests.runtime.test_recording import decode

pytestmark = [pytest.mark.desktop, pytest.mark.audio]

Launcher = Callable[..., TargetApp]


def _omnidesk(args: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "OMNIDESK_CONFIG_DIR": str(tmp_path / "config"),
        "OMNIDESK_DATA_DIR": str(tmp_path / "data"),
        "PYTHONWARNINGS": "error",
    }
    return subprocess.Popen(
        [sys.executable, "-c", _MAIN, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


_MAIN = "import sys; from omnidesk.app.cli import main; sys.argv[0] = 'omnidesk'; sys.exit(main())"


def wait_recording(proc: subprocess.Popen[str], out: Path) -> None:
    """Wait until the recorder has written its first frame: the first segment is opened with it, after the
    microphone's first sound (both streams start together), so from now on what happens is recorded."""

    def started() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"omnidesk record exited with {proc.returncode}: {proc.communicate()[1]}")
        return (out / "segment-00000.mkv").exists()

    wait_until(started, 60, "the recorder's first frame")


def _best_correlation(recorded: np.ndarray, source: np.ndarray) -> float:
    corr = np.correlate(recorded, source, mode="valid")
    lag = int(np.argmax(np.abs(corr)))
    return float(np.corrcoef(recorded[lag : lag + len(source)], source)[0, 1])


def test_record_screen_and_speech(
    x_display: object, pulse_audio: PulseAudioRig, target_app: Launcher, tmp_path: Path
) -> None:
    app = target_app(x=100, y=100, width=800, height=600, title="Recorded app")
    wav = pulse_audio.speak("this is a recording test")
    source = read_wav(wav)
    out = tmp_path / "rec"
    proc = _omnidesk(["record", "--seconds", "5", "--fps", "10", "--out", str(out)], tmp_path)
    wait_recording(proc, out)
    for k in range(5):
        app.send({"cmd": "set_text", "text": f"change {k}"})
        time.sleep(0.1)
    pulse_audio.play(wav)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    index = json.loads((out / "index.json").read_text())
    assert index["complete"] and index["audio"]
    assert (out.stat().st_mode & 0o777) == 0o700
    frames = sum(s["frames"] for s in index["segments"])
    times, keys, audio, rate = [], [], [], 16000
    for seg in index["segments"]:
        t, k, a, _ = decode(out / seg["file"])
        times += t
        keys += k
        audio.append(a)
    assert len(times) == frames and keys[0]
    # The video spans the recording: --seconds counts from when screen and microphone both record, and the
    # last poll may bring one more frame.
    assert 3.0 <= times[-1] - times[0] <= 5.3, index
    # Every frame captured at 10 fps is in the video or counted as dropped (an encoder starved by a loaded
    # machine drops frames; it must say so), and there are never more than the rate allows.
    assert 0.8 * 10 * (times[-1] - times[0]) <= frames + index["dropped_frames"], index
    assert frames <= 10 * (times[-1] - times[0]) * 1.1 + 1, index
    # The video shows the screen: the target app's green OK button where the app put it.
    with av.open(str(out / index["segments"][-1]["file"])) as container:
        decoded = list(container.decode(video=0))
        rgb = decoded[-1].to_ndarray(format="rgb24")
    x, y, _, h = app.widget_rect("ok_button")
    patch = rgb[y + 6 : y + h - 6, x + 6 : x + 30].reshape(-1, 3).astype(int)
    assert np.abs(np.median(patch, axis=0) - (0, 200, 0)).max() <= 12, np.median(patch, axis=0)
    recorded = np.concatenate(audio)
    # The sound covers the video (both start with the microphone's first sound, which a loaded machine
    # may deliver late in the 5 s) and stops with it.
    assert times[-1] - times[0] - 0.2 <= len(recorded) / rate <= 5.5, len(recorded) / rate
    r = _best_correlation(recorded, source)
    print(f"{frames} frames, {len(recorded) / rate:.2f} s audio, r={r:.3f}; {stdout.strip()}")
    assert r >= 0.7


def test_ctrl_c_finishes_cleanly(x_display: object, pulse_audio: PulseAudioRig, tmp_path: Path) -> None:
    out = tmp_path / "rec"
    proc = _omnidesk(["record", "--fps", "5", "--out", str(out), "--no-audio"], tmp_path)
    wait_recording(proc, out)
    time.sleep(2.0)  # what is recorded: about ten frames, then Ctrl+C
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    index = json.loads((out / "index.json").read_text())
    assert index["complete"] and len(index["segments"]) == 1
    times, _, _, _ = decode(out / index["segments"][0]["file"])
    assert len(times) == index["segments"][0]["frames"] >= 5
    assert "1 segments" in stdout
