"""Recording benchmarks: dropped frames, CPU and memory of 30 fps 1080p recording, as ratios in one run.

    .venv/bin/python bench/bench_recording.py [--seconds 60] [--memory-seconds 600] [--fps 30] [--no-audio]

Everything runs on a private Xvfb 1920×1080 (started here) showing the Qt target app full screen, which
"types" into its text field every frame and recolours its item list twice a second (driven from a child
process, so only recording is in this process's CPU and memory). Measured:

- a bare capture loop (``CaptureStream`` at ``--fps`` read the way the recorder reads it, frames thrown
  away) for ``--seconds``: the baseline for CPU;
- ``runtime.recording.record`` (capture + libx264/Opus MKV segments + the microphone on a private
  PulseAudio, unless ``--no-audio``) for ``--seconds``: frames captured vs written, dropped, CPU of this
  process (user + system time from ``getrusage``; 100% = one core) and its ratio to the baseline;
- memory: RSS of this process before recording, after the first 10 s and at the end of a
  ``--memory-seconds`` recording (0 skips it), with the maximum seen.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from omnidesk.agent.ports import CancelToken
from omnidesk.runtime.capture import CaptureStream, MssScreen
from omnidesk.runtime.recording import Progress, SegmentedRecorder, record
from tests.rig.target_client import launch_target
from tests.rig.xserver import start_xvfb

COLORS = ["#ff00ff", "#ffffff", "#ff8000", "#00c8c8"]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mib() -> float:
    """Resident set size of this process from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Run:
    seconds: float
    cpu: float
    captured: int
    written: int
    dropped: int
    segments: int
    rss: list[tuple[float, float]]  # (elapsed s, MiB)

    @property
    def cpu_percent(self) -> float:
        return 100 * self.cpu / self.seconds


def drive_screen(fps: float) -> int:
    """Run in a child process: the target app full screen, typing every frame and recolouring its list
    twice a second, until stdin closes. (Kept out of the measured process: the app's client keeps every
    report it receives.)"""
    app = launch_target(Path(tempfile.mkdtemp(prefix="bench-app-")), x=0, y=0, width=1920, height=1080)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    print("ready", flush=True)
    n = 0
    try:
        while not stop.wait(1.0 / fps):
            n += 1
            app.send({"cmd": "set_text", "text": f"typing {n} " + "x" * (n % 60)})
            if n % max(1, round(fps / 2)) == 0:
                app.send({"cmd": "set_color", "widget": "item_list", "color": COLORS[n % len(COLORS)]})
    finally:
        app.close()
    return 0


@contextmanager
def changing_screen(fps: float) -> Iterator[None]:
    """`drive_screen` in a child process on this DISPLAY, for the duration of the block."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--drive", str(fps)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("the screen driver did not start")
        yield
    finally:
        child.stdin.close()
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        child.stdout.close()


def bare_capture(fps: float, seconds: float) -> Run:
    """The capture thread at ``fps`` read like ``record`` reads it; frames are thrown away."""
    with CaptureStream(MssScreen(), monitor=1, fps=fps, buffer_frames=max(8, int(fps / 2))) as stream:
        time.sleep(0.5)
        cpu0, t0 = cpu_seconds(), time.monotonic()
        captured0 = stream.stats().captured
        last_ts, last_seq, taken = float("-inf"), 0, 0
        while time.monotonic() - t0 < seconds:
            if stream.poll_frame(last_seq, 0.1) is None:
                continue
            for frame in stream.frames_since(last_ts):
                last_ts, last_seq = frame.timestamp, frame.seq
                taken += 1
        elapsed, cpu = time.monotonic() - t0, cpu_seconds() - cpu0
        stats = stream.stats()
    return Run(elapsed, cpu, stats.captured - captured0, taken, stats.dropped, 0, [])


def recording(fps: float, seconds: float, out: Path, microphone: Any, sample_every: float = 10.0) -> Run:
    """``record`` for ``seconds`` at ``fps`` into ``out``; RSS sampled every ``sample_every`` s."""
    rss = [(0.0, rss_mib())]
    with CaptureStream(MssScreen(), monitor=1, fps=fps, buffer_frames=max(8, int(fps / 2))) as stream:
        recorder = SegmentedRecorder(
            out, monitor={"index": 1}, size=(1920, 1080), fps=fps, audio=microphone is not None
        )
        cpu0, t0 = cpu_seconds(), time.monotonic()

        def progress(p: Progress) -> None:
            if p.elapsed >= len(rss) * sample_every:
                rss.append((p.elapsed, rss_mib()))

        index = record(
            stream, recorder, seconds=seconds, stop=CancelToken(), microphone=microphone, on_progress=progress
        )
        elapsed, cpu = time.monotonic() - t0, cpu_seconds() - cpu0
        captured = stream.stats().captured
    rss.append((elapsed, rss_mib()))
    written = sum(s.frames for s in index.segments)
    return Run(elapsed, cpu, captured, written, index.dropped_frames, len(index.segments), rss)


def open_microphone(work: Path) -> tuple[Any, Callable[[], None]]:
    """A private PulseAudio with a silent null-sink microphone, and the microphone on it."""
    from tests.rig.audio import start_pulse_audio

    rig = start_pulse_audio(work / "pulse")
    for name in ("PULSE_SERVER", "XDG_RUNTIME_DIR", "PULSE_RUNTIME_PATH"):
        os.environ[name] = rig.env[name]
    from omnidesk.runtime.audio import SoundDeviceMicrophone
    from omnidesk.runtime.config import AudioConfig

    mic = SoundDeviceMicrophone(AudioConfig())
    mic.start()

    def close() -> None:
        mic.close()
        rig.stop()

    return mic, close


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="Seconds of the CPU / dropped-frames runs.")
    parser.add_argument("--memory-seconds", type=float, default=600.0, help="Seconds of the RSS run (0: skip).")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--audio", action=argparse.BooleanOptionalAction, default=True, help="Record the mic too.")
    parser.add_argument("--drive", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        return drive_screen(args.drive)

    work = Path(tempfile.mkdtemp(prefix="bench-recording-"))
    server = start_xvfb(work)
    os.environ["DISPLAY"] = server.display
    microphone, close_mic = open_microphone(work) if args.audio else (None, lambda: None)
    rows: list[tuple[str, str, str]] = []
    try:
        with changing_screen(args.fps):
            time.sleep(1.0)
            bare = bare_capture(args.fps, args.seconds)
            rec = recording(args.fps, args.seconds, work / "rec", microphone)
            shutil.rmtree(work / "rec", ignore_errors=True)
            mem = recording(args.fps, args.memory_seconds, work / "mem", microphone) if args.memory_seconds else None
            if mem is not None:
                shutil.rmtree(work / "mem", ignore_errors=True)
    finally:
        close_mic()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    what = f"{args.fps:g} fps 1080p, {args.seconds:g} s"
    rows.append(
        (
            f"bare capture loop, {what} (baseline)",
            f"{bare.captured} captured, {bare.dropped} dropped, CPU {bare.cpu_percent:.1f}%",
            "1.00",
        )
    )
    rows.append(
        (
            f"record(){' + mic' if args.audio else ''}, {what}",
            f"{rec.captured} captured, {rec.written} written, {rec.dropped} dropped "
            f"({rec.captured - rec.written} not written), CPU {rec.cpu_percent:.1f}%",
            f"CPU {rec.cpu_percent / max(bare.cpu_percent, 1e-9):.2f}x",
        )
    )
    rows.append(
        (
            "frames written / frames the bare loop captured",
            f"{rec.written} / {bare.captured}",
            f"{rec.written / max(bare.captured, 1):.3f}",
        )
    )
    if mem is not None:
        start, first, end = mem.rss[0][1], mem.rss[1][1], mem.rss[-1][1]
        peak = max(m for _, m in mem.rss)
        rows.append(
            (
                f"RSS, record() {args.fps:g} fps for {mem.seconds:.0f} s",
                f"before {start:.0f} MiB, at {mem.rss[1][0]:.0f} s {first:.0f} MiB, "
                f"end {end:.0f} MiB, max {peak:.0f} MiB",
                f"end/at {mem.rss[1][0]:.0f} s {end / first:.2f}",
            )
        )
        rows.append(
            (
                "  that run: frames and CPU",
                f"{mem.captured} captured, {mem.written} written, {mem.dropped} dropped, "
                f"{mem.segments} segments, CPU {mem.cpu_percent:.1f}%",
                "",
            )
        )
        settled = [(t, m) for t, m in mem.rss[:-1] if t >= 60.0]  # the last sample is after closing
        if len(settled) >= 2 and settled[-1][0] > settled[0][0]:
            (t0, m0), (t1, m1) = settled[0], settled[-1]
            rows.append(("  RSS growth after the first minute", f"{60 * (m1 - m0) / (t1 - t0):+.2f} MiB/min", ""))
        print("RSS samples (s, MiB): " + ", ".join(f"{t:.0f}:{m:.0f}" for t, m in mem.rss), flush=True)
    width = max(len(r[0]) for r in rows)
    print(f"{'measurement':<{width}}  {'result':<80}  ratio")
    for name, result, ratio in rows:
        print(f"{name:<{width}}  {result:<80}  {ratio}")
    print(f"({os.cpu_count()} CPUs; CPU% is user+system time of this process, 100% = one core)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
