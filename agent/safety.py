"""The safety policy: pure decisions the loop asks for before every action.

- limits: steps and wall time (:meth:`SafetyPolicy.check_limits`);
- review of one action (:meth:`SafetyPolicy.review`): never act on a point whose window is on the
  deny-list; ask the person before risky hotkeys, text matching ``confirm_patterns`` and typing into a
  password field (when the caller knows it is one);
- :class:`LoopDetector`: the same action again and again on a screen that does not change → re-plan with a
  note, then stop and ask the person;
- :func:`user_moved`: the pointer is not where Omnidesk left it → the person is using the machine.

Secrets stay placeholders here (``{{secret:name}}``); they are filled only when typed.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Literal, Protocol

from omnidesk.agent.actions import Action, Click, Drag, Hotkey, Move, Point, Scroll, TypeText
from omnidesk.agent.config import SafetyConfig
from omnidesk.agent.errors import SafetyStop
from omnidesk.agent.keys import KeyNameError, normalize_combo
from omnidesk.agent.ports import WindowInfo, WindowInspector

__all__ = [
    "LoopDetector",
    "LoopVerdict",
    "SafetyPolicy",
    "UserActivity",
    "Verdict",
    "action_points",
    "user_moved",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Verdict:
    """``allow`` the action, ask the person to ``confirm`` it, or ``refuse`` it; ``reason`` says why."""

    decision: Literal["allow", "confirm", "refuse"]
    reason: str = ""


def action_points(action: Action) -> list[Point]:
    """Every point an action touches."""
    match action:
        case Click(point=p) | Move(point=p):
            return [p]
        case Drag(start=s, end=e):
            return [s, e]
        case Scroll(point=p) if p is not None:
            return [p]
    return []


def _compile(patterns: list[str], what: str) -> list[re.Pattern[str]]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern, re.IGNORECASE))
        except re.error as exc:
            raise SafetyStop(f"the {what} pattern {pattern!r} is not a valid regular expression: {exc}") from exc
    return compiled


class SafetyPolicy:
    """Decisions from :class:`SafetyConfig`; ``windows`` enables the window deny-list."""

    def __init__(self, config: SafetyConfig, *, windows: WindowInspector | None = None) -> None:
        self.config = config
        self._windows = windows
        self._patterns = _compile(config.confirm_patterns, "confirmation")
        self._deny_search = _compile(config.deny_windows, "window deny-list")
        self._hotkeys = set()
        for combo in config.confirm_hotkeys:
            try:
                self._hotkeys.add(normalize_combo(combo))
            except KeyNameError as exc:
                raise SafetyStop(f"confirm_hotkeys has an unknown key in {combo!r}: {exc}") from exc

    def check_limits(self, steps_done: int, elapsed: float) -> None:
        """Raises: SafetyStop when the step or time budget is used up."""
        if steps_done >= self.config.max_steps:
            raise SafetyStop(
                f"stopped after {steps_done} steps (max_steps); raise the limit or split the task",
                reason="max_steps",
            )
        if elapsed >= self.config.max_seconds:
            raise SafetyStop(
                f"stopped after {elapsed:.0f} s (max_seconds); raise the limit or split the task",
                reason="max_seconds",
            )

    def denied_window(self, window: WindowInfo) -> bool:
        """Whether a window's title or class matches the deny-list (whole words of the title)."""
        for pattern in self._deny_search:
            if pattern.fullmatch(window.wm_class) or pattern.fullmatch(window.title):
                return True
            if re.search(rf"(?:^|[\s\-—:|]){pattern.pattern}(?:$|[\s\-—:|])", window.title, re.IGNORECASE):
                return True
        return False

    def review(self, action: Action, *, password_field: bool = False, focus: tuple[int, int] | None = None) -> Verdict:
        """Decide about one action whose points are already in ``desktop`` space.

        ``focus`` is where keyboard input is likely to go (the pointer after Omnidesk's last click):
        typing and key combinations are refused when the window there is on the deny-list.
        """
        if self._windows is not None:
            places = [(int(p.x), int(p.y)) for p in action_points(action)]
            if isinstance(action, TypeText | Hotkey) and focus is not None:
                places.append(focus)
            for x, y in places:
                window = self._windows.window_at(x, y)
                if window is not None and self.denied_window(window):
                    return Verdict(
                        "refuse", f"the window {window.title!r} is on the deny-list; Omnidesk never acts on it"
                    )
        match action:
            case Hotkey(keys=keys) if keys in self._hotkeys:
                return Verdict("confirm", f"the key combination {'+'.join(keys)} can close or delete things")
            case TypeText(text=text):
                if password_field:
                    return Verdict("confirm", "this types into a password field")
                for pattern in self._patterns:
                    if pattern.search(text):
                        return Verdict("confirm", f"the text matches the pattern {pattern.pattern!r}")
        return Verdict("allow")


def _same(a: Action, b: Action, tolerance: float) -> bool:
    if a.kind != b.kind:
        return False
    pa, pb = action_points(a), action_points(b)
    if len(pa) != len(pb):
        return False
    for p, q in zip(pa, pb, strict=True):
        if abs(p.x - q.x) > tolerance or abs(p.y - q.y) > tolerance:
            return False
    strip = {"point", "start", "end"}
    return a.model_dump(exclude=strip) == b.model_dump(exclude=strip)


LoopVerdict = Literal["ok", "replan", "stop"]


class LoopDetector:
    """Counts near-identical actions (points within ``tolerance`` desktop px) on an unchanged screen.

    After ``repeats`` of them in a row: ``replan`` (once per streak); one more: ``stop``.
    """

    def __init__(self, repeats: int, *, tolerance: float = 12.0, still_fraction: float = 0.002) -> None:
        self.repeats = repeats
        self.tolerance = tolerance
        self.still_fraction = still_fraction
        self._last: Action | None = None
        self._streak = 0
        self._replanned = False

    def reset(self) -> None:
        self._last, self._streak, self._replanned = None, 0, False

    def record(self, action: Action, changed_fraction: float) -> LoopVerdict:
        """Record the next action; ``changed_fraction`` is how much the screen changed since the last one."""
        if (
            self._last is not None
            and changed_fraction <= self.still_fraction
            and _same(action, self._last, self.tolerance)
        ):
            self._streak += 1
        else:
            self._streak, self._replanned = 1, False
        self._last = action
        if self._streak >= self.repeats:
            if self._replanned:
                return "stop"
            self._replanned = True
            return "replan"
        return "ok"


def user_moved(expected: tuple[int, int] | None, actual: tuple[int, int], tolerance: int = 3) -> bool:
    """Whether the pointer moved away from where Omnidesk last left it."""
    if expected is None:
        return False
    return abs(expected[0] - actual[0]) > tolerance or abs(expected[1] - actual[1]) > tolerance


class UserActivity(Protocol):
    """Notices the person's own keyboard and mouse input (implemented in ``runtime/input.py``)."""

    def active_since(self, timestamp: float) -> bool:
        """Whether the person typed, clicked, scrolled or moved since ``timestamp`` (the Clock's monotonic),
        not counting Omnidesk's own input."""
        ...
