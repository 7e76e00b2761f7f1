"""The desktop app's own composition root (``run_gui`` → ``GuiAgentRunner`` → ``compose``: the remote
client, masked mss capture + EVS, XTest input) against the strict scripted Nemotron server: a task typed in
the window presses the Qt target app's OK button and types the exact text into its field."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import pytest
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

from omnidesk.app.gui.app import run_gui
from omnidesk.app.gui.main_window import MainWindow
from omnidesk.app.settings import AppPaths, Settings
from tests.models.scripted_nemotron import press_then_type, scripted_nemotron
from tests.rig.plugin import Launcher

pytestmark = [pytest.mark.desktop, pytest.mark.slow]
log = logging.getLogger(__name__)

TEXT = "Grüße <ok> 東京"
TASK = f"Press OK, then type {TEXT} into the text field."
GIVE_UP_MS = 240_000


def _window() -> MainWindow | None:
    """The window this test's run_gui opened: earlier tests' main windows may still exist (closed, not yet
    deleted) in the shared QApplication, so only a visible one counts."""
    return next((w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()), None)


def test_the_desktop_app_runs_a_task_against_a_remote_nemotron(
    qtbot, qapp, target_app: Launcher, tmp_path: Path
) -> None:
    app = target_app(x=1300, y=380, width=560, height=480)  # clear of the Omnidesk window (1280 wide at 0,0)
    app.clear()
    colors = app.ready["colors"]
    seen: dict[str, object] = {}

    def start_when_loaded() -> None:
        window = _window()
        if window is None or "ready" not in window.model_label.text():
            QTimer.singleShot(50, start_when_loaded)
            return
        window.grab().save(str(tmp_path / "window.png"))
        window.controller.run_finished.connect(lambda outcome: (seen.update(outcome=outcome), window.close()))
        window.task_bar.task_edit.setText(TASK)
        window.task_bar.run_button.click()

    def give_up() -> None:  # a hung run must not hang the suite
        window = _window()
        if window is not None and "outcome" not in seen:
            seen["outcome"] = f"gave up; state: {window.state_label.text()}"
            window.close()

    with scripted_nemotron(press_then_type(colors["ok_button"], colors["text_field"], TEXT), [(1920, 1080)]) as server:
        settings = Settings()
        settings.model.remote_url = server.url  # loopback: no consent question
        QTimer.singleShot(50, start_when_loaded)
        QTimer.singleShot(GIVE_UP_MS, give_up)
        paths = AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run")
        code = run_gui(settings, paths, environ={"DISPLAY": os.environ["DISPLAY"]})
    assert code == 0
    assert server.refusals == [] and seen["outcome"] == "finished", (seen, server.refusals)
    app.wait_for({"type": "clicked", "widget": "ok_button"}, timeout=15)
    app.wait_for({"type": "text", "widget": "text_field", "text": TEXT}, timeout=15)
    assert [len(s.screenshots) for s in server.seen] == [1, 2, 3]
    assert all(s.screen.shape[:2] == (1080, 1920) for s in server.seen)
    cv2.imwrite(str(tmp_path / "model-saw.png"), server.seen[0].screen[:, :, ::-1])
    log.info("the window: %s; what the model saw first: %s", tmp_path / "window.png", tmp_path / "model-saw.png")
