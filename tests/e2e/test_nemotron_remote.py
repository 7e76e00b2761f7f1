"""``omnidesk run --remote URL`` as a person runs it, against a model that answers only NVIDIA's Nemotron
computer-use layout (the strict scripted server in ``tests/models/scripted_nemotron.py``).

The real console script, the real X server (Xvfb, or the X.Org dummy with two monitors), real capture, real
XTest input and the Qt target app, which reports the click on its OK button and the exact text typed. The
scripted model finds the button and the field in the pixels of the screenshots it is sent.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import pytest

from tests.app.cli_helpers import isolated_env, run_cli
from tests.models.scripted_nemotron import ScriptedNemotron, press_then_type, scripted_nemotron
from tests.rig.plugin import Launcher
from tests.rig.target_client import TargetApp
from tests.rig.xserver import XorgDummy

pytestmark = [pytest.mark.desktop, pytest.mark.slow]
log = logging.getLogger(__name__)

TEXT = "Grüße <ok> 東京"
TASK = f"Press OK, then type {TEXT} into the text field."


def run_remote(app: TargetApp, server: ScriptedNemotron, tmp_path: Path, *extra: str) -> list[dict[str, object]]:
    args = ["run", TASK, "--remote", server.url, "--json", "--max-steps", "8", "--trajectory", str(tmp_path / "b")]
    result = run_cli([*args, *extra], isolated_env(tmp_path), timeout=240)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    log.info("refused by the server: %s", server.refusals)
    assert result.returncode == 0, (result.stderr[-3000:], lines, server.refusals)
    return lines


def check_the_run(
    app: TargetApp, server: ScriptedNemotron, lines: list[dict[str, object]], size: tuple[int, int]
) -> None:
    *steps, summary = lines
    assert server.refusals == []
    assert [s["status"] for s in steps] == ["acted", "acted", "finished"]
    assert [len(s["actions"]) for s in steps] == [1, 2, 1]  # the second answer: click + write in one block
    assert summary["done"] is True
    app.wait_for({"type": "clicked", "widget": "ok_button"}, timeout=15)
    app.wait_for({"type": "text", "widget": "text_field", "text": TEXT}, timeout=15)
    texts = [e["text"] for e in app.events if e["type"] == "text"]
    assert texts[-1] == TEXT
    # what the model was sent: whole screenshots at the monitor's size, the last three of them
    assert [len(seen.screenshots) for seen in server.seen] == [1, 2, 3]
    assert all(shot.shape[:2] == (size[1], size[0]) for seen in server.seen for shot in seen.screenshots)
    assert [seen.step for seen in server.seen] == [1, 2, 3] and all(seen.thinking for seen in server.seen)


def save_what_the_model_saw(server: ScriptedNemotron, path: Path) -> Path:
    cv2.imwrite(str(path), server.seen[-1].screen[:, :, ::-1])
    return path


def test_run_remote_on_one_monitor(target_app: Launcher, tmp_path: Path) -> None:
    app = target_app(x=420, y=260)
    app.clear()
    colors = app.ready["colors"]
    with scripted_nemotron(press_then_type(colors["ok_button"], colors["text_field"], TEXT), [(1920, 1080)]) as server:
        lines = run_remote(app, server, tmp_path)
    check_the_run(app, server, lines, (1920, 1080))
    log.info("the model's last screenshot: %s", save_what_the_model_saw(server, tmp_path / "model-saw.png"))


def test_run_remote_on_the_second_of_two_monitors(
    dual_monitor_display: XorgDummy, target_app: Launcher, tmp_path: Path
) -> None:
    app = target_app(x=1920 + 200, y=150, width=700, height=520)
    app.clear()
    colors = app.ready["colors"]
    policy = press_then_type(colors["ok_button"], colors["text_field"], TEXT)
    with scripted_nemotron(policy, [(1280, 1024)]) as server:
        lines = run_remote(app, server, tmp_path, "--monitor", "2")
    check_the_run(app, server, lines, (1280, 1024))
    log.info("the model's last screenshot: %s", save_what_the_model_saw(server, tmp_path / "model-saw.png"))
