"""How much GUI-thread time a step costs, and how long Stop takes, against baselines from the same run.

    .venv/bin/python bench/bench_gui.py [--steps 200]

Starts a private Xvfb when DISPLAY is unset. Runs a scripted agent (synthetic 960×540 overviews with
two EVS crops per step) through the real MainWindow and reports:

- per-step GUI cost: the time the GUI thread spends on one ``stepped`` signal (timeline row, overlay,
  preview repaint, details) as a ratio to only showing that step's picture in the preview;
- event-loop stall: the worst gap of a 10 ms QTimer heartbeat during the run, as a ratio to the worst gap
  with no run at all;
- stop latency: from pressing Stop during a blocked "generation" to the worker thread's end.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _heartbeat_worst(app, seconds: float, during=None) -> float:  # type: ignore[no-untyped-def]
    from PyQt6.QtCore import QTimer

    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    if during is not None:
        during()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    return max(b - a for a, b in itertools.pairwise(ticks))


def main(steps: int) -> None:
    from PyQt6.QtWidgets import QApplication

    from omnidesk.agent.geometry import Rect
    from omnidesk.app.gui.main_window import MainWindow
    from omnidesk.app.gui.overlay import Overlay
    from omnidesk.app.gui.style import apply_style
    from omnidesk.app.settings import Settings
    from tests.app.gui.scripts import MONITOR, ScriptedRun, click_step

    app = QApplication(["bench", "-platform", "xcb"])
    apply_style(app)
    settings = Settings()
    settings.gui.hide_during_run = False
    script = [click_step(i, crops=[Rect(100 + i, 100, 300, 200), Rect(900, 500, 200, 120)]) for i in range(steps)]

    window = MainWindow(settings, None, monitors=[MONITOR])
    window.resize(1920, 1080)
    window.show()
    app.processEvents()
    # Baseline: only showing each step's new picture (convert, scale, paint), nothing else.
    pictures = []
    for s in script:
        t = time.perf_counter()
        window.preview.show_overlay(Overlay(s.observation.images[0]))
        window.preview.repaint()
        app.processEvents()
        pictures.append(time.perf_counter() - t)
    baseline = statistics.median(pictures)
    costs = []
    for s in script:
        t = time.perf_counter()
        window.controller.stepped.emit(s)  # the same slot chain a worker's step runs
        window.preview.repaint()
        app.processEvents()
        costs.append(time.perf_counter() - t)
    per_step = statistics.median(costs)
    early, late = statistics.median(costs[:20]), statistics.median(costs[-20:])
    print(f"per-step cost of the first 20 steps {early * 1000:.2f} ms, last 20 {late * 1000:.2f} ms")
    print(f"per-step GUI cost: median {per_step * 1000:.2f} ms, p95 {sorted(costs)[int(0.95 * steps)] * 1000:.2f} ms")
    print(f"baseline (new picture only): {baseline * 1000:.2f} ms -> ratio {per_step / baseline:.2f}")
    window.close()

    idle_worst = _heartbeat_worst(app, 1.0)
    run = ScriptedRun(script, delay=0.005)
    window = MainWindow(settings, run, monitors=[MONITOR])
    window.resize(1920, 1080)
    window.show()
    done = threading.Event()
    window.controller.run_finished.connect(lambda _o: done.set())

    def start() -> None:
        window.task_bar.task_edit.setText("bench")
        window.task_bar.run_button.click()

    run_worst = _heartbeat_worst(app, steps * 0.005 + 1.0, during=start)
    print(
        f"heartbeat worst gap: idle {idle_worst * 1000:.1f} ms, during a {steps}-step run "
        f"{run_worst * 1000:.1f} ms -> ratio {run_worst / idle_worst:.2f}"
    )

    latencies = []
    for _ in range(5):
        window.close()
        hang = ScriptedRun(script[:1], hang=True)
        window = MainWindow(settings, hang, monitors=[MONITOR])
        window.show()
        window.task_bar.task_edit.setText("bench")
        window.task_bar.run_button.click()
        while not hang.generating.is_set():
            app.processEvents()
        finished = threading.Event()
        window.controller.run_finished.connect(lambda _o, f=finished: f.set())
        t = time.perf_counter()
        window.controller.stop()
        while not finished.is_set():
            app.processEvents()
        latencies.append(time.perf_counter() - t)
    print(
        f"stop latency: median {statistics.median(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms "
        f"-> ratio to the heartbeat period {statistics.median(latencies) / 0.010:.2f}"
    )
    window.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    if os.environ.get("DISPLAY"):
        main(args.steps)
    else:
        from tests.rig.xserver import start_xvfb

        with tempfile.TemporaryDirectory() as tmp:
            server = start_xvfb(Path(tmp))
            os.environ["DISPLAY"] = server.display
            try:
                main(args.steps)
            finally:
                server.stop()
