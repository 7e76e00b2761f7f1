"""Task specs and their checks without a desktop: a world of files and an accessibility tree made by hand.

(The same checks against the real applications, done by hand through xdotool, are in
``tests/e2e/test_eval_task_checks.py``.)
"""

from __future__ import annotations

import pytest

from omnidesk.agent.confirmers import Asked
from omnidesk.agent.eval_catalog import TASKS, task_by_id
from omnidesk.agent.eval_tasks import (
    CheckResult,
    ElementState,
    ElementText,
    FileText,
    TaskFile,
    TaskSpec,
    evaluate,
    judge,
)
from omnidesk.agent.geometry import Rect
from omnidesk.agent.ports_accessibility import AccessibleApp, AccessibleElement, AccessibleTree

APP = AccessibleApp("demo", 42, "gtk", "3.24", ":1.7")


def element(role: str, name: str = "", *, text: str | None = None, states: frozenset[str] = frozenset(),
            children: tuple[AccessibleElement, ...] = ()) -> AccessibleElement:  # fmt: skip
    return AccessibleElement(role, name, states | {"showing"}, Rect(0, 0, 10, 10), children, text=text)


class World:
    def __init__(self, files: dict[str, str], windows: tuple[AccessibleElement, ...] = ()) -> None:
        self.files = files
        self.windows = windows

    def read_file(self, path: str) -> str | None:
        return self.files.get(path)

    def tree(self) -> AccessibleTree:
        return AccessibleTree(APP, self.windows, 1.0, "window", True, True)


FORM = (
    element(
        "frame",
        "Settings",
        children=(
            element("text", text="beta"),
            element("text", text="alpha"),
            element("combo_box", "Dotted"),
            element("check_box", "Enable grouping", states=frozenset({"checked"})),
        ),
    ),
    element("frame", "Other", children=(element("text", text="alpha"),)),
)


def spec(**changes: object) -> TaskSpec:
    fields: dict[str, object] = {
        "id": "demo-task",
        "app": "demo",
        "instruction": "Do it.",
        "checks": (FileText("a", "x"),),
    }
    return TaskSpec(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_file_check_reads_the_file_and_ignores_one_final_line_break() -> None:
    check = FileText("notes.txt", "Meeting at 10:30\n")
    assert check.check(World({"notes.txt": "Meeting at 10:30"})).passed
    assert check.check(World({"notes.txt": "Meeting at 10:30\n"})).passed
    near = check.check(World({"notes.txt": "Meeting at 10:31\n"}))
    assert not near.passed and "'Meeting at 10:31\\n'" in near.detail and "expected" in near.detail
    assert not check.check(World({"notes.txt": "Meeting at 10:30\n\n"})).passed
    missing = check.check(World({}))
    assert not missing.passed and "does not exist" in missing.detail


def test_element_checks_pick_by_role_window_and_order() -> None:
    world = World({}, FORM)
    assert ElementText("text", "alpha", window="Settings", index=1).check(world).passed
    assert not ElementText("text", "alpha", window="Settings", index=0).check(world).passed
    assert ElementText("text", " alpha ", window="Other").check(world).passed
    assert ElementText("combo_box", "Dotted", read="name").check(world).passed
    assert not ElementText("combo_box", "Dashed", read="name").check(world).passed
    gone = ElementText("text", "alpha", window="Settings", index=5).check(world)
    assert not gone.passed and "no text #5 in 'Settings' is showing" in gone.detail
    assert ElementState("check_box", "checked", name="Enable grouping").check(world).passed
    off = ElementState("check_box", "checked", present=False, name="Enable grouping").check(world)
    assert not off.passed and off.detail.endswith("expected not checked")


def test_a_password_fields_text_is_never_a_check() -> None:
    with pytest.raises(ValueError, match="password"):
        ElementText("password_text", "hunter2")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": "Bad Id"}, "task id"),
        ({"instruction": "  "}, "instruction is empty"),
        ({"checks": ()}, "at least one check"),
        ({"max_steps": 0}, "budgets"),
        ({"max_seconds": 0.0}, "budgets"),
        ({"confirm": frozenset({"anything"})}, "unknown confirmation rules"),
    ],
)
def test_a_spec_refuses_what_cannot_run(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        spec(**changes)


@pytest.mark.parametrize("path", ["/etc/passwd", "../out.txt", "a/../../b", "", "a\\b"])
def test_task_paths_stay_inside_the_task_home(path: str) -> None:
    with pytest.raises(ValueError, match="relative"):
        TaskFile(path, "x")
    with pytest.raises(ValueError, match="relative"):
        FileText(path, "x")


def test_the_home_folder_is_filled_into_the_arguments() -> None:
    assert spec(args=("{home}/notes.txt", "--flag")).argv("/h") == ("/h/notes.txt", "--flag")


def test_judge_passes_only_all_checks_and_no_unexpected_confirmation() -> None:
    ok, bad = CheckResult(True, "fine"), CheckResult(False, "notes.txt holds 'x'")
    allowed = Asked("type 'a\\nb'", ("line_break",), "a line break", True)
    refused = Asked("press ctrl+alt+t", ("system_hotkey",), "a system shortcut", False)
    assert judge([ok], [allowed]) == ("passed", "every check passed")
    assert judge([ok, bad], []) == ("failed", "notes.txt holds 'x'")
    verdict, reason = judge([ok], [allowed, refused])
    assert verdict == "failed" and reason == "unexpected confirmation: press ctrl+alt+t (system_hotkey)"


def test_evaluate_runs_every_check_in_order() -> None:
    task = spec(checks=(FileText("a", "1"), FileText("b", "2")))
    results = evaluate(task, World({"a": "1", "b": "3"}))
    assert [r.passed for r in results] == [True, False]


def test_the_suite_is_well_formed() -> None:
    ids = [task.id for task in TASKS]
    assert len(ids) == len(set(ids)) >= 20
    assert {task.app for task in TASKS} == {"mousepad", "featherpad", "galculator", "gtk3-demo"}
    assert task_by_id("galculator-multiply").checks == (ElementText("text", "1702"),)
    with pytest.raises(KeyError, match="no task 'nope'"):
        task_by_id("nope")
