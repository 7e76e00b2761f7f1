"""A task's outcome as a report item: the verdict mapped, each check and confirmation shown, the trajectory
named relative to the report."""

from __future__ import annotations

from pathlib import Path

from omnidesk.agent.confirmers import Asked
from omnidesk.agent.eval_catalog import task_by_id
from omnidesk.agent.eval_tasks import CheckResult, TaskOutcome
from omnidesk.app.evaluation.tasks import item_result


def test_a_failed_task_shows_its_checks_confirmations_and_run(tmp_path: Path) -> None:
    spec = task_by_id("mousepad-fix-typo")
    outcome = TaskOutcome(
        spec.id,
        spec.app,
        "failed",
        "unexpected confirmation: press ctrl+alt+t (system_hotkey)",
        checks=(CheckResult(True, "notes.txt holds 'x'; expected 'x'"),),
        confirmations=(
            Asked("type 'a\\nb'", ("line_break",), "a line break", True),
            Asked("press ctrl+alt+t", ("system_hotkey",), "a system shortcut", False),
        ),
        questions=(("Which file?", False),),
        steps=4,
        seconds=12.3456,
        prompt_tokens=900,
        completion_tokens=80,
        stop="the model reported the task done",
        bundle=str(tmp_path / "runs" / spec.id),
        screenshot=str(tmp_path / "runs" / spec.id / "step-0003.png"),
        actions=("acted: press ctrl+a", "finished: done"),
    )
    item = item_result(spec, outcome, tmp_path)
    assert item.status == "fail" and item.error == outcome.reason
    assert item.labels == {"app": "mousepad", "kind": "editor"}
    assert item.seconds == 12.346 and (item.prompt_tokens, item.completion_tokens) == (900, 80)
    assert item.notes == {
        "checks": "notes.txt holds 'x'; expected 'x'",
        "confirmations": "type 'a\\nb' [line_break]: yes (the spec expects it); "
        "press ctrl+alt+t [system_hotkey]: refused: not in the spec",
        "steps": "4 of at most 15 (time budget 300 s)",
        "questions": "'Which file?': no answer",
        "run ended": "the model reported the task done",
        "trajectory": f"runs/{spec.id}",
    }
    assert item.task is not None and item.task.screenshot == f"runs/{spec.id}/step-0003.png"
    assert item.task.actions == ("acted: press ctrl+a", "finished: done")


def test_passed_and_errored_tasks_map_to_pass_and_errored(tmp_path: Path) -> None:
    spec = task_by_id("galculator-add")
    passed = item_result(spec, TaskOutcome(spec.id, spec.app, "passed", "every check passed"), tmp_path)
    assert passed.status == "pass" and passed.error == "" and passed.notes["confirmations"] == "none"
    errored = item_result(spec, TaskOutcome(spec.id, spec.app, "errored", "set-up failed: no galculator"), tmp_path)
    assert errored.status == "errored" and errored.error == "set-up failed: no galculator"
    assert errored.notes["checks"] == "not read" and "trajectory" not in errored.notes and errored.task is None
