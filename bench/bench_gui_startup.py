"""Cold start to window shown, and the app's memory idle and during a run, against a bare Qt window.

    .venv/bin/python bench/bench_gui_startup.py [--trials 3] [--run-seconds 10]

Starts a private Xvfb and the installed ``omnidesk`` with a tiny random omni model (so the real model
loading path runs), types a task into the window with xdotool and samples the process's RSS while it runs.
The baseline, measured in the same run, is a bare PyQt6 window in a fresh interpreter: the part of the
start-up that any PyQt6 app pays.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.models.tiny_gguf import write_mmproj, write_nemotron_h_moe
from tests.rig.xserver import start_xvfb

OMNIDESK = Path(sys.executable).with_name("omnidesk")
BARE_QT = (
    "from PyQt6.QtWidgets import QApplication, QMainWindow; import sys; app = QApplication(sys.argv); "
    "w = QMainWindow(); w.setWindowTitle('BareQt'); w.resize(1280, 800); w.show(); app.exec()"
)


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _wait_window(env: dict[str, str], name: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--name", name], env=env, capture_output=True, text=True, check=False
        ).stdout.split()
        if found:
            return found[0]
        time.sleep(0.02)
    raise RuntimeError(f"no window named {name} within {timeout} s")


def _start(argv: list[str], env: dict[str, str], name: str) -> tuple[subprocess.Popen[bytes], float, str]:
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    window = _wait_window(env, name)
    return proc, time.perf_counter() - start, window


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--run-seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        xvfb = start_xvfb(work)
        model = write_nemotron_h_moe(work / "tiny.gguf")
        mmproj = write_mmproj(work / "tiny-mmproj.gguf")
        env = dict(os.environ, DISPLAY=xvfb.display, XDG_SESSION_TYPE="x11")
        env.pop("WAYLAND_DISPLAY", None)
        env.update(
            OMNIDESK_CONFIG_DIR=str(work / "c"),
            OMNIDESK_DATA_DIR=str(work / "d"),
            OMNIDESK_RUNTIME_DIR=str(work / "r"),
            OMNIDESK_MODEL__MODEL=str(model),
            OMNIDESK_MODEL__MMPROJ=str(mmproj),
            OMNIDESK_SAFETY__MAX_STEPS="1000",
            OMNIDESK_SAFETY__MODEL_ERROR_RETRIES="1000",
            OMNIDESK_SAFETY__DRY_RUN="true",
        )
        try:
            bare, app = [], []
            idle_rss = run_rss = 0.0
            for _ in range(args.trials):
                proc, seconds, _ = _start([sys.executable, "-c", BARE_QT], env, "^BareQt$")
                bare.append(seconds)
                _stop(proc)
                proc, seconds, window = _start([str(OMNIDESK)], env, "^Omnidesk$")
                app.append(seconds)
                time.sleep(3)  # the model loads on a worker after the window shows
                idle_rss = max(idle_rss, _rss_mib(proc.pid))
                # No window manager here: click into the task box (top left of the window) to focus it.
                subprocess.run(
                    ["xdotool", "mousemove", "--window", window, "300", "22", "click", "1"], env=env, check=True
                )
                subprocess.run(["xdotool", "type", "--delay", "12", "find the OK button"], env=env, check=True)
                subprocess.run(["xdotool", "key", "Return"], env=env, check=True)
                deadline = time.monotonic() + args.run_seconds
                while time.monotonic() < deadline:
                    run_rss = max(run_rss, _rss_mib(proc.pid))
                    time.sleep(0.2)
                _stop(proc)
        finally:
            xvfb.stop()
    bare_median, app_median = statistics.median(bare), statistics.median(app)
    print(f"{'measure':<42}{'value':>12}{'ratio':>10}")
    print(f"{'bare PyQt6 window shown (baseline)':<42}{bare_median:>10.2f} s{1.0:>10.2f}")
    print(f"{'omnidesk cold start to window shown':<42}{app_median:>10.2f} s{app_median / bare_median:>10.2f}")
    print(f"{'RSS idle (model loaded, tiny)':<42}{idle_rss:>8.0f} MiB")
    print(f"{'RSS peak during a dry run':<42}{run_rss:>8.0f} MiB{run_rss / idle_rss:>10.2f}")


if __name__ == "__main__":
    main()
