"""Render the README screenshots of the main window at 1920×1080 on a private Xvfb.

    .venv/bin/python -m tests.app.gui.make_screenshots [OUT_DIR]   (default docs/screenshots)

The "screen" the agent sees is a real Qt settings dialog rendered off-screen, so the preview shows
something that looks like a desktop; the run is a scripted one, as in the tests, and a consistent one:
not a dry run, so its clicks were carried out ("acted") and the risky Ctrl+W waits for the person.

The first-run panel (``first-run.png``) shows the downloads of the bundled profile judged for a scripted
machine (a 12 GB GPU, 48 GiB of RAM): the sizes are the published files' and the fit and step estimate
come from doctor's own functions over a footprint of the model's shape, mid-download.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from omnidesk.agent.actions import Click, Done, Hotkey, Point
from omnidesk.agent.geometry import ImageTransform, MonitorInfo, Rect
from omnidesk.agent.ports import ConfirmationRequest, ModelImage, Observation, Step
from omnidesk.app.settings import AppPaths
from tests.rig.xserver import start_xvfb

MONITOR = MonitorInfo(1, "DP-1", Rect(0, 0, 1920, 1080), primary=True)
OTHER = MonitorInfo(2, "HDMI-1", Rect(1920, 0, 2560, 1440))


def _fake_desktop(switch_on: bool = False) -> np.ndarray:
    """A 1920×1080 RGB picture of a desktop with a settings window, drawn by Qt."""
    from PyQt6.QtCore import QRect, Qt
    from PyQt6.QtGui import QColor, QFont, QImage, QLinearGradient, QPainter

    image = QImage(1920, 1080, QImage.Format.Format_RGB888)
    p = QPainter(image)
    gradient = QLinearGradient(0, 0, 1920, 1080)
    gradient.setColorAt(0, QColor("#23395d"))
    gradient.setColorAt(1, QColor("#5b3a70"))
    p.fillRect(0, 0, 1920, 1080, gradient)
    p.fillRect(0, 1040, 1920, 40, QColor(20, 22, 28))
    p.fillRect(560, 170, 800, 640, QColor(246, 247, 249))
    p.fillRect(560, 170, 800, 44, QColor(52, 58, 70))
    font = QFont("DejaVu Sans", 13)
    p.setFont(font)
    p.setPen(QColor("white"))
    p.drawText(QRect(580, 170, 600, 44), Qt.AlignmentFlag.AlignVCenter, "Settings — Appearance")
    p.setPen(QColor(40, 44, 52))
    rows = ["Theme", "Accent colour", "Font size", "Dark mode", "Animations"]
    for i, name in enumerate(rows):
        y = 260 + i * 80
        p.drawText(QRect(610, y, 300, 40), Qt.AlignmentFlag.AlignVCenter, name)
        p.fillRect(1010, y + 4, 300, 32, QColor(226, 229, 234))
    p.fillRect(1230, 504, 60, 32, QColor(47, 111, 237) if switch_on else QColor(160, 166, 176))
    p.setBrush(QColor("white"))
    p.drawEllipse(1260 if switch_on else 1234, 507, 26, 26)
    p.fillRect(1150, 740, 180, 44, QColor(47, 111, 237))
    p.setPen(QColor("white"))
    p.drawText(QRect(1150, 740, 180, 44), Qt.AlignmentFlag.AlignCenter, "Apply")
    p.end()
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    rows_bytes = np.frombuffer(ptr, np.uint8).reshape(1080, image.bytesPerLine())
    return rows_bytes[:, : 1920 * 3].reshape(1080, 1920, 3).copy()


def _observation(screen: np.ndarray, t: float, crops: list[Rect]) -> Observation:
    small = screen[::2, ::2].copy()  # 960×540 overview (the model's view)
    over = ImageTransform(MONITOR, 960, 540, Rect(0, 0, 960, 540), 2.0, 2.0, 0, 0)
    images = [ModelImage(small, over, "overview", t, label="overview")]
    for box in crops:
        pixels = screen[box.y : box.bottom, box.x : box.right].copy()
        tr = ImageTransform(MONITOR, box.width, box.height, Rect(0, 0, box.width, box.height), 1, 1, box.x, box.y)
        images.append(ModelImage(pixels, tr, "crop", t, label=f"changed {box.width}×{box.height} at {box.x},{box.y}"))
    return Observation(tuple(images), t, keyframe=not crops, changed_fraction=0.04, changed_boxes=tuple(crops))


def _steps(before: np.ndarray, after: np.ndarray) -> list[Step]:
    task = "turn on dark mode and apply"
    timings = (("observe", 0.04), ("model", 1.82), ("act", 0.12))
    return [
        Step(
            1,
            task,
            0.0,
            "acted",
            timings,
            _observation(before, 1.0, []),
            reasoning="The Appearance page is open. Dark mode has a switch on the right of its row.",
            actions=(Click(point=Point(x=0.6417, y=0.4815, space="fraction")),),
            performed=1,
            target=(1246, 520),
            result="clicked",
            prompt_tokens=1480,
            completion_tokens=38,
            raw_output="Dark mode is off; its switch is at the right of the row.\n## Action:\nturn the switch on\n"
            "## Code:\n```python\npyautogui.click(x=0.6417, y=0.4815)\n```",
        ),
        Step(
            2,
            task,
            2.0,
            "acted",
            timings,
            _observation(after, 2.0, [Rect(1200, 490, 120, 60)]),
            reasoning="The switch changed. Now press Apply to keep the setting.",
            actions=(Click(point=Point(x=0.643, y=0.706, space="fraction")),),
            performed=1,
            target=(1240, 762),
            result="clicked",
            prompt_tokens=1612,
            completion_tokens=31,
            reused_tokens=1450,
        ),
    ]


def _history(paths: AppPaths, steps: list[Step]) -> None:
    """Two past runs in the data dir, written the way GUI runs are recorded."""
    from omnidesk.agent.trajectory import TrajectoryWriter
    from omnidesk.runtime.png import CvPngEncoder

    done = Step(3, "", 6.0, "finished", {"model": 1.2}, actions=(Done(answer="dark mode is on"),), result="done")
    for folder, task, finished in [
        ("20261124-091502-open-the-downloads-folder", "open the downloads folder", False),
        ("20261125-101502-turn-on-dark-mode-and-apply", "turn on dark mode and apply", True),
    ]:
        with TrajectoryWriter(paths.runs_dir / folder, task, encoder=CvPngEncoder()) as writer:
            for step in [*steps[:2], done] if finished else steps[:1]:
                writer.record(step)


def main(out: Path, data: Path) -> None:
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from omnidesk.app.gui.confirmer import QtConfirmer
    from omnidesk.app.gui.main_window import MainWindow
    from omnidesk.app.gui.style import apply_style
    from omnidesk.app.settings import Settings

    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(["omnidesk", "-platform", "xcb"])
    app.setQuitOnLastWindowClosed(False)  # the first-run window comes after the main one closes
    apply_style(app)
    steps = _steps(_fake_desktop(), _fake_desktop(switch_on=True))
    confirmer = QtConfirmer()
    gate = threading.Event()

    def run(request, cancel):  # type: ignore[no-untyped-def]
        yield from steps
        gate.wait(10)
        confirmer.confirm(
            ConfirmationRequest(
                Hotkey(keys=("ctrl", "w")), "Closing a window may lose work.", "Close the Settings window?"
            )
        )
        cancel.wait(10)

    settings = Settings()
    settings.gui.hide_during_run = False
    paths = AppPaths(data / "config", data / "data", data / "run")
    _history(paths, steps)
    window = MainWindow(settings, run, monitors=[MONITOR, OTHER], confirmer=confirmer, paths=paths)
    window.setGeometry(0, 0, 1920, 1080)
    window.model_label.setText("Model: Nemotron 3 Nano Omni · Q4_K_M · ready")
    window.model_area.change_button.show()  # as in the app, which always has the model setup
    window.show()

    def shoot(name: str) -> None:
        app.processEvents()
        window.grab().save(str(out / name))
        print("wrote", out / name)

    def idle() -> None:
        shoot("main-idle.png")
        window.task_bar.task_edit.setText("Turn on dark mode and apply")
        window.task_bar.dry_run_box.setChecked(False)  # the steps below were carried out
        window.task_bar.run_button.click()
        QTimer.singleShot(700, running)

    def running() -> None:
        window.timeline.select_index(0)
        shoot("main-running.png")
        gate.set()
        QTimer.singleShot(700, confirm)

    def confirm() -> None:
        window.timeline.select_index(1)
        shoot("main-confirm.png")
        window.task_bar.settings_button.click()
        dialog = window.settings_dialog
        assert dialog is not None
        dialog.resize(dialog.minimumWidth(), 660)
        dialog.tabs.setCurrentIndex(1)
        app.processEvents()
        dialog.grab().save(str(out / "settings.png"))
        print("wrote", out / "settings.png")
        dialog.reject()
        window.controller.run_finished.connect(lambda _outcome: QTimer.singleShot(300, history))
        window.controller.stop()

    def history() -> None:
        window.side_tabs.setCurrentWidget(window.history)
        window.history.runs.setCurrentItem(window.history.runs.topLevelItem(0))
        window.history.steps.setCurrentItem(window.history.steps.topLevelItem(1))
        shoot("history.png")
        window.close()
        QTimer.singleShot(300, lambda: _first_run(app, out, paths, hold))

    hold: list[object] = []
    QTimer.singleShot(500, idle)
    app.exec()


def _first_run(app: object, out: Path, paths: AppPaths, hold: list[object]) -> None:
    """The window with no model: the setup panel mid-download, Run waiting with its reason."""
    from PyQt6.QtCore import QTimer

    from omnidesk.app.gui.main_window import MainWindow
    from omnidesk.app.gui.model_loader import ModelStatus
    from omnidesk.app.settings import Settings
    from omnidesk.runtime.hub_download import DownloadProgress

    def nothing_yet(cancel):  # type: ignore[no-untyped-def]
        yield ModelStatus("missing", "not set up — choose one in the window")

    window = MainWindow(
        Settings(), lambda request, cancel: iter(()), monitors=[MONITOR, OTHER], status_source=nothing_yet
    )
    hold.append(window)
    window.setGeometry(0, 0, 1920, 1080)
    window.model_area.change_button.show()
    window.show()
    window.start_status_source()
    choices, machine = _choices()
    panel = window.model_area.panel

    def fill() -> None:
        panel.source_label.setText("from huggingface.co")
        panel.show_choices(choices, machine)
        panel.download_started()
        panel.set_busy(True)  # a download is the setup's one job now
        model, total = choices[0].offer.model, choices[0].offer.total_bytes
        done = int(0.37 * total)
        panel.show_progress(DownloadProgress(model.name, done, model.size, done, total, 46.5 * 2**20))
        app.processEvents()  # type: ignore[attr-defined]
        window.grab().save(str(out / "first-run.png"))
        print("wrote", out / "first-run.png")
        window.close()
        app.quit()  # type: ignore[attr-defined]

    QTimer.singleShot(500, fill)


def _choices() -> tuple[list[object], object]:
    """The bundled profile's two downloads (the published sizes) judged for a scripted machine by doctor's
    own functions, over a footprint of the model's shape: 52 blocks, 23 of them mixture-of-experts."""
    from omnidesk.agent.canvas import ImageCanvas
    from omnidesk.app.doctor_model import Machine, assess_footprint
    from omnidesk.app.model_choices import ModelChoice
    from omnidesk.runtime.hub_download import RemoteFile
    from omnidesk.runtime.llama.offload import DeviceMemory, ModelFootprint
    from omnidesk.runtime.model_catalog import ModelOffer
    from omnidesk.runtime.performance import MachineSpeed, ModelWork
    from omnidesk.runtime.profiles import load_profile

    profile = load_profile("nemotron-3-nano-omni")
    assert profile.download is not None
    repo = profile.download.repo
    machine = Machine(
        DeviceMemory(free_vram=11 * 2**30, free_ram=48 * 2**30, gpu_offload_supported=True, gpu_name="RTX 4070 Ti"),
        MachineSpeed(cpu_gflops=420.0, ram_gbps=38.0),
    )
    mmproj = RemoteFile("mmproj-NVIDIA-Nemotron-3-Nano-Omni-f16.gguf", "", 1_600_000_000)
    choices = []
    for quant, size, bytes_per_param in (("Q4_K_M", 24_500_000_000, 0.6), ("Q8_0", 33_600_000_000, 1.06)):
        moe = [i % 2 == 1 and i < 46 for i in range(52)]
        experts = int(size * 0.86) // sum(moe)
        footprint = ModelFootprint(
            n_layer=52,
            dense_bytes=tuple(int(size * 0.07) // 52 for _ in range(52)),
            expert_bytes=tuple(experts if m else 0 for m in moe),
            cache_bytes=tuple(32768 * 2 * 256 * 2 if i % 9 == 4 else 4 * 2**20 for i in range(52)),
            other_bytes=int(size * 0.07),
            mmproj_bytes=mmproj.size,
        )
        # The published mmproj's sizing (nemotron_v2_vl: a fixed 512² canvas, 16-pixel patches merged 2×2,
        # 256 tokens a screenshot) and an encoder of about 0.6 B parameters (2 FLOPs each, per patch).
        canvas = ImageCanvas("nemotron_v2_vl", "fixed", 16, 2, side=512)
        work = ModelWork(int(3.5e9 * bytes_per_param), int(3.5e9), 1.2e12, 1.2e12 / 1024, canvas)
        offer = ModelOffer(
            profile, quant, repo, RemoteFile(f"NVIDIA-Nemotron-3-Nano-Omni-{quant}.gguf", "", size), mmproj
        )
        fit = assess_footprint(footprint, work, machine)
        choices.append(ModelChoice(offer, fit, recommended=quant == "Q4_K_M"))
    return choices, machine


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots")
    with tempfile.TemporaryDirectory() as tmp:
        server = start_xvfb(Path(tmp))
        os.environ["DISPLAY"] = server.display
        try:
            main(target, Path(tmp))
        finally:
            server.stop()
