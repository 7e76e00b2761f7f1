"""Doing evaluation tasks by hand on the rig (xdotool: the keyboard and the mouse, as a person would), to
prove each task's checks: ``HAND[task id]`` has a nearly-done attempt (a wrong value, and the check that
sees that wrong value landed) and the real thing, which works from the nearly-done state.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from omnidesk.agent.eval_tasks import Check, ElementState, ElementText, FileText
from omnidesk.app.evaluation.tasks import TaskWorldOnDisk

__all__ = ["HAND", "Hand", "Hands", "focus_window"]


@dataclass
class Hands:
    """xdotool on ``display``, on the window of the task's application."""

    display: str
    world: TaskWorldOnDisk

    def xdo(self, *args: str) -> None:
        subprocess.run(
            ["xdotool", *args], env={"DISPLAY": self.display, "PATH": "/usr/bin:/bin"}, check=True, timeout=30
        )

    def keys(self, *combos: str) -> None:
        for combo in combos:
            self.xdo("key", "--clearmodifiers", combo)
            time.sleep(0.15)

    def type(self, text: str) -> None:
        self.xdo("type", "--delay", "40", text)
        time.sleep(0.2)

    def click(self, role: str, *, window: str, index: int = 0, button: str = "1", at: float = 0.5) -> None:
        """Click the ``index``-th showing ``role`` of ``window`` (``at``: where across its width)."""
        tree = self.world.tree()
        found = [e for w in tree.windows if w.name == window for e in w.walk() if e.role == role and e.box is not None]
        box = found[index].box
        assert box is not None
        x, y = round(box.x + box.width * at), round(box.y + box.height / 2)
        self.xdo("mousemove", "--sync", str(x), str(y))
        time.sleep(0.25)  # GTK 3 misses a click chained to the move
        self.xdo("click", button)
        time.sleep(0.25)


Action = Callable[[Hands], None]


@dataclass(frozen=True)
class Hand:
    """``nearly`` leaves a wrong value that ``nearly_seen`` reads; ``done`` then does the task right;
    ``window`` is the title of the window to work in."""

    window: str
    nearly: Action
    nearly_seen: Sequence[Check]
    done: Action


def focus_window(hands: Hands, pid: int, title: str) -> None:
    """Raise and focus the application's window titled ``title``."""
    out = subprocess.run(
        ["xdotool", "search", "--sync", "--onlyvisible", "--pid", str(pid), "--name", f"^{title}$"],
        env={"DISPLAY": hands.display, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    window = out.stdout.split()[-1]
    hands.xdo("windowactivate", "--sync", window)
    time.sleep(0.2)


def _replace_all(text: str) -> Action:
    def act(h: Hands) -> None:
        h.keys("ctrl+a")
        for n, line in enumerate(text.split("\n")):
            if n:
                h.keys("Return")  # typed line breaks do not reach GTK's text view as Enter
            h.type(line)
        h.keys("ctrl+s")

    return act


_KEYPAD = {"+": "KP_Add", "-": "KP_Subtract", "*": "KP_Multiply", "/": "KP_Divide", "=": "KP_Enter"}


def _calculator(keys: str) -> Action:
    """Digits typed, operators on the keypad (galculator drops shifted characters typed quickly)."""

    def act(h: Hands) -> None:
        h.keys("Escape")
        for key in keys:
            if key in _KEYPAD:
                h.keys(_KEYPAD[key])
            else:
                h.type(key)

    return act


def _entry(text: str) -> Action:
    def act(h: Hands) -> None:
        h.keys("ctrl+a")
        h.type(text)

    return act


def _save_as(text: str, name: str) -> Action:
    def act(h: Hands) -> None:
        h.type(text)
        h.keys("ctrl+s")  # an untitled document: the save dialog, its name field focused and selected
        time.sleep(1.0)
        h.type(name)
        h.keys("Return")

    return act


def _spin(index: int, text: str) -> Action:
    def act(h: Hands) -> None:
        h.click("spin_button", window="Spin Buttons", index=index, at=0.2)
        h.keys("ctrl+a")
        h.type(text)
        h.keys("Tab")  # the spin button reads what was typed when it loses the focus

    return act


def _dialog(entry1: str, entry2: str) -> Action:
    def act(h: Hands) -> None:
        for index, text in ((1, entry1), (0, entry2)):  # the grid lists Entry 2's field first
            h.click("text", window="Dialogs and Message Boxes", index=index)
            h.keys("ctrl+a")
            h.type(text)

    return act


def _scroll_combo(index: int, times: int) -> Action:
    def act(h: Hands) -> None:
        for _ in range(times):
            h.click("combo_box", window="Size Groups", index=index, button="5")

    return act


def _month_up(times: int) -> Action:
    def act(h: Hands) -> None:
        h.click("spin_button", window="Spin Buttons", index=0, at=0.2)
        h.keys(*["Up"] * times)

    return act


_DIALOG = "Dialogs and Message Boxes"

HAND: dict[str, Hand] = {
    "mousepad-replace-text": Hand(
        "notes.txt - Mousepad",
        _replace_all("Meeting at 10:31"),
        [FileText("notes.txt", "Meeting at 10:31")],
        _replace_all("Meeting at 10:30"),
    ),
    "mousepad-fix-typo": Hand(
        "notes.txt - Mousepad",
        _replace_all("Dear Sam,\nThank you for you're help."),
        [FileText("notes.txt", "Dear Sam,\nThank you for you're help.")],
        _replace_all("Dear Sam,\nThank you for your help."),
    ),
    "mousepad-add-line": Hand(
        "notes.txt - Mousepad",
        _replace_all("eggs\nbread\nmlik"),
        [FileText("notes.txt", "eggs\nbread\nmlik")],
        _replace_all("eggs\nbread\nmilk"),
    ),
    "mousepad-save-as": Hand(
        "Untitled 1 - Mousepad",
        _save_as("hello word", "hello.txt"),
        [FileText("hello.txt", "hello word")],
        _replace_all("hello world"),
    ),
    "featherpad-replace-text": Hand(
        "notes.txt - FeatherPad",
        _replace_all("Call Alex on Thursday"),
        [FileText("notes.txt", "Call Alex on Thursday")],
        _replace_all("Call Alex on Friday"),
    ),
    "featherpad-change-word": Hand(
        "notes.txt - FeatherPad",
        _replace_all("buy oat milk\nwater the plant"),
        [FileText("notes.txt", "buy oat milk\nwater the plant")],
        _replace_all("buy oat milk\nwater the plants"),
    ),
    "galculator-multiply": Hand(
        "galculator", _calculator("37*45="), [ElementText("text", "1665")], _calculator("37*46=")
    ),
    "galculator-add": Hand(
        "galculator", _calculator("1234+4312="), [ElementText("text", "5546")], _calculator("1234+4321=")
    ),
    "galculator-divide": Hand("galculator", _calculator("144/16="), [ElementText("text", "9")], _calculator("144/12=")),
    "form-shared-entry": Hand(
        "Entry Buffer",
        _entry("open sesam"),
        [ElementText("text", "open sesam", window="Entry Buffer")],
        _entry("open sesame"),
    ),
    "form-dialog-entries": Hand(
        _DIALOG,
        _dialog("alpha", "beat"),
        [ElementText("text", "beat", window=_DIALOG, index=0), ElementText("text", "alpha", window=_DIALOG, index=1)],
        _dialog("alpha", "beta"),
    ),
    "form-uncheck-grouping": Hand(
        "Size Groups",
        _scroll_combo(2, 1),  # a setting changed, but the wrong one: Line ends
        [
            ElementText("combo_box", "Round", window="Size Groups", index=2, read="name"),
            ElementState("check_box", "checked", name="Enable grouping", window="Size Groups"),
        ],
        lambda h: h.click("check_box", window="Size Groups"),
    ),
    "form-choose-dashing": Hand(
        "Size Groups",
        _scroll_combo(3, 1),
        [ElementText("combo_box", "Dashed", window="Size Groups", index=3, read="name")],
        _scroll_combo(3, 1),
    ),
    "form-spin-month": Hand(
        "Spin Buttons",
        _month_up(1),
        [ElementText("spin_button", "February", window="Spin Buttons", index=0)],
        _month_up(1),
    ),
    "mousepad-delete-line": Hand(
        "notes.txt - Mousepad",
        _replace_all("apples\nplums\nplums"),
        [FileText("notes.txt", "apples\nplums\nplums")],
        _replace_all("apples\nplums"),
    ),
    "featherpad-save-as": Hand(
        "Untitled",
        _save_as("see you son", "note.txt"),
        [FileText("note.txt", "see you son")],
        _replace_all("see you soon"),
    ),
    "galculator-subtract": Hand(
        "galculator", _calculator("1000-10="), [ElementText("text", "990")], _calculator("1000-1=")
    ),
    "galculator-decimal": Hand(
        "galculator", _calculator("2.5*3="), [ElementText("text", "7.5")], _calculator("2.5*4=")
    ),
    "form-spin-time": Hand(
        "Spin Buttons",
        _spin(1, "01:45"),
        [ElementText("spin_button", "01:45", window="Spin Buttons", index=1)],
        _spin(1, "01:30"),
    ),
    "form-spin-numeric": Hand(
        "Spin Buttons",
        _spin(3, "42.25"),
        [ElementText("spin_button", "42.25", window="Spin Buttons", index=3)],
        _spin(3, "42.5"),
    ),
    "form-choose-foreground": Hand(
        "Size Groups",
        _scroll_combo(1, 1),
        [ElementText("combo_box", "Green", window="Size Groups", index=1, read="name")],
        _scroll_combo(1, 1),
    ),
}
