"""run_gui: the display check before Qt, and the real `omnidesk` entry point opening the window."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

from omnidesk.app.gui.app import EXIT_NO_DISPLAY, open_gui, qt_monitors, run_gui
from omnidesk.app.gui.main_window import MainWindow
from omnidesk.app.settings import AppPaths, Settings
from tests.app.gui.scripts import ScriptedRun, click_step

OMNIDESK = Path(sys.executable).with_name("omnidesk")


def _paths(tmp_path: Path) -> AppPaths:
    return AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
    env.update(
        OMNIDESK_CONFIG_DIR=str(tmp_path / "config"),
        OMNIDESK_DATA_DIR=str(tmp_path / "data"),
        OMNIDESK_RUNTIME_DIR=str(tmp_path / "run"),
    )
    env.update(extra)
    return env


def test_no_display_is_a_plain_message_and_exit_2_not_a_qt_abort(tmp_path: Path) -> None:
    code = (
        "import sys; from omnidesk.app.gui.app import run_gui; from omnidesk.app.settings import Settings, AppPaths;"
        "p = AppPaths.from_environment(); sys.exit(run_gui(Settings(), p, environ={}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, env=_env(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == EXIT_NO_DISPLAY, result.stderr
    assert "DISPLAY is not set" in result.stderr
    assert "xcb" not in result.stderr and "Aborted" not in result.stderr


def test_wayland_session_is_refused_before_qt(tmp_path: Path) -> None:
    env = {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}
    assert run_gui(Settings(), _paths(tmp_path), environ=env) == EXIT_NO_DISPLAY


@pytest.mark.desktop
def test_run_gui_opens_the_window_runs_a_task_and_returns_on_close(qtbot, qapp, tmp_path: Path) -> None:
    run = ScriptedRun([click_step(1), click_step(2)])
    seen: dict[str, object] = {}

    def drive() -> None:
        window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible())
        seen["confirmer"] = window.confirmer
        window.controller.run_finished.connect(lambda outcome: (seen.update(outcome=outcome), window.close()))
        window.task_bar.task_edit.setText("say hi")
        window.task_bar.run_button.click()

    QTimer.singleShot(100, drive)
    code = run_gui(
        Settings(),
        _paths(tmp_path),
        build_runner=lambda confirmer: seen.update(built=confirmer) or run,
        environ={"DISPLAY": os.environ["DISPLAY"]},
    )
    assert code == 0
    assert seen["outcome"] == "finished" and seen["built"] is seen["confirmer"]
    assert run.requests[0].task == "say hi"
    assert run.requests[0].monitor == qt_monitors()[0]
    assert qt_monitors()[0].geometry.width == 1920


@pytest.mark.desktop
def test_without_a_model_the_window_offers_the_setup_and_run_waits(qtbot, qapp, tmp_path: Path) -> None:
    """No model, and the Hub unreachable: the setup panel shows, says what to check, and Run says why it waits."""
    settings = Settings()
    settings.model.hub_endpoint = "http://127.0.0.1:9"  # nothing listens there: a network error at once
    session = open_gui(settings, _paths(tmp_path))
    window = session.window
    panel = window.model_area.panel
    try:
        with qtbot.waitSignals([window.loader.status, window.model_area.setup.listing_failed], timeout=30_000):
            session.start()
        assert window.loader.state == "missing" and window.model_area.showing_setup
        assert "check the network" in panel.error_label.text() and panel.retry_button.isVisible()
        assert not window.task_bar.run_button.isEnabled()
        assert "No model yet" in window.task_bar.run_button.toolTip()
        assert window.model_label.text() == "Model: not set up — choose one in the window"
        window.task_bar.task_edit.setText("open the downloads folder")
        window.task_bar.task_edit.returnPressed.emit()
        assert window.controller.running is False and "No model yet" in window.state_label.text()
    finally:
        window.close()
        session.close()


@pytest.mark.desktop
def test_plain_omnidesk_opens_the_window_and_closes_on_sigterm(x_display, tmp_path: Path) -> None:
    env = _env(tmp_path, DISPLAY=x_display.display, XDG_SESSION_TYPE="x11")
    process = subprocess.Popen([str(OMNIDESK)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        found = subprocess.run(
            ["xdotool", "search", "--sync", "--onlyvisible", "--name", "^Omnidesk$"],
            check=False,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert found.returncode == 0 and found.stdout.strip(), found.stderr
        geometry = subprocess.run(
            ["xdotool", "getwindowgeometry", found.stdout.split()[0]],
            check=True,
            env=env,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        assert "Geometry:" in geometry
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=20)
        print(f"closed {time.monotonic() - started:.2f} s after SIGTERM")
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
