"""``omnidesk calibrate --model``: which point a model names where its engine letterboxes the screenshot.

The model is the strict scripted Nemotron server (``tests/models/scripted_nemotron.py``: NVIDIA's cookbook
layout or HTTP 400), reached through Omnidesk's real remote client, shown the real calibration window one
target at a time. Its policy does what the engine would: it letterboxes the screenshot onto a 512×512 canvas
as llama.cpp's ``clip.cpp`` does for ``nemotron_v2_vl`` (aspect kept, centred, black bars — written here from
that rule, not with Omnidesk's own ``ImageCanvas``), finds the red target there, and names it either as a
fraction of the whole canvas or as a fraction of the screenshot on it.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from omnidesk.agent.actions import Click, Point
from omnidesk.agent.canvas import ImageCanvas
from omnidesk.agent.coords import action_to_desktop
from omnidesk.agent.geometry import ImageTransform, MonitorInfo, Rect
from omnidesk.app.calibration_window import CalibrationDisplay
from omnidesk.app.commands.calibrate import Shot, _shots, check_model, check_pointing, store_pointing_reference
from omnidesk.app.compose import build_desktop, build_model_client, build_model_format
from omnidesk.app.settings import AppPaths, Settings, load_settings
from tests.app.cli_helpers import isolated_env, run_cli
from tests.models.scripted_nemotron import Answer, Policy, ScriptedNemotron, Seen, scripted_nemotron
from tests.rig.xserver import XServer

log = logging.getLogger(__name__)
SIDE = 512
NEMOTRON_CANVAS = ImageCanvas("nemotron_v2_vl", "fixed", patch=16, merge=2, side=SIDE)


def letterbox(screen: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The screen on libmtmd's square canvas, and where the picture lies on it (x, y, w, h)."""
    height, width = screen.shape[:2]
    scale = min(SIDE / width, SIDE / height)
    new_w, new_h = min(math.ceil(width * scale), SIDE), min(math.ceil(height * scale), SIDE)
    x, y = (SIDE - new_w) // 2, (SIDE - new_h) // 2
    canvas = np.zeros((SIDE, SIDE, 3), np.uint8)
    canvas[y : y + new_h, x : x + new_w] = cv2.resize(screen, (new_w, new_h), interpolation=cv2.INTER_CUBIC)
    return canvas, (x, y, new_w, new_h)


def pointing(reference: str) -> Policy:
    """A model that sees the letterboxed canvas and names the red target relative to ``reference``."""

    def act(seen: Seen) -> Answer:
        canvas, (x, y, w, h) = letterbox(seen.screen)
        pixels = canvas.astype(np.int16)
        ys, xs = np.nonzero((pixels[:, :, 0] > 120) & (pixels[:, :, 1] < 90) & (pixels[:, :, 2] < 90))
        if len(xs) == 0:
            return Answer("No target.", "Give up.", 'computer.terminate(status="failure", answer="no target")')
        cx, cy = float(xs.mean()) + 0.5, float(ys.mean()) + 0.5
        fx, fy = (cx / SIDE, cy / SIDE) if reference == "canvas" else ((cx - x) / w, (cy - y) / h)
        return Answer(
            f"The red target is at ({fx:.3f}, {fy:.3f}).", "Click the target.", f"pyautogui.click({fx:.4f}, {fy:.4f})"
        )

    return act


@pytest.fixture(scope="module")
def shots(x_display: XServer) -> list[Shot]:
    with build_desktop(Settings()) as desktop:
        monitors = desktop.screen.monitors()
        with CalibrationDisplay(monitors) as display:
            return _shots(display)


@pytest.fixture(params=["canvas", "content"])
def server(request: pytest.FixtureRequest, shots: list[Shot]) -> Iterator[tuple[str, ScriptedNemotron]]:
    sizes = {(s.monitor.geometry.width, s.monitor.geometry.height) for s in shots}
    with scripted_nemotron(pointing(request.param), sizes) as running:
        yield request.param, running


def private_paths(tmp_path: Path) -> AppPaths:
    return AppPaths.from_environment(
        {f"OMNIDESK_{d.upper()}_DIR": str(tmp_path / d) for d in ("config", "data", "runtime")}
    )


def remote_settings(url: str) -> Settings:
    settings = Settings()
    settings.model.remote_url = url
    return settings


@pytest.mark.desktop
def test_the_model_shows_which_point_it_names(
    server: tuple[str, ScriptedNemotron], shots: list[Shot], tmp_path: Path
) -> None:
    reference, running = server
    settings = remote_settings(running.url)
    client = build_model_client(settings, private_paths(tmp_path))
    try:
        fmt, format_settings = build_model_format(settings, client.capabilities)
        result = check_pointing(client, fmt, format_settings, shots, NEMOTRON_CANVAS)
        # and read that way, the model hits what it is asked to click
        monitors = list({s.monitor.index: s.monitor for s in shots}.values())
        accuracy = check_model(
            client, fmt, format_settings, monitors, trials=2, seed=3, canvas=NEMOTRON_CANVAS, reference=reference
        )
    finally:
        client.close()
    log.info("pointing in %s: %s; accuracy %s", reference, result, accuracy)
    assert running.refusals == []
    assert len(running.seen) == len(shots) + 2
    assert all(seen.screen.shape[:2] == (1080, 1920) for seen in running.seen)  # whole native screenshots
    assert result["reference"] == reference and result["ok"], result
    assert result["hits"][reference] == len(shots) == 5
    assert result["hits"]["content" if reference == "canvas" else "canvas"] <= 1  # only the centre agrees
    assert all(r["ok"] for r in accuracy), accuracy


@pytest.mark.desktop
def test_no_letterbox_nothing_to_measure(shots: list[Shot]) -> None:
    class Silent:
        def generate(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("the model is not asked when there is nothing to measure")

    from omnidesk.agent.config import AgentConfig
    from omnidesk.agent.formats import get_format, resolve_settings

    fmt = get_format("nemotron")
    result = check_pointing(Silent(), fmt, resolve_settings(fmt, AgentConfig()), shots, None)  # type: ignore[arg-type]
    assert result == {
        "letterboxed": False,
        "shots": 0,
        "hits": {"canvas": 0, "content": 0},
        "median_error_px": {"canvas": None, "content": None},
        "failures": [],
        "reference": None,
        "ok": True,
    }


def test_a_measured_reference_is_stored(tmp_path: Path) -> None:
    paths = private_paths(tmp_path)
    store_pointing_reference("content", paths)
    assert load_settings(paths, environment=False).model.pointing_reference == "content"


def test_a_canvas_point_reaches_the_screen_through_the_picture() -> None:
    """1920×1080 on a 512² canvas lies at y 112..400; the canvas's (0.5, 0.275) is 10% down the screen."""
    monitor = MonitorInfo(1, "M", Rect(100, 0, 1920, 1080), primary=True)
    transform = ImageTransform(monitor, 1920, 1080, Rect(0, 0, 1920, 1080), 1.0, 1.0, 0.0, 0.0)
    view = NEMOTRON_CANVAS.view(1920, 1080)
    click = Click(point=Point(x=0.5, y=0.275, space="fraction"))
    as_canvas = action_to_desktop(click, transform, canvas=view, reference="canvas")
    as_content = action_to_desktop(click, transform, canvas=view, reference="content")
    assert isinstance(as_canvas, Click) and isinstance(as_content, Click)
    assert as_canvas.point.space == as_content.point.space == "desktop"
    assert as_canvas.point.x == as_content.point.x == 100 + 960
    assert abs(as_canvas.point.y - 108) <= 1 and abs(as_content.point.y - 297) <= 1


@pytest.mark.desktop
def test_calibrate_command_against_a_remote_engine(x_display: XServer, tmp_path: Path) -> None:
    """The command as a person runs it: a remote engine shows the model the whole screenshot (nothing to
    measure, nothing stored), and the model's clicks are read on that screenshot."""
    with scripted_nemotron(pointing("content"), [(1920, 1080)]) as running:
        env = isolated_env(tmp_path)
        result = run_cli(["calibrate", "--remote", running.url, "--trials", "2", "--json"], env)
    assert result.returncode == 0, (result.stderr[-2000:], running.refusals)
    report = json.loads(result.stdout)
    assert report["pointing"]["letterboxed"] is False and report["pointing"]["reference"] is None
    assert [r["hits"] for r in report["model"]] == [2]
    stored = Path(env["OMNIDESK_CONFIG_DIR"]) / "settings.toml"
    assert not stored.exists() or "pointing_reference" not in stored.read_text(encoding="utf-8")


def test_pixels_of_a_canvas_libmtmd_shrank_reach_the_screen() -> None:
    """Qwen2.5-VL in-process at 4K: 3836×2156 is sent, libmtmd (4096 tokens) makes it 2380×1316 with the
    picture 2342×1316 at x 19; the model's pixel (1190, 658) is the middle of what it saw — of the screen."""
    from omnidesk.agent.formats import get_format

    monitor = MonitorInfo(1, "M", Rect(0, 0, 3840, 2160), primary=True)
    sent = get_format("qwen25").image_sizing.size_for(3840, 2160)
    transform = ImageTransform(monitor, *sent, Rect(0, 0, *sent), 3840 / sent[0], 2160 / sent[1], 0.0, 0.0)
    canvas = ImageCanvas("qwen2.5vl_merger", "dynamic", 14, 2, min_pixels=8 * 784, max_pixels=4096 * 784)
    view = canvas.view(*sent)
    assert (sent, view.width, view.height, view.content) == ((3836, 2156), 2380, 1316, Rect(19, 0, 2342, 1316))
    click = Click(point=Point(x=1190, y=658, space="image_pixels"))
    mapped = action_to_desktop(click, transform, canvas=view, reference="canvas")
    assert isinstance(mapped, Click)
    assert abs(mapped.point.x - 1920) <= 1 and abs(mapped.point.y - 1080) <= 1
