"""A person's demonstration as replayable actions: their own input events turned into Omnidesk's actions.

Teach mode (``omnidesk teach``, the window's "Show me") records the screen, the narration and the person's
input events. The events arrive here already filtered (nothing from a deny-listed window or from Omnidesk's
own windows gets this far) and timed on the recording's clock; :func:`demonstration_steps` turns them into
the steps a replay does again:

- a press and release of a mouse button at one place is a :class:`Click` (two or three in quick succession
  at the same place, one double or triple click; the keyboard modifiers held are kept); pressed at one place
  and released at another, a :class:`Drag`; wheel clicks at one place, one :class:`Scroll`;
- characters typed one after another into the same window are one :class:`TypeText` (a BackSpace inside
  such a run edits it, as the person corrected a typo);
- any other key — Enter, Tab, arrows, a key with Ctrl, Alt or Super held — is a :class:`Hotkey`.

Each step keeps the time it started (for clicks, the press: the target is cut from the last frame before
it) and the window it went to (where a typed text may later be bound as a secret). Typed text never appears
in a ``repr`` of an event or a step, so it cannot reach a log by accident.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from omnidesk.agent.actions import Action, Click, Drag, Hotkey, Point, Scroll, TypeText
from omnidesk.agent.describe import describe_action
from omnidesk.agent.keys import MODIFIERS, KeyNameError, normalize_combo
from omnidesk.agent.ports import WindowInfo

__all__ = [
    "InputEvent",
    "KeyInput",
    "PointerButton",
    "PointerInput",
    "TaughtStep",
    "demonstration_steps",
]

PointerButton = Literal["left", "middle", "right", "scroll_up", "scroll_down", "scroll_left", "scroll_right"]

DOUBLE_CLICK_SECONDS = 0.4
"""Presses of one button closer than this (and :data:`SAME_PLACE` pixels) are one double/triple click."""
SAME_PLACE = 4
DRAG_PIXELS = 8
"""A release this far (or farther) from its press makes the press a drag."""
SCROLL_PLACE = 16
SCROLL_GAP = 1.0
_SCROLL = {"scroll_up": (0, 1), "scroll_down": (0, -1), "scroll_left": (-1, 0), "scroll_right": (1, 0)}
_TEXT_LIMIT = 10_000
_BUTTONS: dict[str, Literal["left", "middle", "right"]] = {"left": "left", "middle": "middle", "right": "right"}


@dataclass(frozen=True, slots=True)
class PointerInput:
    """A mouse button (or wheel click) pressed or released at a virtual-desktop point.

    ``at`` is seconds on the recording's clock; ``window`` the window under the point (None: unknown);
    ``modifiers`` the canonical modifier keys held.
    """

    at: float
    pressed: bool
    button: PointerButton
    x: int
    y: int
    window: WindowInfo | None = None
    modifiers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class KeyInput:
    """A key pressed or released.

    ``key`` is its canonical name (``agent/keys.py``: ``enter``, ``ctrl``, ``a``) — for a character key, the
    character it gives without Shift; ``text`` is the character it types with the modifiers held ("" for
    keys that type nothing); ``modifiers`` the canonical modifier keys held; ``window`` the window with
    keyboard focus.
    """

    at: float
    pressed: bool
    key: str
    text: str = ""
    modifiers: tuple[str, ...] = ()
    window: WindowInfo | None = None

    def __repr__(self) -> str:
        """Without the key when it types a character (what was typed stays out of logs)."""
        key = "<character>" if self.text else self.key
        return f"KeyInput(at={self.at:.3f}, pressed={self.pressed}, key={key!r}, modifiers={self.modifiers!r})"


InputEvent = PointerInput | KeyInput


@dataclass(frozen=True, slots=True)
class TaughtStep:
    """One replayable action of a demonstration: when it started (recording clock) and the window it went
    to. For a click or a scroll, ``at`` is the press; a drag's two points are both found on the frame before
    its press."""

    action: Action
    at: float
    window: WindowInfo | None = None

    def __repr__(self) -> str:
        """The action as the log-safe description (typed text only by its length)."""
        return f"TaughtStep({describe_action(self.action)!r}, at={self.at:.3f})"

    @property
    def points(self) -> tuple[tuple[int, int], ...]:
        """The desktop points a replay has to find again, in order."""
        match self.action:
            case Click(point=p) | Scroll(point=Point() as p):
                return ((round(p.x), round(p.y)),)
            case Drag(start=s, end=e):
                return (round(s.x), round(s.y)), (round(e.x), round(e.y))
        return ()


def _desktop(x: int, y: int) -> Point:
    return Point(x=float(x), y=float(y), space="desktop")


class _Builder:
    """Folds the events into steps (see the module doc); one instance per demonstration."""

    def __init__(self) -> None:
        self.steps: list[TaughtStep] = []
        self._text: list[str] = []
        self._text_at = 0.0
        self._text_window: WindowInfo | None = None
        self._pressed: dict[str, PointerInput] = {}
        self._last_click: tuple[PointerInput, int] | None = None  # press, index in steps

    # --- text -----------------------------------------------------------------------------------------

    def flush_text(self) -> None:
        text = "".join(self._text)
        self._text = []
        while text:  # a very long run becomes several TypeText steps (the action's own limit)
            self.steps.append(TaughtStep(TypeText(text=text[:_TEXT_LIMIT]), self._text_at, self._text_window))
            text = text[_TEXT_LIMIT:]

    def key(self, event: KeyInput) -> None:
        if not event.pressed or event.key in MODIFIERS:
            return  # modifiers count through the keys pressed with them
        held = [m for m in event.modifiers if m in MODIFIERS]
        chord = [m for m in held if m != "shift"]
        if event.text and not chord:
            if self._text and not _same_window(self._text_window, event.window):
                self.flush_text()
            if not self._text:
                self._text_at, self._text_window = event.at, event.window
            self._text.append(event.text)
            self._last_click = None
            return
        if event.key == "backspace" and not held and self._text:
            self._text.pop()
            return
        self.flush_text()
        self._last_click = None
        try:
            keys = normalize_combo([*held, event.key])
        except KeyNameError:
            return  # a key no convention names (a vendor key): nothing a replay could press
        self.steps.append(TaughtStep(Hotkey(keys=keys), event.at, event.window))

    # --- pointer --------------------------------------------------------------------------------------

    def pointer(self, event: PointerInput) -> None:
        if event.button in _SCROLL:
            if event.pressed:
                self.scroll(event)
            return
        if event.pressed:
            self.flush_text()
            self._pressed[event.button] = event
            return
        press = self._pressed.pop(event.button, None)
        if press is None:
            return  # released a button pressed before the recording started
        if math.dist((press.x, press.y), (event.x, event.y)) >= DRAG_PIXELS:
            start, end = _desktop(press.x, press.y), _desktop(event.x, event.y)
            drag = Drag(start=start, end=end, button=_BUTTONS.get(press.button, "left"))
            self.steps.append(TaughtStep(drag, press.at, press.window))
            self._last_click = None
            return
        self.click(press)

    def click(self, press: PointerInput) -> None:
        button = _BUTTONS.get(press.button, "left")
        last = self._last_click
        if last is not None:
            before, index = last
            step = self.steps[index]
            action = step.action
            if (
                isinstance(action, Click)
                and index == len(self.steps) - 1
                and action.button == button
                and action.count < 3
                and press.at - before.at <= DOUBLE_CLICK_SECONDS
                and math.dist((before.x, before.y), (press.x, press.y)) <= SAME_PLACE
            ):
                more = action.model_copy(update={"count": action.count + 1})
                self.steps[index] = TaughtStep(more, step.at, step.window)
                self._last_click = (press, index)
                return
        mods = tuple(m for m in normalize_combo(press.modifiers) if m in MODIFIERS) if press.modifiers else ()
        click = Click(point=_desktop(press.x, press.y), button=button, modifiers=mods)
        self.steps.append(TaughtStep(click, press.at, press.window))
        self._last_click = (press, len(self.steps) - 1)

    def scroll(self, event: PointerInput) -> None:
        self.flush_text()
        self._last_click = None
        dx, dy = _SCROLL[event.button]
        if self.steps:
            last = self.steps[-1]
            action = last.action
            if (
                isinstance(action, Scroll)
                and action.point is not None
                and math.dist((action.point.x, action.point.y), (event.x, event.y)) <= SCROLL_PLACE
                and event.at - last.at <= SCROLL_GAP + 0.25 * (abs(action.dx) + abs(action.dy))
            ):
                merged = action.model_copy(update={"dx": action.dx + dx, "dy": action.dy + dy})
                self.steps[-1] = TaughtStep(merged, last.at, last.window)
                return
        self.steps.append(TaughtStep(Scroll(point=_desktop(event.x, event.y), dx=dx, dy=dy), event.at, event.window))


def _same_window(a: WindowInfo | None, b: WindowInfo | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.window_id == b.window_id


def demonstration_steps(events: Iterable[InputEvent], *, stop_combos: Sequence[Sequence[str]] = ()) -> list[TaughtStep]:
    """The replayable steps of a demonstration's input events (see the module doc).

    ``stop_combos`` are the key combinations that end a teach session (its hotkey, Ctrl+C in the terminal
    it was started from): pressed last, they are how the person stopped, not part of the task, and are left
    out.
    """
    builder = _Builder()
    for event in sorted(events, key=lambda e: e.at):
        if isinstance(event, KeyInput):
            builder.key(event)
        else:
            builder.pointer(event)
    builder.flush_text()
    steps = builder.steps
    stops = {normalize_combo(combo) for combo in stop_combos}
    while steps and isinstance(steps[-1].action, Hotkey) and steps[-1].action.keys in stops:
        steps.pop()
    return steps
