"""``omnidesk calibrate``: the model check with scripted models (the input check: test_calibration_window.py)."""

from __future__ import annotations

import numpy as np

from omnidesk.agent.config import AgentConfig
from omnidesk.agent.formats import get_format, resolve_settings
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import ModelRequest
from omnidesk.app.commands.calibrate import check_model
from tests.fakes import FakeModel, request_images

MONITORS = [
    MonitorInfo(1, "DUMMY0", Rect(0, 0, 1920, 1080), primary=True),
    MonitorInfo(2, "DUMMY1", Rect(1920, 0, 1280, 1024)),
]


NEMOTRON = get_format("nemotron")
SETTINGS = resolve_settings(NEMOTRON, AgentConfig())


def red_centre(request: ModelRequest) -> tuple[float, float]:
    pixels = request_images(request)[-1].pixels
    ys, xs = np.nonzero((pixels[:, :, 0] > 150) & (pixels[:, :, 1] < 80))
    h, w = pixels.shape[:2]
    return (xs.mean() + 0.5) / w, (ys.mean() + 0.5) / h


def test_a_model_that_points_well_passes() -> None:
    def script(request: ModelRequest) -> str:
        x, y = red_centre(request)
        return f"red.\n## Action:\nclick\n## Code:\npyautogui.click(x={x:.4f}, y={y:.4f})"

    results = check_model(FakeModel(script), NEMOTRON, SETTINGS, MONITORS, trials=4, seed=1)
    assert all(r["ok"] and r["hits"] == 4 for r in results), results
    assert all(r["median_error_px"] <= r["target_radius_px"] / 2 for r in results)


def test_a_model_in_the_wrong_convention_is_caught() -> None:
    def thousandths(request: ModelRequest) -> str:
        x, y = red_centre(request)
        return f"red.\n## Action:\nclick\n## Code:\npyautogui.click(x={round(x * 1000)}, y={round(y * 1000)})"

    results = check_model(FakeModel(thousandths), NEMOTRON, SETTINGS, MONITORS, trials=3, seed=2)
    assert not any(r["ok"] for r in results)
    assert all(r["hits"] == 0 for r in results)
