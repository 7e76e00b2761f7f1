"""``omnidesk run --remote URL --profile P`` on the rig against models that answer only in their own format.

The console script as a person runs it, real capture and XTest input, the Qt target app as the judge. Each
server (``tests/models/scripted_qwen.py``, ``scripted_uitars.py``) checks every request against the
family's published layout, written from the authors' sources, and refuses anything else with HTTP 400; it
finds the OK button and the text field by their colours in the screenshot it was sent and answers in the
family's own syntax and coordinate space. The target app must report the click on OK and the exact text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.app.cli_helpers import isolated_env, run_cli
from tests.models.scripted_qwen import QwenModel
from tests.models.scripted_server import ClickOn, Finish, PlanStep, ScriptedServer, TypeText, scripted_server
from tests.models.scripted_uitars import UiTarsModel
from tests.rig.plugin import Launcher
from tests.rig.target_client import TargetApp
from tests.rig.xserver import XorgDummy

pytestmark = [pytest.mark.desktop, pytest.mark.slow]

TASK = "Press OK, then type 'Grüße <ok> 東京' into the text field."
TEXT = "Grüße <ok> 東京"


def plan_for(app: TargetApp) -> list[PlanStep]:
    colors = app.ready["colors"]
    ok, field = ClickOn(colors["ok_button"], "OK"), ClickOn(colors["text_field"], "the text field")
    return [ok, field, TypeText(TEXT), Finish()]


def model_for(profile: str, plan: list[PlanStep], screen: tuple[int, int], **options: Any) -> Any:
    if profile == "qwen2.5-vl":
        return QwenModel("2.5", TASK, plan, screen=screen, **options)
    if profile == "qwen3-vl":
        return QwenModel("3", TASK, plan, screen=screen, **options)
    return UiTarsModel(TASK, plan, screen=screen, **options)


def run(server: ScriptedServer, profile: str, tmp_path: Path, *extra: str) -> list[dict[str, Any]]:
    args = ["run", TASK, "--json", "--remote", server.url, "--profile", profile, "--max-steps", "8", *extra]
    result = run_cli(args, isolated_env(tmp_path), timeout=240)
    assert not server.refusals, server.refusals  # every request was in the family's published format
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    *steps, summary = lines
    assert summary["done"] is True, lines
    assert [s["status"] for s in steps] == ["acted", "acted", "acted", "finished"], steps
    return steps


def assert_clicked_and_typed(app: TargetApp) -> None:
    app.wait_for({"type": "clicked", "widget": "ok_button"}, timeout=15)
    app.wait_for({"type": "text", "widget": "text_field", "text": TEXT}, timeout=30)


@pytest.mark.parametrize("profile", ["qwen2.5-vl", "qwen3-vl", "ui-tars-1.5"])
def test_each_family_clicks_and_types_in_its_own_format(
    profile: str, x_display: object, target_app: Launcher, tmp_path: Path
) -> None:
    app = target_app(x=260, y=140, width=640, height=480)
    with scripted_server(model_for(profile, plan_for(app), (1920, 1080))) as server:
        run(server, profile, tmp_path)
    assert_clicked_and_typed(app)
    assert len(server.requests) == 4


def test_qwen3_through_an_engine_with_a_tool_parser(x_display: object, target_app: Launcher, tmp_path: Path) -> None:
    """An engine that splits tool calls off the answer (vLLM's hermes parser) returns ``tool_calls``."""
    app = target_app(x=200, y=300, width=640, height=480)
    with scripted_server(model_for("qwen3-vl", plan_for(app), (1920, 1080), tool_parser="always")) as server:
        run(server, "qwen3-vl", tmp_path)
    assert_clicked_and_typed(app)
    assert all(answer.tool_calls and answer.content is None for answer in server.answers)


def test_ui_tars_on_the_second_of_two_monitors(
    dual_monitor_display: XorgDummy, target_app: Launcher, tmp_path: Path
) -> None:
    app = target_app(x=1920 + 300, y=200, width=640, height=480)
    with scripted_server(model_for("ui-tars-1.5", plan_for(app), (1280, 1024))) as server:
        run(server, "ui-tars-1.5", tmp_path, "--monitor", "2")
    assert_clicked_and_typed(app)
