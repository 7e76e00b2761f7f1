"""Proof that ``omnidesk eval tasks`` measures: control models whose result is known, through the console
script on the rig (Xvfb, the accessibility bus, the real applications), behind the strict scripted Nemotron
server. The oracle does each task right (pointing from the accessibility tree): every task passes. The idle
model does nothing and reports success: every task fails, none is errored. (A subset here; all 21 tasks with
``python -m tests.evaluation.run_task_controls``.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnidesk.runtime.accessibility import AtspiAccessibility
from tests.app.cli_helpers import isolated_env, run_cli
from tests.evaluation.task_controls import idle, oracle
from tests.models.scripted_nemotron import Policy, scripted_nemotron
from tests.rig.a11y import A11yBus
from tests.rig.xserver import WindowManager, XServer

pytestmark = [pytest.mark.desktop, pytest.mark.slow]

ORACLE_TASKS = [
    "galculator-add",
    "mousepad-fix-typo",
    "featherpad-save-as",
    "form-dialog-entries",
    "form-choose-foreground",
    "form-spin-numeric",
]
IDLE_TASKS = ["galculator-divide", "mousepad-add-line", "form-uncheck-grouping"]


def run_suite(policy: Policy, tasks: list[str], bus: A11yBus, display: str, tmp_path: Path) -> dict[str, object]:
    out = tmp_path / "report"
    with scripted_nemotron(policy, [(1920, 1080)]) as server, bus.published(display):  # as a desktop publishes it
        args = ["eval", "tasks", "--remote", server.url, "--out", str(out)]
        for task_id in tasks:
            args += ["--task", task_id]
        result = run_cli(args, isolated_env(tmp_path, **bus.app_env(display)), timeout=280)
    assert server.refusals == []
    assert result.returncode == 0, result.stderr[-3000:]
    summary: dict[str, object] = json.loads((out / "summary.json").read_text())
    return summary


def test_the_oracle_passes_every_task(
    a11y_bus: A11yBus,
    x_display: XServer,
    module_window_manager: WindowManager,
    accessibility: AtspiAccessibility,
    tmp_path: Path,
) -> None:
    summary = run_suite(oracle(accessibility), ORACLE_TASKS, a11y_bus, x_display.display, tmp_path)
    items = summary["items"]
    assert isinstance(items, list)
    assert {i["id"]: i["status"] for i in items} == dict.fromkeys(ORACLE_TASKS, "pass"), items
    total = summary["total"]
    assert total == {
        "passed": 6,
        "failed": 0,
        "errored": 0,
        "rate": 1.0,
        "low": pytest.approx(0.61, abs=0.01),
        "high": 1.0,
    }


def test_the_idle_model_fails_every_task(
    a11y_bus: A11yBus, x_display: XServer, module_window_manager: WindowManager, tmp_path: Path
) -> None:
    summary = run_suite(idle, IDLE_TASKS, a11y_bus, x_display.display, tmp_path)
    items = summary["items"]
    assert isinstance(items, list)
    assert {i["id"]: i["status"] for i in items} == dict.fromkeys(IDLE_TASKS, "fail"), items
    assert all(i["notes"]["steps"].startswith("1 of") for i in items)
