"""The safety policy: pure decisions the loop asks for before every action.

- limits: steps and wall time (:meth:`SafetyPolicy.check_limits`);
- review of one action (:meth:`SafetyPolicy.review`):
  - never act on a point whose window is on the deny-list, and never send keys to a window on it — keys
    go to the window with keyboard focus (``FocusInspector.focused_window``), wherever the pointer is;
    the deny-list uses the screen mask's matcher (``agent/window_rules.py``), which also names
    Omnidesk's own windows (the model never presses its own confirmation's buttons);
  - refuse a secret fill that its binding does not allow (``agent/secrets.py``), and ask the person
    before every other fill (the question names the secret and the window, never the value);
  - ask the person before risky and system key combinations, keys and text for a terminal window, text
    with a line break, destructive commands and ``confirm_patterns`` (matched on normalised text:
    ``agent/injection.py``), and text for a password field when an accessibility signal says so;
- :class:`LoopDetector`: the same action again and again on a screen that does not change → re-plan with a
  note, then stop and ask the person;
- :func:`user_moved`: the pointer is not where Omnidesk left it → the person is using the machine.

The built-in rules hold whatever the settings say; settings only add to them. Safety never depends on an
accessibility bus: the window checks stand alone, a :class:`FieldInspector` only adds.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal, Protocol

from omnidesk.agent.actions import Action, Click, Drag, Hotkey, Move, Point, Scroll, TypeText
from omnidesk.agent.config import SafetyConfig
from omnidesk.agent.errors import ConfigError, OmnideskError, SafetyStop
from omnidesk.agent.injection import destructive_command, enter_like, has_line_break, normalise, system_hotkey
from omnidesk.agent.keys import KeyNameError, normalize_combo
from omnidesk.agent.ports import ConfirmRule, FieldInspector, WindowInfo, WindowInspector
from omnidesk.agent.secrets import SecretStore, review_fill, secret_names
from omnidesk.agent.window_rules import TERMINAL_CLASSES, WindowMatcher, window_label

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
    """``allow`` the action, ask the person to ``confirm`` it, or ``refuse`` it; ``reason`` says why,
    ``rules`` name each reason to confirm. ``window`` is the window with keyboard focus a keyboard action
    was reviewed against (its keys may only go there)."""

    decision: Literal["allow", "confirm", "refuse"]
    reason: str = ""
    rules: tuple[ConfirmRule, ...] = ()
    window: WindowInfo | None = None


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


@dataclass(frozen=True, slots=True)
class _Focus:
    """The window with keyboard focus, and whether it could be asked at all."""

    window: WindowInfo | None
    known: bool
    problem: str = ""


class SafetyPolicy:
    """Decisions from :class:`SafetyConfig` (see the module doc).

    ``windows`` enables the window checks (the deny-list for points and keys, secret bindings, terminals);
    without it no secret is typed. ``secrets`` holds the bindings; ``fields`` is an optional extra signal
    about the focused text field; ``own_pids`` are Omnidesk's processes.
    """

    def __init__(
        self,
        config: SafetyConfig,
        *,
        windows: WindowInspector | None = None,
        secrets: SecretStore | None = None,
        fields: FieldInspector | None = None,
        own_pids: Collection[int] = (),
    ) -> None:
        self.config = config
        self._windows = windows
        self._secrets = secrets
        self._fields = fields
        self._patterns = _compile(config.confirm_patterns, "confirmation")
        try:
            self._deny = WindowMatcher(config.deny_windows, own_pids=own_pids, what="window deny-list")
            self._terminals = WindowMatcher([*TERMINAL_CLASSES, *config.terminal_windows], what="terminal window")
        except ConfigError as exc:
            raise SafetyStop(str(exc)) from exc
        self._hotkeys = set()
        for combo in config.confirm_hotkeys:
            try:
                self._hotkeys.add(normalize_combo(combo))
            except KeyNameError as exc:
                raise SafetyStop(f"confirm_hotkeys has an unknown key in {combo!r}: {exc}") from exc

    @property
    def secrets(self) -> SecretStore | None:
        return self._secrets

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
        """Whether a window is on the deny-list (the screen mask's rule) or is Omnidesk's own."""
        return self._deny.matches(window)

    def is_terminal(self, window: WindowInfo) -> bool:
        """Whether a window is a terminal emulator (by a WM_CLASS part)."""
        return self._terminals.matches_class(window)

    def _focus(self) -> _Focus:
        """The window with keyboard focus now (``known`` is false without a window list or when it fails)."""
        if self._windows is None:
            return _Focus(None, known=False, problem="no window list")
        try:
            return _Focus(self._windows.focused_window(), known=True)
        except OmnideskError as exc:
            return _Focus(None, known=False, problem=str(exc))

    def focused_window(self) -> WindowInfo | None:
        """The window with keyboard focus now, or ``None`` (none, unknown, or no window list)."""
        return self._focus().window

    def review(self, action: Action) -> Verdict:
        """Decide about one action whose points are already in ``desktop`` space."""
        if self._windows is not None:
            for point in action_points(action):
                window = self._windows.window_at(int(point.x), int(point.y))
                named = self._deny.match(window) if window is not None else None
                if window is not None and named is not None:
                    what = named if named == "Omnidesk's own window" else "on the deny-list"
                    return Verdict("refuse", f"the window {window.title!r} is {what}; Omnidesk never acts on it")
        if not isinstance(action, TypeText | Hotkey):
            return Verdict("allow")
        focus = self._focus()
        if self._windows is not None and not focus.known:
            return Verdict("refuse", f"cannot tell which window has keyboard focus ({focus.problem}); no keys are sent")
        if focus.window is not None and self.denied_window(focus.window):
            return Verdict(
                "refuse",
                f"the window with keyboard focus, {window_label(focus.window)}, is on the deny-list; Omnidesk never "
                "types there",
                window=focus.window,
            )
        if isinstance(action, TypeText) and secret_names(action.text):
            refusal = review_fill(action.text, self._secrets, focus.window, known=focus.known)
            if refusal is not None:
                return Verdict("refuse", refusal, window=focus.window)
        reasons = self._hotkey_reasons(action, focus.window) if isinstance(action, Hotkey) else []
        if isinstance(action, TypeText):
            reasons = self._text_reasons(action.text, focus.window)
        if not reasons:
            return Verdict("allow", window=focus.window)
        return Verdict(
            "confirm",
            "; ".join(text for _, text in reasons),
            rules=tuple(dict.fromkeys(rule for rule, _ in reasons)),
            window=focus.window,
        )

    def _hotkey_reasons(self, action: Hotkey, window: WindowInfo | None) -> list[tuple[ConfirmRule, str]]:
        reasons: list[tuple[ConfirmRule, str]] = []
        if action.keys in self._hotkeys:
            reasons.append(("risky_hotkey", f"the key combination {'+'.join(action.keys)} can close or delete things"))
        system = system_hotkey(action.keys)
        if system is not None:
            reasons.append(("system_hotkey", system))
        if window is not None and self.is_terminal(window) and enter_like(action.keys):
            reasons.append(
                ("terminal", f"{'+'.join(action.keys)} in the terminal {window_label(window)} runs a command")
            )
        return reasons

    def _text_reasons(self, text: str, window: WindowInfo | None) -> list[tuple[ConfirmRule, str]]:
        reasons: list[tuple[ConfirmRule, str]] = []
        names = list(dict.fromkeys(secret_names(text)))
        if names:
            where = window_label(window) if window is not None else "the focused window"
            listed = ", ".join(repr(n) for n in names)
            reasons.append(("secret_fill", f"this types the secret {listed} into {where}"))
        if has_line_break(text):
            reasons.append(("line_break", "the text has a line break, which a shell or a form takes as Enter"))
        if window is not None and self.is_terminal(window):
            reasons.append(("terminal", f"this types into the terminal {window_label(window)}"))
        destructive = destructive_command(text)
        if destructive is not None:
            reasons.append(("destructive_command", f"the text is a command that {destructive}"))
        plain = normalise(text)
        for pattern in self._patterns:
            if pattern.search(text) or pattern.search(plain):
                reasons.append(("confirm_pattern", f"the text matches the pattern {pattern.pattern!r}"))
                break
        if not names and self._password_field():
            reasons.append(("password_field", "this types into a password field"))
        return reasons

    def _password_field(self) -> bool:
        if self._fields is None:
            return False
        try:
            return self._fields.focused_is_password() is True
        except OmnideskError:
            logger.info("the focused-field signal failed; the window checks stand alone", exc_info=True)
            return False

    def moved_focus(self, verdict: Verdict) -> str | None:
        """Just before a reviewed keyboard action: why its keys may no longer be sent (the focus moved to
        another window since the review), or ``None``."""
        if verdict.window is None:
            return None
        now = self._focus()
        if now.window is not None and now.window.window_id == verdict.window.window_id:
            return None
        where = window_label(now.window) if now.window is not None else "no window"
        return (
            f"keyboard focus moved from {window_label(verdict.window)} to {where} after the review; no keys were sent"
        )


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
