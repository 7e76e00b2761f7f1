"""The capture thread with in-memory screens (no X server)."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from omnidesk.agent.errors import CaptureError, ConfigError
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import Frame
from omnidesk.runtime.capture import CaptureStream
from tests.fakes import make_frame

SMALL = MonitorInfo(1, "DUMMY0", Rect(0, 0, 64, 48), primary=False)


class CountingScreen:
    """Hands out fresh small frames; optionally slow, or failing after a number of grabs."""

    def __init__(self, delay: float = 0.0, fail_after: int | None = None) -> None:
        self.delay = delay
        self.fail_after = fail_after
        self.grabs = 0
        self.threads: set[str] = set()

    def monitors(self) -> list[MonitorInfo]:
        return [SMALL]

    def grab(self, monitor: int) -> Frame:
        self.threads.add(threading.current_thread().name)
        self.grabs += 1
        if self.fail_after is not None and self.grabs > self.fail_after:
            raise CaptureError("the X server went away")
        if self.delay:
            time.sleep(self.delay)
        return make_frame(SMALL, color=(self.grabs % 256, 0, 0), timestamp=time.monotonic())


def test_ring_buffer_is_bounded_and_counts_unread_frames() -> None:
    screen = CountingScreen()
    with CaptureStream(screen, fps=30, buffer_frames=3) as stream:
        first = stream.wait_frame(0, timeout=2)
        while stream.stats().captured < 12:
            time.sleep(0.02)
        frames = stream.frames_since(0.0)
    stats = stream.stats()
    assert len(frames) == 3
    assert [f.seq for f in frames] == sorted(f.seq for f in frames)
    assert frames[-1].seq - frames[0].seq == 2
    assert all(b.timestamp > a.timestamp for a, b in itertools.pairwise(frames))
    assert first.seq >= 1
    # Everything captured but never read fell off the ring and was counted.
    assert stats.overwritten >= stats.captured - 3 - first.seq - 1
    assert stats.overwritten > 0
    assert screen.threads == {"omnidesk-capture"}


def test_frames_since_returns_only_newer_frames() -> None:
    with CaptureStream(CountingScreen(), fps=30, buffer_frames=10) as stream:
        a = stream.wait_frame(0, timeout=2)
        b = stream.wait_frame(a.seq, timeout=2)
        newer = stream.frames_since(a.timestamp)
    assert newer and newer[0].seq == a.seq + 1
    assert b.seq > a.seq
    assert all(f.timestamp > a.timestamp for f in newer)


def test_late_grabs_skip_ticks_instead_of_queueing() -> None:
    screen = CountingScreen(delay=0.1)
    with CaptureStream(screen, fps=30, buffer_frames=4) as stream:
        frame = stream.wait_frame(0, timeout=5)
        while frame.seq < 6:  # six 0.1 s grabs: at least 0.6 s, in which 30 fps asks for 18 ticks or more
            frame = stream.wait_frame(frame.seq, timeout=5)
    stats = stream.stats()
    assert stats.captured >= 6
    # The late ticks are counted, not queued: each grab skips the two it overran, however busy the box is.
    assert stats.missed >= 3 and stats.missed > stats.captured


def test_capture_errors_reach_readers() -> None:
    stream = CaptureStream(CountingScreen(fail_after=2), fps=30).start()
    try:
        deadline = time.monotonic() + 3
        with pytest.raises(CaptureError, match="went away"):
            while time.monotonic() < deadline:
                stream.latest()
                time.sleep(0.01)
        with pytest.raises(CaptureError):
            stream.wait_frame(10**6, timeout=1)
    finally:
        stream.stop()


def test_fps_is_bounded() -> None:
    with pytest.raises(ConfigError):
        CaptureStream(CountingScreen(), fps=0)
    with pytest.raises(ConfigError):
        CaptureStream(CountingScreen(), fps=31)
    assert CaptureStream(CountingScreen()).fps == 2.0


def test_region_needs_a_region_screen() -> None:
    with pytest.raises(ConfigError, match="region"):
        CaptureStream(CountingScreen(), region=Rect(0, 0, 10, 10))
