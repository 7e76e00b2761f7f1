"""`kill -9` of a real `omnidesk record` on the rig in its third segment: every closed 10 s segment still plays."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.rig import wait_until
from tests.rig.audio import PulseAudioRig
from tests.runtime.test_recording import decode
from tests.runtime.test_recording_rig import _omnidesk

pytestmark = [pytest.mark.desktop, pytest.mark.audio, pytest.mark.slow]

FPS = 5
CLOSED = 2  # segments closed before the kill; the kill lands in the next, open one


def _in_open_segment(proc: subprocess.Popen[str], out: Path) -> bool:
    """The index lists ``CLOSED`` closed segments and the next one has been opened (with its first frame)."""
    assert proc.poll() is None, proc.communicate()[1]
    try:
        closed = json.loads((out / "index.json").read_text())["segments"]
    except (OSError, ValueError):  # not written yet (it is replaced atomically, never seen half-written)
        return False
    return len(closed) >= CLOSED and (out / f"segment-{len(closed):05d}.mkv").exists()


def test_kill_9_in_an_open_segment_leaves_closed_segments_playable(
    x_display: object, pulse_audio: PulseAudioRig, tmp_path: Path
) -> None:
    out = tmp_path / "rec"
    proc = _omnidesk(["record", "--fps", str(FPS), "--out", str(out)], tmp_path)
    try:
        started = time.monotonic()
        wait_until(lambda: _in_open_segment(proc, out), 90, f"{CLOSED} closed segments and an open one")
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    index = json.loads((out / "index.json").read_text())
    closed = index["segments"]
    print(f"killed {time.monotonic() - started:.1f} s after the start: {len(closed)} closed segments {closed}")
    assert len(closed) >= CLOSED and not index["complete"] and index["audio"], index
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
