"""The task suite of ``omnidesk eval tasks``: everyday jobs on real desktop applications (Debian packages:
mousepad and featherpad — editing and saving files, a GTK file dialog —, galculator, and GTK 3's demo forms
— entries, spin buttons, combo boxes and a check box, a settings-like form).

Each task's checks read the result from the world: the saved file in the task's home folder, or the
application's accessibility tree. Elements are picked by role, name and window title; where a form has
several of one role without names, by their order in the toolkit's tree (GTK 3.24 lays a grid's children
out last-added first: the demo forms below note the order). The rig tests do every task by hand to
prove its checks: done passes, undone fails, nearly done fails.
"""

from __future__ import annotations

from omnidesk.agent.eval_tasks import ElementState, ElementText, FileText, TaskFile, TaskSpec

__all__ = ["TASKS", "task_by_id"]

_DISPLAY = "text"  # galculator's display: its first text element (it has no name)


def _calculate(task_id: str, sum_text: str, expected: str) -> TaskSpec:
    return TaskSpec(
        id=task_id,
        app="galculator",
        instruction=f"Use the calculator to work out {sum_text}; leave the result on its display.",
        checks=(ElementText(_DISPLAY, expected),),
        max_steps=12,
        max_seconds=240.0,
        tags=("calculator", "gtk3"),
    )


def _replace_in_editor(task_id: str, app: str, *, before: str, after: str, what: str) -> TaskSpec:
    return TaskSpec(
        id=task_id,
        app=app,
        instruction=f"In the open text editor, {what} Then save the file (keep its name).",
        files=(TaskFile("notes.txt", before),),
        args=("{home}/notes.txt",),
        checks=(FileText("notes.txt", after),),
        confirm=frozenset({"line_break"}),
        max_steps=15,
        max_seconds=300.0,
        tags=("editor", "gtk3" if app == "mousepad" else "qt5"),
    )


TASKS: tuple[TaskSpec, ...] = (
    # --- mousepad (GTK 3 editor) ---------------------------------------------------------------------
    _replace_in_editor(
        "mousepad-replace-text",
        "mousepad",
        before="draft\n",
        after="Meeting at 10:30\n",
        what="replace the whole text of the document with the line 'Meeting at 10:30'.",
    ),
    _replace_in_editor(
        "mousepad-fix-typo",
        "mousepad",
        before="Dear Sam,\nThank you for you help.\n",
        after="Dear Sam,\nThank you for your help.\n",
        what="correct the typo 'for you help' so that it reads 'for your help'.",
    ),
    _replace_in_editor(
        "mousepad-add-line",
        "mousepad",
        before="eggs\nbread\n",
        after="eggs\nbread\nmilk\n",
        what="add a third line that says milk after the last line.",
    ),
    TaskSpec(
        id="mousepad-save-as",
        app="mousepad",
        instruction=(
            "In the text editor, type the words hello world into the empty document, then save it in the home "
            "folder under the name hello.txt using the Save As dialog."
        ),
        checks=(FileText("hello.txt", "hello world\n"),),
        max_steps=15,
        max_seconds=300.0,
        tags=("editor", "file-dialog", "gtk3"),
    ),
    _replace_in_editor(
        "mousepad-delete-line",
        "mousepad",
        before="apples\npears\nplums\n",
        after="apples\nplums\n",
        what="delete the line that says pears (the lines before and after it stay).",
    ),
    # --- featherpad (Qt 5 editor) --------------------------------------------------------------------
    _replace_in_editor(
        "featherpad-replace-text",
        "featherpad",
        before="draft\n",
        after="Call Alex on Friday\n",
        what="replace the whole text of the document with the line 'Call Alex on Friday'.",
    ),
    _replace_in_editor(
        "featherpad-change-word",
        "featherpad",
        before="buy milk\nwater the plants\n",
        after="buy oat milk\nwater the plants\n",
        what="change 'buy milk' to 'buy oat milk'.",
    ),
    TaskSpec(
        id="featherpad-save-as",
        app="featherpad",
        instruction=(
            "In the text editor, type the words see you soon into the empty document, then save it in the home "
            "folder under the name note.txt using the save dialog."
        ),
        checks=(FileText("note.txt", "see you soon\n"),),
        max_steps=15,
        max_seconds=300.0,
        tags=("editor", "file-dialog", "qt5"),
    ),
    # --- galculator (GTK 3 calculator) -----------------------------------------------------------------
    _calculate("galculator-multiply", "37 × 46", "1702"),
    _calculate("galculator-add", "1234 + 4321", "5555"),
    _calculate("galculator-divide", "144 ÷ 12", "12"),
    _calculate("galculator-subtract", "1000 − 1", "999"),
    _calculate("galculator-decimal", "2.5 × 4", "10"),
    # --- GTK 3 demo forms -------------------------------------------------------------------------------
    TaskSpec(
        id="form-shared-entry",
        app="gtk3-demo",
        args=("entry_buffer",),
        instruction="In the Entry Buffer window, type open sesame into the first (visible) text entry.",
        checks=(ElementText("text", "open sesame", window="Entry Buffer"),),
        max_steps=10,
        max_seconds=200.0,
        tags=("form", "gtk3"),
    ),
    TaskSpec(
        id="form-dialog-entries",
        app="gtk3-demo",
        args=("dialog",),
        instruction="In the Dialogs window, type alpha into the field Entry 1 and beta into the field Entry 2.",
        # the grid lists Entry 2's field first
        checks=(
            ElementText("text", "alpha", window="Dialogs and Message Boxes", index=1),
            ElementText("text", "beta", window="Dialogs and Message Boxes", index=0),
        ),
        max_steps=12,
        max_seconds=240.0,
        tags=("form", "gtk3"),
    ),
    TaskSpec(
        id="form-uncheck-grouping",
        app="gtk3-demo",
        args=("sizegroup",),
        instruction="In the Size Groups settings window, turn off the option Enable grouping.",
        checks=(ElementState("check_box", "checked", present=False, name="Enable grouping", window="Size Groups"),),
        max_steps=8,
        max_seconds=180.0,
        tags=("form", "settings", "gtk3"),
    ),
    TaskSpec(
        id="form-choose-dashing",
        app="gtk3-demo",
        args=("sizegroup",),
        instruction="In the Size Groups settings window, set Dashing to Dotted.",
        # combo boxes in tree order: Background, Foreground, Line ends, Dashing
        checks=(ElementText("combo_box", "Dotted", window="Size Groups", index=3, read="name"),),
        max_steps=10,
        max_seconds=200.0,
        tags=("form", "settings", "gtk3"),
    ),
    TaskSpec(
        id="form-spin-month",
        app="gtk3-demo",
        args=("spinbutton",),
        instruction="In the Spin Buttons window, set the Month spin button to March.",
        # spin buttons in tree order: Month, Time, Hexadecimal, Numeric
        checks=(ElementText("spin_button", "March", window="Spin Buttons", index=0),),
        max_steps=10,
        max_seconds=200.0,
        tags=("form", "gtk3"),
    ),
    TaskSpec(
        id="form-spin-time",
        app="gtk3-demo",
        args=("spinbutton",),
        instruction="In the Spin Buttons window, set the Time spin button to 01:30.",
        checks=(ElementText("spin_button", "01:30", window="Spin Buttons", index=1),),
        max_steps=10,
        max_seconds=200.0,
        tags=("form", "gtk3"),
    ),
    TaskSpec(
        id="form-spin-numeric",
        app="gtk3-demo",
        args=("spinbutton",),
        instruction="In the Spin Buttons window, set the Numeric spin button to 42.5.",
        checks=(ElementText("spin_button", "42.50", window="Spin Buttons", index=3),),
        max_steps=10,
        max_seconds=200.0,
        tags=("form", "gtk3"),
    ),
    TaskSpec(
        id="form-choose-foreground",
        app="gtk3-demo",
        args=("sizegroup",),
        instruction="In the Size Groups settings window, set the Foreground color to Blue.",
        checks=(ElementText("combo_box", "Blue", window="Size Groups", index=1, read="name"),),
        max_steps=10,
        max_seconds=200.0,
        tags=("form", "settings", "gtk3"),
    ),
)


def task_by_id(task_id: str) -> TaskSpec:
    """The task named ``task_id``.

    Raises:
        KeyError: no such task (the message lists them).
    """
    for task in TASKS:
        if task.id == task_id:
            return task
    raise KeyError(f"no task {task_id!r}; tasks: {', '.join(t.id for t in TASKS)}")
