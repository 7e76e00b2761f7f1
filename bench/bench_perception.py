"""Perception benchmarks: capture, EVS speed, and the tokens EVS saves, as ratios measured in one run.

    .venv/bin/python bench/bench_perception.py [--seconds 3] [--frames 200]

- capture: frames/s of the Screen adapter (mss + privacy mask + read-only Frame) and of the capture thread
  at its 30 fps cap, against a bare ``mss.MSS().grab`` loop at 1080p on the same Xvfb (started here);
- capture + EVS on one core (process pinned to one CPU, OpenCV single-threaded);
- EVS milliseconds per 1080p frame (median, p95) on a scripted desktop session;
- tokens per minute with and without EVS on a realistic agent-paced 60 s scripted session (an overview per
  observation without EVS), and the changed-patch recall on that same session.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import numpy as np

from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import Frame
from omnidesk.runtime.capture import CaptureStream, MssScreen
from omnidesk.runtime.config import EvsConfig
from omnidesk.runtime.evs import EvsCore
from omnidesk.runtime.evs_sampler import EvsSampler
from omnidesk.runtime.windows import WindowMask, X11WindowInspector
from tests.rig.xserver import start_openbox, start_xvfb
from tests.runtime.test_evs_scripted import (
    BUSY_SCRIPT,
    REALISTIC_CPS,
    ScriptedSession,
    realistic_script,
    score_session,
)

MONITOR = MonitorInfo(1, "bench", Rect(0, 0, 1920, 1080), primary=True)
IMAGE_SIZE = 512
TOKENS_PER_IMAGE = (IMAGE_SIZE // 32) ** 2


def _rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds``."""
    for _ in range(20):  # warm up (caches, XShm segment)
        fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


def bench_capture(seconds: float) -> dict[str, float]:
    import mss

    work = Path(tempfile.mkdtemp(prefix="bench-xvfb-"))
    server = start_xvfb(work)
    wm = start_openbox(server.display, work)
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = server.display
    try:
        box = {"left": 0, "top": 0, "width": 1920, "height": 1080}
        with mss.MSS() as sct:
            bare = _rate(lambda: sct.grab(box), seconds)
        screen = MssScreen()
        adapter = _rate(lambda: screen.grab(1), seconds)
        inspector = X11WindowInspector()
        masked_screen = MssScreen(mask=WindowMask(inspector, ["KeePassXC"]))
        masked = _rate(lambda: masked_screen.grab(1), seconds)
        with CaptureStream(screen, monitor=1, fps=30, buffer_frames=8) as stream:
            time.sleep(seconds)
        stats = stream.stats()
        with _one_core():
            core = EvsCore(EvsConfig())
            grab_and_evs = _rate(lambda: _grab_and_sample(screen, core), seconds)
        inspector.close()
        screen.close()
        return {
            "bare": bare,
            "adapter": adapter,
            "masked": masked,
            "thread": stats.fps,
            "thread_missed": float(stats.missed),
            "grab_evs_one_core": grab_and_evs,
        }
    finally:
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old
        wm.stop()
        server.stop()


def _grab_and_sample(screen: MssScreen, core: EvsCore) -> None:
    frame = screen.grab(1)
    core.process(frame.pixels, frame.timestamp)


@contextlib.contextmanager
def _one_core() -> Iterator[None]:
    """Pin this process to one CPU and OpenCV to one thread (the X server itself is not pinned)."""
    previous_affinity = os.sched_getaffinity(0)
    previous_threads = cv2.getNumThreads()
    os.sched_setaffinity(0, {min(previous_affinity)})
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(previous_threads)
        os.sched_setaffinity(0, previous_affinity)


def _session_frames(count: int) -> list[np.ndarray]:
    session = ScriptedSession(BUSY_SCRIPT, fps=count / 11.0, duration=11)
    return [f.pixels for f in session.frames()][:count]


def bench_evs_speed(frames: list[np.ndarray]) -> dict[str, float]:
    core = EvsCore(EvsConfig(keyframe_seconds=1e9))
    core.process(frames[0], 0.0)
    times = []
    for i, pixels in enumerate(frames[1:], start=1):
        t = time.perf_counter()
        core.process(pixels, i * 0.1)
        times.append((time.perf_counter() - t) * 1000)
    return {"median": statistics.median(times), "p95": float(np.percentile(times, 95))}


def bench_one_core(frames: list[np.ndarray], seconds: float) -> dict[str, float]:
    """EVS alone (frames from memory) on one pinned core."""
    with _one_core():
        core = EvsCore(EvsConfig())
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            core.process(frames[n % len(frames)], time.monotonic())
            n += 1
        evs_fps = n / (time.perf_counter() - start)
    return {"evs_fps_one_core": evs_fps}


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _SessionSource:
    def __init__(self, session: ScriptedSession, clock: _Clock) -> None:
        self._frames = session.frames()
        self._clock = clock
        self.current: Frame | None = None

    def advance(self) -> bool:
        try:
            shot = next(self._frames)
        except StopIteration:
            return False
        self._clock.now = shot.timestamp
        seq = 1 if self.current is None else self.current.seq + 1
        self.current = Frame(shot.pixels, shot.timestamp, MONITOR, seq)
        return True

    def latest(self) -> Frame | None:
        return self.current

    def wait_frame(self, after_seq: int = 0, timeout: float = 5.0) -> Frame:
        assert self.current is not None
        return self.current

    def poll_frame(self, after_seq: int, timeout: float) -> Frame | None:
        return self.current


def bench_tokens(fps: float, observe_every: float) -> dict[str, float]:
    """Observe a realistic 60 s session every ``observe_every`` s: tokens/min with EVS vs an overview each time."""
    clock = _Clock()
    session = ScriptedSession(realistic_script(60.0), fps=fps, duration=60.0, chars_per_second=REALISTIC_CPS)
    source = _SessionSource(session, clock)
    sampler = EvsSampler(
        source, EvsConfig(), image_size=IMAGE_SIZE, tokens_per_image=TOKENS_PER_IMAGE, epoch=0.0, clock=clock
    )
    next_obs = 0.0
    while source.advance():
        assert source.current is not None
        if source.current.timestamp + 1e-9 >= next_obs:
            sampler.observe()
            next_obs += observe_every
    stats = sampler.stats()
    score, _ = score_session(
        ScriptedSession(realistic_script(60.0), fps=fps, duration=60.0, chars_per_second=REALISTIC_CPS), EvsConfig()
    )
    return {
        "observations": stats.observations,
        "with": stats.tokens_sent,
        "without": stats.tokens_without_evs,
        "keyframes": stats.keyframes,
        "recall": score.recall,
        "true_changes": score.true_changes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="Seconds per throughput measurement.")
    parser.add_argument("--frames", type=int, default=120, help="1080p frames for the EVS timing.")
    args = parser.parse_args()

    capture = bench_capture(args.seconds)
    frames = _session_frames(args.frames)
    speed = bench_evs_speed(frames)
    one_core = bench_one_core(frames, args.seconds)
    tokens_video = bench_tokens(fps=2.0, observe_every=0.5)
    tokens_agent = bench_tokens(fps=2.0, observe_every=3.0)

    rows = [
        ("bare mss grab loop, 1080p (baseline)", f"{capture['bare']:.0f} fps", "1.00"),
        (
            "MssScreen.grab (Frame, read-only view)",
            f"{capture['adapter']:.0f} fps",
            f"{capture['adapter'] / capture['bare']:.2f}",
        ),
        (
            "MssScreen.grab + deny-list mask (openbox)",
            f"{capture['masked']:.0f} fps",
            f"{capture['masked'] / capture['bare']:.2f}",
        ),
        (
            "CaptureStream thread at its 30 fps cap",
            f"{capture['thread']:.1f} fps ({capture['thread_missed']:.0f} missed)",
            f"{capture['thread'] / 30:.2f} of 30",
        ),
        (
            "EVS per 1080p frame, median / p95",
            f"{speed['median']:.2f} / {speed['p95']:.2f} ms",
            f"{speed['median'] / 5.0:.2f} of the 5 ms budget",
        ),
        (
            "mss grab + EVS on one pinned core (real Xvfb)",
            f"{capture['grab_evs_one_core']:.0f} fps",
            f"{capture['grab_evs_one_core'] / capture['bare']:.2f}",
        ),
        (
            "EVS alone on one pinned core",
            f"{one_core['evs_fps_one_core']:.0f} fps",
            f"{one_core['evs_fps_one_core'] / capture['bare']:.2f} of bare grab rate",
        ),
    ]
    for name, result in (("every frame, 2 fps", tokens_video), ("agent step every 3 s", tokens_agent)):
        minutes = 1.0
        saved = 1 - result["with"] / result["without"]
        rows.append(
            (
                f"tokens/min, realistic 60 s session ({name})",
                f"{result['with'] / minutes:.0f} with EVS vs {result['without'] / minutes:.0f} without",
                f"{saved:.1%} fewer",
            )
        )
    rows.append(
        (
            "changed-patch recall on that session",
            f"{tokens_video['recall']:.2%} of {tokens_video['true_changes']:.0f} patch changes",
            "target >= 99%",
        )
    )
    width = max(len(r[0]) for r in rows)
    print(f"{'measurement':<{width}}  {'result':<45}  ratio")
    for name, result, ratio in rows:
        print(f"{name:<{width}}  {result:<45}  {ratio}")
    print(f"(one image of {IMAGE_SIZE}px = {TOKENS_PER_IMAGE} tokens; {os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
