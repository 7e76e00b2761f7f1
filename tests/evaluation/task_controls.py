"""Control models for ``omnidesk eval tasks``, behind the strict scripted Nemotron server: what they reach
is known, so the harness's rate can be checked against it.

- :func:`oracle` does every task right, as a careful person would with the keyboard, and points at
  widgets from the validated truth (the application's accessibility tree, read when the step is asked):
  every task must pass.
- :func:`idle` reports success at once and does nothing: every task must fail (its checks read the
  untouched world), none may be errored.

Both recognise the task by its instruction (the suite's own text, which the server receives verbatim).
"""

from __future__ import annotations

from collections.abc import Callable

from omnidesk.agent.eval_catalog import TASKS
from omnidesk.agent.eval_tasks import FileText, TaskSpec
from omnidesk.agent.ports import AccessibilityPort, AccessibleElement
from tests.models.scripted_nemotron import Answer, Policy, Seen

__all__ = ["idle", "oracle"]

_DONE = Answer("The task is done.", "Report success.", 'computer.terminate(status="success", answer="done")')
_GIVE_UP = Answer("I do not know this task.", "Give up.", 'computer.terminate(status="failure", answer="?")')

Steps = list[Callable[[], str]]
_UP_UP = 'pyautogui.press("up")\npyautogui.press("up")'


def _spec(seen: Seen) -> TaskSpec | None:
    return next((t for t in TASKS if t.instruction == seen.instruction), None)


def _lines(text: str) -> str:
    """Typing ``text`` line by line, Enter pressed between the lines."""
    parts = text.removesuffix("\n").split("\n")
    code = []
    for n, line in enumerate(parts):
        if n:
            code.append('pyautogui.press("enter")')
        if line:
            code.append(f"pyautogui.write({line!r})")
    return "\n".join(code)


class _Truth:
    """Widgets of the running task application, from its accessibility tree."""

    def __init__(self, port: AccessibilityPort, app: str) -> None:
        self._port = port
        self._app = app

    def find(self, role: str, *, name: str | None = None, window: str = "", index: int = 0) -> AccessibleElement:
        app = next(a for a in self._port.applications() if a.name == self._app)
        tree = self._port.tree(app, showing_only=True)
        found = [
            e
            for w in tree.windows
            if not window or w.name == window
            for e in w.walk()
            if e.role == role and (name is None or e.name == name) and e.box is not None
        ]
        return found[index]

    def click(self, role: str, *, name: str | None = None, window: str = "", index: int = 0, at: float = 0.5) -> str:
        box = self.find(role, name=name, window=window, index=index).box
        assert box is not None
        return f"pyautogui.click(x={round(box.x + box.width * at)}, y={round(box.y + box.height / 2)})"

    def scroll(self, role: str, clicks: int, *, window: str, index: int) -> str:
        box = self.find(role, window=window, index=index).box
        assert box is not None
        return f"pyautogui.scroll({clicks}, x={round(box.x + box.width / 2)}, y={round(box.y + box.height / 2)})"


def _oracle_steps(spec: TaskSpec, truth: _Truth) -> Steps:
    if spec.app in {"mousepad", "featherpad"}:
        (check,) = spec.checks
        assert isinstance(check, FileText)
        if spec.files:  # an open file: replace its text and save
            return [lambda: f'pyautogui.hotkey("ctrl", "a")\n{_lines(check.expected)}\npyautogui.hotkey("ctrl", "s")']
        # an untitled document: type, then name it in the save dialog
        return [
            lambda: f'{_lines(check.expected)}\npyautogui.hotkey("ctrl", "s")',
            lambda: f'pyautogui.write({check.path!r})\npyautogui.press("enter")',
        ]
    if spec.app == "galculator":
        sums = {
            "galculator-multiply": "37*46=",
            "galculator-add": "1234+4321=",
            "galculator-divide": "144/12=",
            "galculator-subtract": "1000-1=",
            "galculator-decimal": "2.5*4=",
        }
        return [lambda: "\n".join(truth.click("toggle_button", name=key) for key in sums[spec.id])]
    entry, dialog, groups, spins = "Entry Buffer", "Dialogs and Message Boxes", "Size Groups", "Spin Buttons"
    recipes: dict[str, Steps] = {
        "form-shared-entry": [lambda: f'{truth.click("text", window=entry)}\npyautogui.write("open sesame")'],
        "form-dialog-entries": [
            lambda: (
                f'{truth.click("text", window=dialog, index=1)}\npyautogui.write("alpha")\n'
                f'{truth.click("text", window=dialog, index=0)}\npyautogui.write("beta")'
            )
        ],
        "form-uncheck-grouping": [lambda: truth.click("check_box", name="Enable grouping", window=groups)],
        "form-choose-dashing": [lambda: truth.scroll("combo_box", -2, window=groups, index=3)],
        "form-choose-foreground": [lambda: truth.scroll("combo_box", -2, window=groups, index=1)],
        "form-spin-month": [lambda: f"{truth.click('spin_button', window=spins, at=0.2)}\n{_UP_UP}"],
        "form-spin-time": [lambda: _spin(truth, 1, "01:30")],
        "form-spin-numeric": [lambda: _spin(truth, 3, "42.5")],
    }
    return recipes[spec.id]


def _spin(truth: _Truth, index: int, text: str) -> str:
    click = truth.click("spin_button", window="Spin Buttons", index=index, at=0.2)
    return f'{click}\npyautogui.hotkey("ctrl", "a")\npyautogui.write({text!r})\npyautogui.press("tab")'


def oracle(port: AccessibilityPort) -> Policy:
    """Does each task right (see the module doc); ``port`` reads the task application's tree."""

    def act(seen: Seen) -> Answer:
        spec = _spec(seen)
        if spec is None:
            return _GIVE_UP
        steps = _oracle_steps(spec, _Truth(port, spec.app))
        if seen.step > len(steps):
            return _DONE
        return Answer(f"Step {seen.step} of the task.", "Carry on with the task.", steps[seen.step - 1]())

    return act


def idle(seen: Seen) -> Answer:
    """Reports success at once, having done nothing."""
    return _DONE if _spec(seen) is not None else _GIVE_UP
