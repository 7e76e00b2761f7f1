"""``omnidesk calibrate`` really clicks: its own full-screen window reports where every click lands.

On Xvfb and on the two-monitor X.Org dummy, the real XTest input device clicks five targets per monitor and
the calibration window reports each click in device pixels; a device that lands 3 px off is caught (the
check can fail, unlike reading the pointer back from the server that was told where to put it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from omnidesk.agent.ports import InputDevice
from omnidesk.app.calibration_window import CalibrationDisplay, targets_for
from omnidesk.app.commands.calibrate import check_input
from omnidesk.app.compose import build_desktop
from omnidesk.app.settings import Settings
from tests.app.cli_helpers import isolated_env, run_cli
from tests.rig.xserver import WindowManager, XorgDummy, XServer

pytestmark = pytest.mark.desktop


class _OffBy:
    """The real device, but every click lands ``dx`` pixels to the right (a broken input path)."""

    def __init__(self, device: InputDevice, dx: int) -> None:
        self._device = device
        self._dx = dx

    def click(self, x: int, y: int, *, button: str = "left", count: int = 1, modifiers: Sequence[str] = ()) -> None:
        self._device.click(x + self._dx, y, button=button, count=count, modifiers=modifiers)

    def __getattr__(self, name: str) -> object:
        return getattr(self._device, name)


def test_calibrate_clicks_on_xvfb(x_display: XServer, tmp_path: Path) -> None:
    result = run_cli(["calibrate", "--no-model", "--json"], isolated_env(tmp_path))
    assert result.returncode == 0, result.stderr
    (monitor,) = json.loads(result.stdout)["input"]
    assert monitor["targets"] == monitor["reported"] == 5
    assert monitor["max_error_px"] <= 1 and monitor["ok"]


def test_calibrate_clicks_on_two_monitors(
    dual_monitor_display: XorgDummy, window_manager: WindowManager, tmp_path: Path
) -> None:
    result = run_cli(["calibrate", "--no-model", "--json"], isolated_env(tmp_path))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["input"]
    assert [r["name"] for r in report] == ["DUMMY0", "DUMMY1"]
    assert all(r["reported"] == 5 and r["max_error_px"] <= 1 for r in report), report


def test_a_click_that_lands_off_target_is_caught(x_display: XServer) -> None:
    with build_desktop(Settings()) as desktop:
        monitors = desktop.screen.monitors()
        with CalibrationDisplay(monitors) as display:
            good = check_input(desktop.input, monitors, display)
            bad = check_input(_OffBy(desktop.input, 3), monitors, display)  # type: ignore[arg-type]
    assert good[0]["ok"] and good[0]["max_error_px"] <= 1
    assert not bad[0]["ok"] and 2 <= bad[0]["max_error_px"] <= 4


def test_targets_sit_inside_their_monitor() -> None:
    from omnidesk.agent.geometry import MonitorInfo, Rect

    monitor = MonitorInfo(2, "DUMMY1", Rect(1920, 0, 1280, 1024))
    targets = targets_for(monitor, first=6)
    assert [t.number for t in targets] == [6, 7, 8, 9, 10]
    assert all(monitor.geometry.contains(t.x, t.y) for t in targets)
    assert (targets[0].x, targets[0].y) == (1920 + 640, 512)
