"""``omnidesk eval tasks`` as a person runs it, against a model that answers only NVIDIA's Nemotron
computer-use layout (the strict scripted server): the real console script, Xvfb, the accessibility bus, the
real applications started by the command in private home folders, real capture and XTest input.

Three tasks: the calculator done (passed), the editor done with a line break the spec expects to be
confirmed (passed, the confirmation shown as answered), and a form where the model types a line break the
spec does not expect (failed: an unexpected confirmation). The summary, the HTML report and every
trajectory are written; the tasks' home folders are gone afterwards.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from tests.app.cli_helpers import isolated_env, run_cli
from tests.models.scripted_nemotron import Answer, Seen, scripted_nemotron
from tests.rig.a11y import A11yBus
from tests.rig.xserver import WindowManager, XServer

pytestmark = [pytest.mark.desktop, pytest.mark.slow]

_DONE = Answer("The task is done.", "Report success.", 'computer.terminate(status="success", answer="done")')


def keyboard_model(seen: Seen) -> Answer:
    """Does each task with the keyboard in one step, then reports success (it reads the instruction)."""
    if seen.step > 1:
        return _DONE
    if "37 × 46" in seen.instruction:
        return Answer(
            "The calculator has the focus.", "Type the sum.", 'pyautogui.write("37*46")\npyautogui.press("enter")'
        )
    if "Meeting at 10:30" in seen.instruction:
        code = 'pyautogui.hotkey("ctrl", "a")\npyautogui.write("Meeting at 10:30\\n")\npyautogui.hotkey("ctrl", "s")'
        return Answer("The editor has the focus.", "Replace the text and save.", code)
    if "open sesame" in seen.instruction:
        return Answer("The entry has the focus.", "Type the words.", 'pyautogui.write("open sesame\\n")')
    return Answer("I do not know this task.", "Give up.", 'computer.terminate(status="failure", answer="?")')


def test_eval_tasks_through_the_command(
    a11y_bus: A11yBus, x_display: XServer, module_window_manager: WindowManager, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    chosen = ["galculator-multiply", "mousepad-replace-text", "form-shared-entry"]
    with scripted_nemotron(keyboard_model, [(1920, 1080)]) as server:
        args = ["eval", "tasks", "--remote", server.url, "--out", str(out)]
        for task_id in chosen:
            args += ["--task", task_id]
        env = isolated_env(tmp_path, **a11y_bus.app_env(x_display.display))
        result = run_cli(args, env, timeout=280)
    assert server.refusals == []
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "tasks" and summary["complete"] and summary["planned"] == 3
    items = {item["id"]: item for item in summary["items"]}
    assert [items[t]["status"] for t in chosen] == ["pass", "pass", "fail"], summary["items"]
    assert summary["total"]["passed"] == 2 and summary["total"]["failed"] == 1 and summary["total"]["errored"] == 0

    calc, editor, form = (items[t] for t in chosen)
    assert calc["notes"]["checks"] == "text #0 reads '1702'; expected '1702'"
    assert calc["notes"]["confirmations"] == "none"
    assert "[line_break]: yes (the spec expects it)" in editor["notes"]["confirmations"]
    assert editor["notes"]["checks"].startswith("notes.txt holds 'Meeting at 10:30")
    assert form["error"].startswith("unexpected confirmation: type ") and "(line_break)" in form["error"]
    assert "[line_break]: refused: not in the spec" in form["notes"]["confirmations"]
    assert {item["labels"]["app"] for item in summary["items"]} == {"galculator", "mousepad", "gtk3-demo"}

    report = (out / "report.html").read_text()
    assert "galculator-multiply" in report and "unexpected confirmation" in report
    # what the model saw last (its actions drawn) sits in the trajectory, named relative to the report
    assert calc["task"]["screenshot"] == "runs/galculator-multiply/step-0001.png"
    assert (out / calc["task"]["screenshot"]).is_file() and f'src="{calc["task"]["screenshot"]}"' in report
    assert calc["task"]["actions"][0].startswith("acted: ") and calc["task"]["actions"][-1].startswith("finished")
    for task_id in chosen:
        run = json.loads((out / "runs" / task_id / "run.json").read_text())
        assert run["meta"]["via"] == "eval" and run["task"] == items[task_id]["instruction"]
    assert "tasks: 66.7 %" in result.stdout
    leftovers = list(Path(tempfile.gettempdir()).glob("omnidesk-task-*"))
    assert leftovers == []
