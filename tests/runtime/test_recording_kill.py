"""`kill -9` of a real `omnidesk record` on the rig after 25 s: every closed 10 s segment still plays."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.rig.audio import PulseAudioRig
from tests.runtime.test_recording import decode
from tests.runtime.test_recording_rig import _omnidesk

pytestmark = [pytest.mark.desktop, pytest.mark.audio, pytest.mark.slow]

FPS = 5
KILL_AFTER = 25.0


def test_kill_9_after_25_s_leaves_closed_segments_playable(
    x_display: object, pulse_audio: PulseAudioRig, tmp_path: Path
) -> None:
    out = tmp_path / "rec"
    proc = _omnidesk(["record", "--fps", str(FPS), "--out", str(out)], tmp_path)
    try:
        deadline = time.monotonic() + 30
        while not (out / "index.json").exists() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.05)
        started = time.monotonic()
        time.sleep(KILL_AFTER)
        assert proc.poll() is None, proc.communicate()[1]
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    index = json.loads((out / "index.json").read_text())
    closed = index["segments"]
    print(f"killed after {time.monotonic() - started:.1f} s: {len(closed)} closed segments {closed}")
    assert len(closed) >= 2 and not index["complete"] and index["audio"], index
    on_disk = sorted(p.name for p in out.glob("segment-*.mkv"))
    assert on_disk[: len(closed)] == [s["file"] for s in closed]
    assert len(on_disk) <= len(closed) + 1  # only the open one is extra
    for segment in closed:
        times, keys, audio, rate = decode(out / segment["file"])
        print(f"{segment['file']}: {len(times)} frames, {len(audio) / rate:.2f} s audio")
        assert len(times) == segment["frames"] and keys[0]
        assert abs(len(times) - FPS * 10) <= FPS  # a full 10 s segment at about the set rate
        assert times == sorted(times) and times[-1] <= 10.0
        assert abs(len(audio) / rate - segment["audio_seconds"]) <= 0.1
        # No audio lost at the boundaries: each segment's audio covers its video.
        assert segment["audio_seconds"] >= segment["duration"] - 0.1, segment
