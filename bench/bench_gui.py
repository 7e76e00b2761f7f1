"""How much GUI-thread time a step costs, and how long Stop takes, against baselines from the same run.

    .venv/bin/python bench/bench_gui.py [--steps 200]

Starts a private Xvfb when DISPLAY is unset. Runs a scripted agent (synthetic 960×540 overviews with
two EVS crops per step) through the real MainWindow and reports:

- per-step GUI cost: the time the GUI thread spends on one ``stepped`` signal (timeline row, overlay,
  preview repaint, details) as a ratio to only showing that step's picture in the preview;
- event-loop stall: the worst gap of a 10 ms QTimer heartbeat during the run, as a ratio to the worst gap
  with no run at all;
- stop latency: from pressing Stop during a blocked "generation" to the worker thread's end;
- event-loop stall during a model download through the first-run panel (the real ``ModelSetup`` and model
  store against the local Hub mirror, a valid GGUF padded to ``--download-mib``, progress signals at most
  ten a second): the worst heartbeat gap while downloading, as a ratio to the worst gap while idle and to
  the worst gap while another process (``omnidesk models pull``) does the same download — the same work
  for the machine without sharing the GUI's interpreter lock — in alternating rounds, medians with the
  spread.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
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


def main(steps: int, rounds: int = 5, download_mib: int = 256) -> None:
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
    bench_download(app, rounds, download_mib)


def bench_download(app, rounds: int, mib: int) -> None:  # type: ignore[no-untyped-def]
    """Heartbeat worst gap while the setup panel downloads a model, against idle and against the same
    download done by another process (``omnidesk models pull``), alternating rounds.

    The second baseline is the stronger one: it costs the machine the same work but cannot hold this
    process's interpreter lock, so the ratio to it is what downloading on a thread of the GUI process adds.
    The mirror runs in a process of its own for all three (a real Hub is another machine).
    """
    import shutil
    import subprocess

    from PyQt6.QtWidgets import QWidget

    from omnidesk.app.doctor_model import measure_machine
    from omnidesk.app.gui.confirmer import QtConfirmer
    from omnidesk.app.gui.model_area import ModelArea
    from omnidesk.app.gui.model_loader import ModelLoader
    from omnidesk.app.gui.model_setup import ModelSetup
    from omnidesk.app.settings import AppPaths, Settings
    from omnidesk.runtime.model_store import ModelStore
    from omnidesk.runtime.system_probe import probe_remote
    from tests.models.tiny_gguf import write_mmproj, write_nemotron_h_moe

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = write_nemotron_h_moe(root / "tiny.gguf")
        with model.open("ab") as fh:  # bytes after the tensors: still a valid GGUF, now a real download
            fh.write(b"\0" * (mib * 2**20))
        mmproj = write_mmproj(root / "mmproj.gguf", image_size=32)
        repo = {
            "ggml-org/NVIDIA-Nemotron-3-Nano-Omni": {
                "NVIDIA-Nemotron-3-Nano-Omni-Q4_K_M.gguf": model,
                "mmproj-NVIDIA-Nemotron-3-Nano-Omni-f16.gguf": mmproj,
            }
        }
        paths = AppPaths(root / "config", root / "data", root / "run")
        with _mirror_process(repo) as endpoint:
            settings = Settings()
            settings.model.hub_endpoint = endpoint
            machine = measure_machine()
            setup = ModelSetup(
                lambda: settings,
                paths,
                lambda current: ModelStore(paths.models_dir, endpoint=endpoint),
                probe_remote,
                machine=lambda: machine,
            )
            area = ModelArea(QWidget(), ModelLoader(None, QtConfirmer()), setup)
            area.resize(1200, 800)
            area.show()
            idle_busy = threading.Event()
            setup.busy_changed.connect(lambda busy: idle_busy.clear() if busy else idle_busy.set())
            area.show_setup()
            while not idle_busy.is_set():
                app.processEvents()
            other = root / "other"
            (other / "run").mkdir(parents=True, mode=0o700)
            env = dict(os.environ, OMNIDESK_MODEL__HUB_ENDPOINT=endpoint)
            env.update({f"XDG_{name}_HOME": str(other / name.lower()) for name in ("CONFIG", "DATA", "STATE", "CACHE")})
            env["XDG_RUNTIME_DIR"] = str(other / "run")
            cli = Path(sys.executable).parent / "omnidesk"

            def in_thread() -> float:
                shutil.rmtree(paths.models_dir, ignore_errors=True)
                done = threading.Event()
                setup.download_ended.connect(lambda *_a: done.set())
                gap = _heartbeat_until(app, done, lambda: setup.download(area.panel.selected_choice()))
                while setup.busy:
                    app.processEvents()
                setup.download_ended.disconnect()
                return gap

            def in_process() -> float:
                shutil.rmtree(other / "data", ignore_errors=True)
                done = threading.Event()
                procs: list[subprocess.Popen[bytes]] = []

                def start() -> None:
                    proc = subprocess.Popen(
                        [str(cli), "models", "pull"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                    )
                    procs.append(proc)
                    threading.Thread(target=lambda: (proc.wait(), done.set()), daemon=True).start()

                gap = _heartbeat_until(app, done, start)
                if procs[0].returncode != 0:
                    raise SystemExit(f"omnidesk models pull failed ({procs[0].returncode})")
                return gap

            samples: dict[str, list[float]] = {"idle": [], "thread": [], "process": []}
            measure = {"idle": lambda: _heartbeat_worst(app, 1.5), "thread": in_thread, "process": in_process}
            for index in range(rounds):
                order = ("idle", "thread", "process") if index % 2 == 0 else ("process", "thread", "idle")
                for kind in order:
                    samples[kind].append(measure[kind]())
            area.close()
    idle, busy, apart = samples["idle"], samples["thread"], samples["process"]
    to_idle = [b / i for b, i in zip(busy, idle, strict=True)]
    to_apart = [b / a for b, a in zip(busy, apart, strict=True)]
    print(
        f"download of {mib} MiB, heartbeat worst gap (medians of {rounds} alternating rounds): idle "
        f"{statistics.median(idle) * 1000:.1f} ms; the setup panel downloading on its worker thread "
        f"{statistics.median(busy) * 1000:.1f} ms; the same download by another process "
        f"{statistics.median(apart) * 1000:.1f} ms -> thread/idle {statistics.median(to_idle):.2f} "
        f"(min {min(to_idle):.2f}, max {max(to_idle):.2f}), thread/other process {statistics.median(to_apart):.2f} "
        f"(min {min(to_apart):.2f}, max {max(to_apart):.2f})"
    )


def _serve_mirror(repo: dict[str, dict[str, Path]], endpoints, stop) -> None:  # type: ignore[no-untyped-def]
    from tests.models.hub_server import hub_server

    with hub_server(repo) as (endpoint, _):
        endpoints.put(endpoint)
        stop.wait()


@contextlib.contextmanager
def _mirror_process(repo: dict[str, dict[str, Path]]) -> Iterator[str]:
    """The Hub mirror in a process of its own, as a real Hub is another machine's."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    endpoints, stop = context.Queue(), context.Event()
    process = context.Process(target=_serve_mirror, args=(repo, endpoints, stop), daemon=True)
    process.start()
    try:
        yield endpoints.get(timeout=60)
    finally:
        stop.set()
        process.join(10)


def _heartbeat_until(app, done: threading.Event, start) -> float:  # type: ignore[no-untyped-def]
    """Worst gap of a 10 ms heartbeat from ``start()`` until ``done`` is set."""
    from PyQt6.QtCore import QTimer

    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    start()
    while not done.is_set():
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    return max((b - a for a, b in itertools.pairwise(ticks)), default=0.0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5, help="idle/download rounds of the download stall")
    parser.add_argument("--download-mib", type=int, default=256)
    args = parser.parse_args()
    if os.environ.get("DISPLAY"):
        main(args.steps, args.rounds, args.download_mib)
    else:
        from tests.rig.xserver import start_xvfb

        with tempfile.TemporaryDirectory() as tmp:
            server = start_xvfb(Path(tmp))
            os.environ["DISPLAY"] = server.display
            try:
                main(args.steps, args.rounds, args.download_mib)
            finally:
                server.stop()
