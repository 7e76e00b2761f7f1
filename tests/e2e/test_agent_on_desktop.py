"""End to end on the real X server: real capture (mss + EVS), real input (XTest), real Qt target app.

The model is scripted, but it does what a model does: it finds the OK button's colour in the pixels of
the overview it was sent and answers with that point as fractions — no known coordinates. The target
app's own report proves where the click landed.
"""

from __future__ import annotations

import logging
import random

import numpy as np
import pytest

from omnidesk.agent.ports import CancelToken, ModelRequest, Step
from omnidesk.app.compose import build_agent_session
from omnidesk.app.settings import Settings
from tests.fakes import FakeModel, ScriptedConfirmer, request_images
from tests.rig.plugin import Launcher
from tests.rig.target_client import TargetApp
from tests.rig.xserver import XorgDummy

pytestmark = [pytest.mark.desktop, pytest.mark.slow]
log = logging.getLogger(__name__)

DONE = "Finished.\n## Action:\ndone\n## Code:\ncomputer.terminate(status='success', answer='clicked')"


def rgb(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)], np.int16)


def clicking_model(color: str) -> FakeModel:
    """Click the centre of the largest blob of ``color`` in the newest overview, then finish."""

    def script(request: ModelRequest) -> str:
        images = request_images(request)
        if len(images) > 1:
            return DONE
        pixels = images[-1].pixels.astype(np.int16)
        match = np.all(np.abs(pixels - rgb(color)) <= 8, axis=2)
        ys, xs = np.nonzero(match)
        if len(xs) < 4:
            return "No OK button.\n## Action:\nfail\n## Code:\ncomputer.terminate(status='failure', answer='not found')"
        h, w = match.shape
        x, y = (np.median(xs) + 0.5) / w, (np.median(ys) + 0.5) / h
        return f"The green OK button.\n## Action:\nclick OK\n## Code:\npyautogui.click(x={x:.4f}, y={y:.4f})"

    return FakeModel(script)


def run_task(app: TargetApp, *, monitor: int | None = None) -> list[Step]:
    model = clicking_model(app.ready["colors"]["ok_button"])
    settings = Settings()
    with build_agent_session(settings, model=model, confirmer=ScriptedConfirmer(), monitor=monitor) as session:
        steps = list(session.agent.run("press OK", CancelToken()))
    log.info("steps: %s", [(s.status, s.target, s.error) for s in steps])
    return steps


def assert_clicked_ok(app: TargetApp, steps: list[Step]) -> None:
    assert [s.status for s in steps] == ["acted", "finished"], [(s.status, s.error) for s in steps]
    press = app.wait_for({"type": "mouse_press"}, timeout=15)
    assert press["widget"] == "ok_button", press
    app.wait_for({"type": "clicked", "widget": "ok_button"}, timeout=15)
    x, y, w, h = app.widget_rect("ok_button")
    assert x <= steps[0].target[0] < x + w and y <= steps[0].target[1] < y + h  # type: ignore[index]


@pytest.mark.parametrize("scale", [1.0, 1.5, 2.0])
def test_agent_clicks_ok_at_a_random_position(target_app: Launcher, scale: float) -> None:
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    width, height = (800, 600) if scale == 1.0 else (560, 400)
    x = rng.randrange(0, 1920 - int(width * scale) - 20)
    y = rng.randrange(0, 1080 - int(height * scale) - 40)
    log.info("seed %d: window at (%d, %d), scale %.1f", seed, x, y, scale)
    app = target_app(x=x, y=y, width=width, height=height, scale=scale)
    app.clear()
    assert_clicked_ok(app, run_task(app))


@pytest.mark.parametrize("scale", [1.0, 1.5])
def test_agent_clicks_ok_on_the_second_monitor(
    dual_monitor_display: XorgDummy, target_app: Launcher, scale: float
) -> None:
    rng = random.Random()
    x = 1920 + rng.randrange(0, 1280 - int(500 * scale) - 20)
    y = rng.randrange(0, 1024 - int(380 * scale) - 40)
    log.info("window at (%d, %d), scale %.1f", x, y, scale)
    app = target_app(x=x, y=y, width=500, height=380, scale=scale)
    app.clear()
    assert_clicked_ok(app, run_task(app, monitor=2))
