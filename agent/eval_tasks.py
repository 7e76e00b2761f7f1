"""Evaluation tasks: what a task sets up, asks, and how its result is read back from the world.

A :class:`TaskSpec` is data: the application to start (a key of the runtime's application list) with its
files in a private home folder, the instruction the model gets, the checks that read the result from the
world afterwards — a file's contents, an element of the application's accessibility tree — and the step
and time budgets. With nobody to confirm, the spec lists the confirmation rules it answers yes to
(``confirm``) and the questions it answers (``answers``); any other confirmation is refused and fails the
task (:func:`judge`), and the result lists every one that came up.

Checks read the world through a :class:`TaskWorld` (the running task's home folder and application), so
they are tested on the rig by doing the task by hand: done passes, undone and nearly done fail.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal, Protocol

from omnidesk.agent.confirmers import CONFIRM_RULES, Asked
from omnidesk.agent.ports_accessibility import AccessibleElement, AccessibleTree

__all__ = [
    "Check",
    "CheckResult",
    "ElementState",
    "ElementText",
    "FileText",
    "TaskFile",
    "TaskOutcome",
    "TaskSpec",
    "TaskWorld",
    "Verdict",
    "evaluate",
    "judge",
]

Verdict = Literal["passed", "failed", "errored"]
_ID = re.compile(r"\A[a-z0-9]+(?:-[a-z0-9]+)*\Z")


def _relative(path: str) -> str:
    """``path`` if it stays inside the task's home folder (relative, no ``..``), else ValueError."""
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts or "\\" in path:
        raise ValueError(f"a task path must be relative to the task's home folder, without '..': {path!r}")
    return path


def _shown(text: str | None, limit: int = 60) -> str:
    if text is None:
        return "nothing"
    return repr(text if len(text) <= limit else text[:limit] + "…")


class TaskWorld(Protocol):
    """What a check may read of a running task: its home folder and its application's tree."""

    def read_file(self, path: str) -> str | None:
        """The text of ``path`` (relative to the task's home folder); None when there is no such file.

        Raises:
            OSError: it exists but cannot be read as UTF-8 text.
        """
        ...

    def tree(self) -> AccessibleTree:
        """The task application's element tree now, showing elements only, with text contents.

        Raises:
            AccessibilityError: the application or the bus did not answer.
        """
        ...


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's answer: ``passed``, and ``detail`` saying what was found against what was expected."""

    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class FileText:
    """The file ``path`` holds ``expected`` (one final line break is ignored: editors differ on adding it)."""

    path: str
    expected: str

    def __post_init__(self) -> None:
        _relative(self.path)

    def check(self, world: TaskWorld) -> CheckResult:
        found = world.read_file(self.path)
        if found is None:
            return CheckResult(False, f"{self.path} does not exist; expected {_shown(self.expected)}")
        passed = _strip_one_newline(found) == _strip_one_newline(self.expected)
        return CheckResult(passed, f"{self.path} holds {_shown(found)}; expected {_shown(self.expected)}")


def _strip_one_newline(text: str) -> str:
    return text[:-1] if text.endswith("\n") else text


@dataclass(frozen=True, slots=True)
class _Select:
    """Which element: the ``index``-th showing element with ``role`` (and ``name``, when given), in the
    top-level window titled ``window`` (any, when empty), in tree order."""

    role: str
    name: str | None = None
    window: str = ""
    index: int = 0

    def find(self, tree: AccessibleTree) -> AccessibleElement | None:
        windows = [w for w in tree.windows if not self.window or w.name == self.window]
        found = [
            element
            for window in windows
            for element in window.walk()
            if element.role == self.role and (self.name is None or element.name == self.name)
        ]
        return found[self.index] if 0 <= self.index < len(found) else None

    def describe(self) -> str:
        named = f" {self.name!r}" if self.name is not None else ""
        where = f" in {self.window!r}" if self.window else ""
        return f"{self.role}{named} #{self.index}{where}"


@dataclass(frozen=True, slots=True)
class ElementText:
    """An element of the application holds ``expected`` as its text (surrounding blanks ignored): a
    calculator's display, an entry — or as its name (``read="name"``: a combo box is named by its choice).
    Never a password field's text: the tree hides it."""

    role: str
    expected: str
    name: str | None = None
    window: str = ""
    index: int = 0
    read: Literal["text", "name"] = "text"

    def __post_init__(self) -> None:
        if self.role == "password_text":
            raise ValueError("a password field's text is not readable from the accessibility tree")

    def check(self, world: TaskWorld) -> CheckResult:
        select = _Select(self.role, self.name, self.window, self.index)
        element = select.find(world.tree())
        if element is None:
            return CheckResult(False, f"no {select.describe()} is showing")
        found = ((element.text or "") if self.read == "text" else element.name).strip()
        passed = found == self.expected.strip()
        what = "reads" if self.read == "text" else "is named"
        return CheckResult(passed, f"{select.describe()} {what} {_shown(found)}; expected {_shown(self.expected)}")


@dataclass(frozen=True, slots=True)
class ElementState:
    """An element of the application has (``present``) or lacks the AT-SPI state ``state`` (``checked``…)."""

    role: str
    state: str
    present: bool = True
    name: str | None = None
    window: str = ""
    index: int = 0

    def check(self, world: TaskWorld) -> CheckResult:
        select = _Select(self.role, self.name, self.window, self.index)
        element = select.find(world.tree())
        if element is None:
            return CheckResult(False, f"no {select.describe()} is showing")
        has = self.state in element.states
        wanted = "" if self.present else "not "
        found = f"{select.describe()} is {'' if has else 'not '}{self.state}"
        return CheckResult(has == self.present, f"{found}; expected {wanted}{self.state}")


Check = FileText | ElementText | ElementState


@dataclass(frozen=True, slots=True)
class TaskFile:
    """A file the set-up writes into the task's home folder before the application starts."""

    path: str
    content: str

    def __post_init__(self) -> None:
        _relative(self.path)


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One evaluation task (see the module doc).

    ``app`` names an application of the runtime's list; ``args`` are its arguments, where ``{home}`` stands
    for the task's home folder. ``confirm`` are the confirmation rules the spec answers yes to,
    ``answers`` (question pattern, answer) the questions it answers.

    Raises:
        ValueError: an invalid id, path, budget or confirmation rule, or no check.
    """

    id: str
    app: str
    instruction: str
    checks: tuple[Check, ...]
    files: tuple[TaskFile, ...] = ()
    args: tuple[str, ...] = ()
    confirm: frozenset[str] = frozenset()
    answers: tuple[tuple[str, str], ...] = ()
    max_steps: int = 15
    max_seconds: float = 300.0
    tags: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"a task id is lower-case words joined by '-': {self.id!r}")
        if not self.instruction.strip():
            raise ValueError(f"task {self.id}: the instruction is empty")
        if not self.checks:
            raise ValueError(f"task {self.id}: a task needs at least one check")
        if self.max_steps < 1 or self.max_seconds <= 0:
            raise ValueError(f"task {self.id}: the step and time budgets must be positive")
        unknown = sorted(set(self.confirm) - CONFIRM_RULES)
        if unknown:
            raise ValueError(f"task {self.id}: unknown confirmation rules {unknown}; known: {sorted(CONFIRM_RULES)}")

    def argv(self, home: str) -> tuple[str, ...]:
        """The application's arguments with the home folder filled in."""
        return tuple(arg.replace("{home}", home) for arg in self.args)


def evaluate(spec: TaskSpec, world: TaskWorld) -> tuple[CheckResult, ...]:
    """Every check of ``spec`` read from ``world``, in order.

    Raises:
        AccessibilityError: the application's tree could not be read (the task is errored, not failed).
        OSError: a file could not be read.
    """
    return tuple(check.check(world) for check in spec.checks)


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """What became of one task: the verdict and why, each check, each confirmation asked, the run's size.

    ``errored`` means the harness could not measure (the application is missing, the set-up or the model
    failed): it is counted apart from ``failed``. ``stop`` is how the agent's run ended (its last step's
    error or result: out of steps, out of time, the model's own answer). ``screenshot`` names the last
    step's picture in the trajectory bundle (what the model saw, its actions drawn), ``actions`` describe
    each step.
    """

    task: str
    app: str
    verdict: Verdict
    reason: str
    checks: tuple[CheckResult, ...] = ()
    confirmations: tuple[Asked, ...] = ()
    questions: tuple[tuple[str, bool], ...] = ()
    steps: int = 0
    seconds: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    stop: str = ""
    bundle: str = ""
    screenshot: str = ""
    actions: tuple[str, ...] = ()


def judge(checks: Sequence[CheckResult], confirmations: Sequence[Asked]) -> tuple[Verdict, str]:
    """Passed when every check passed and no confirmation outside the spec came up; else failed, and why."""
    unexpected = [a for a in confirmations if not a.allowed]
    if unexpected:
        listed = "; ".join(f"{a.action} ({', '.join(a.rules) or 'no rule'})" for a in unexpected)
        return "failed", f"unexpected confirmation: {listed}"
    failing = [c.detail for c in checks if not c.passed]
    if failing:
        return "failed", "; ".join(failing)
    return "passed", "every check passed"
