"""The window driving the real Agent (agent/loop.py) with a scripted FakeModel and in-memory ports.

The same seam the composition root uses: a Runner that builds the Agent for the request (dry run,
monitor) with the window's QtConfirmer, and runs it on the window's worker thread.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest
from PyQt6.QtCore import Qt

from omnidesk.agent.config import AgentConfig, SafetyConfig
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.loop import Agent
from omnidesk.agent.ports import CancelToken, ModelRequest
from omnidesk.app.gui.confirmer import QtConfirmer
from omnidesk.app.gui.controller import RunRequest
from omnidesk.app.gui.main_window import MainWindow
from omnidesk.app.settings import Settings
from tests.fakes import (
    FakeClock,
    FakeModel,
    FakeSampler,
    RecordingInputDevice,
    StaticScreen,
    make_frame,
    request_images,
)

pytestmark = pytest.mark.desktop
log = logging.getLogger(__name__)

RIGHT = MonitorInfo(index=2, name="DUMMY1", geometry=Rect(1920, 0, 1280, 1024))
BUTTON = Rect(900, 700, 80, 30)
RED = (220, 30, 30)


def code(call: str, thought: str = "I look at the screen.") -> str:
    return f"{thought}\n## Action:\nact\n## Code:\n```python\n{call}\n```"


def find_red(request: ModelRequest) -> tuple[float, float]:
    px = request_images(request)[-1].pixels
    ys, xs = np.nonzero((px[:, :, 0] > 180) & (px[:, :, 1] < 80) & (px[:, :, 2] < 80))
    h, w = px.shape[:2]
    return (xs.mean() + 0.5) / w, (ys.mean() + 0.5) / h


class AgentRunner:
    """What app/compose does for the GUI: one Agent per run, configured from the request."""

    def __init__(self, model: FakeModel, confirmer: QtConfirmer) -> None:
        self.model = model
        self.confirmer = confirmer
        self.device = RecordingInputDevice()

    def __call__(self, request: RunRequest, cancel: CancelToken):  # type: ignore[no-untyped-def]
        screen = StaticScreen([make_frame(RIGHT, boxes=[(BUTTON, RED)])])
        agent = Agent(
            self.model,
            FakeSampler(screen),
            self.device,
            self.confirmer,
            FakeClock(),
            AgentConfig(),
            SafetyConfig(dry_run=request.dry_run),
        )
        return agent.run(request.task, cancel)


def _window(qtbot, model: FakeModel) -> tuple[MainWindow, AgentRunner]:
    confirmer = QtConfirmer()
    runner = AgentRunner(model, confirmer)
    settings = Settings()
    settings.gui.hide_during_run = False
    window = MainWindow(settings, runner, monitors=[RIGHT], confirmer=confirmer)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window, runner


def _run(qtbot, window: MainWindow, task: str = "press the red button") -> None:
    qtbot.keyClicks(window.task_bar.task_edit, task)
    with qtbot.waitSignal(window.controller.run_started, timeout=5000):
        qtbot.keyClick(window.task_bar.task_edit, Qt.Key.Key_Return)


def test_agent_run_fills_the_timeline_and_the_preview_marks_the_real_target(qtbot) -> None:
    def script(request: ModelRequest) -> str:
        if len(request_images(request)) == 1:
            x, y = find_red(request)
            return code(f"pyautogui.click(x={x:.4f}, y={y:.4f})", "The red button is on the right.")
        return code("computer.terminate(status='success', answer='pressed')")

    window, runner = _window(qtbot, FakeModel(script))
    with qtbot.waitSignal(window.controller.run_finished, timeout=10000) as finished:
        _run(qtbot, window)
    assert finished.args == ["finished"]
    steps = window.timeline.steps()
    assert [s.status for s in steps] == ["acted", "finished"]
    click = next(c for c in runner.device.calls if c[0] == "click")
    assert BUTTON.translated(RIGHT.geometry.x, RIGHT.geometry.y).contains(click[1], click[2])
    window.timeline.select_index(0)
    overlay = window.preview.overlay
    assert overlay is not None and overlay.point is not None and overlay.image is not None
    # the mark sits on the red button in the picture the model saw
    x, y = (round(v) for v in overlay.point)
    r, g, b = overlay.image.pixels[y, x][:3]
    assert r > 180 and g < 80 and b < 80
    assert "The red button is on the right." in window.details.text()


def test_risky_hotkey_asks_in_the_bar_and_allow_lets_the_agent_act(qtbot) -> None:
    model = FakeModel([code("pyautogui.hotkey('ctrl', 'w')"), code("computer.terminate()")])
    window, runner = _window(qtbot, model)
    with qtbot.waitSignal(window.confirmer.confirmation_requested, timeout=10000):
        _run(qtbot, window, "close the tab")
    assert window.confirm_bar.mode == "confirm" and "ctrl+w" in window.confirm_bar.message.text()
    with qtbot.waitSignal(window.controller.run_finished, timeout=10000):
        qtbot.mouseClick(window.confirm_bar.accept_button, Qt.MouseButton.LeftButton)
    assert ("hotkey", ("ctrl", "w")) in runner.device.calls
    assert [s.status for s in window.timeline.steps()] == ["acted", "finished"]


def test_dry_run_toggle_reaches_the_agent(qtbot) -> None:
    window, runner = _window(qtbot, FakeModel([code("pyautogui.click(0.5, 0.5)"), code("computer.terminate()")]))
    window.task_bar.dry_run_box.setChecked(True)
    with qtbot.waitSignal(window.controller.run_finished, timeout=10000):
        _run(qtbot, window)
    assert [s.status for s in window.timeline.steps()] == ["planned", "finished"]
    assert not any(c[0] == "click" for c in runner.device.calls)


def test_stop_reaches_into_the_generation(qtbot) -> None:
    model = FakeModel([code("pyautogui.click(0.5, 0.5)") * 400], chunk=2, token_delay=0.005)
    window, runner = _window(qtbot, model)
    _run(qtbot, window)
    qtbot.waitUntil(model.generating.is_set, timeout=5000)
    started = time.monotonic()
    with qtbot.waitSignal(window.controller.run_finished, timeout=3000) as finished:
        qtbot.mouseClick(window.task_bar.stop_button, Qt.MouseButton.LeftButton)
    elapsed = time.monotonic() - started
    log.info("stop of a real Agent generation: %.1f ms", elapsed * 1000)
    print(f"agent stop latency {elapsed * 1000:.1f} ms")
    assert finished.args == ["stopped"]
    # Generating the whole reply takes the fake tens of seconds; a run that stopped without acting was
    # stopped inside the generation (the latency itself is measured in bench/bench_kill_switch.py).
    assert [s.status for s in window.timeline.steps()] == ["stopped"]
    assert ("release_all",) in runner.device.calls


def test_an_automation_started_by_a_hotkey_asks_the_person_in_the_bar(qtbot, tmp_path, x_display) -> None:
    """Nobody-to-confirm policy: a hotkey means the person is there, so its run asks in the bar (the window
    comes back from hiding) instead of refusing as an MCP run would."""
    import os
    import subprocess

    from omnidesk.app.gui.automation_store import Automation, AutomationStore
    from omnidesk.app.hotkeys import GlobalHotkeys
    from omnidesk.app.settings import AppPaths, HotkeyConfig

    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")
    AutomationStore(paths.automations_dir).save(Automation(name="Shell", task="open a terminal"))
    hotkeys = GlobalHotkeys(HotkeyConfig(automations={"ctrl+alt+shift+u": "Shell"}))
    assert hotkeys.start() is None
    confirmer = QtConfirmer()
    runner = AgentRunner(
        FakeModel([code("pyautogui.hotkey('ctrl', 'alt', 't')"), code("computer.terminate()")]), confirmer
    )
    settings = Settings()
    settings.gui.hide_during_run = True
    try:
        window = MainWindow(settings, runner, monitors=[RIGHT], confirmer=confirmer, paths=paths, hotkeys=hotkeys)
        qtbot.addWidget(window)
        window.hide()  # the person works elsewhere; the window is not on screen
        with qtbot.waitSignal(confirmer.confirmation_requested, timeout=10000):
            subprocess.run(["xdotool", "key", "ctrl+alt+shift+u"], check=True, env=dict(os.environ), timeout=10)
        assert window.isVisible() and window.confirm_bar.mode == "confirm"
        assert "ctrl+alt+t" in window.confirm_bar.message.text()
        with qtbot.waitSignal(window.controller.run_finished, timeout=10000):
            qtbot.mouseClick(window.confirm_bar.accept_button, Qt.MouseButton.LeftButton)
        assert ("hotkey", ("ctrl", "alt", "t")) in runner.device.calls
    finally:
        hotkeys.stop()
