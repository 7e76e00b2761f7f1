"""Short, log-safe descriptions of actions: one wording for logs, confirmation questions, the CLI and the GUI.

Typed text is never shown, only its length — the same line goes to the log file, to an MCP client and to
the person's screen. What the model itself wrote (a ``done`` answer, a question) is shown, shortened.
"""

from __future__ import annotations

from collections.abc import Sequence

from omnidesk.agent.actions import (
    Action,
    AskUser,
    Click,
    Done,
    Drag,
    Fail,
    Hotkey,
    Move,
    Point,
    Scroll,
    TypeText,
    Wait,
)

__all__ = ["describe_action", "describe_actions"]

_CLICKS = {1: "click", 2: "double click", 3: "triple click"}


def _point(point: Point) -> str:
    if point.space == "pointer":
        return "the pointer"
    if point.space == "fraction":
        return f"({point.x:.3f}, {point.y:.3f})"
    return f"({point.x:.0f}, {point.y:.0f})"


def _clip(text: str, limit: int = 48) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_action(action: Action | None, target: tuple[int, int] | None = None) -> str:
    """E.g. ``double click at (412, 300)``, ``type 11 characters``, ``press ctrl+s``.

    ``target`` is where the action lands on the desktop, when known; it replaces the model's own point.
    """
    where = f"({target[0]}, {target[1]})" if target is not None else None
    match action:
        case None:
            return "no action"
        case Click(button=button, count=count, modifiers=mods):
            prefix = "+".join(mods) + " " if mods else ""
            side = "" if button == "left" else f"{button} "
            return f"{prefix}{side}{_CLICKS[count]} at {where or _point(action.point)}"
        case Move():
            return f"move to {where or _point(action.point)}"
        case Drag():
            return f"drag {_point(action.start)} → {_point(action.end)}"
        case Scroll(dx=dx, dy=dy):
            direction = "up" if dy > 0 else "down" if dy < 0 else "left" if dx < 0 else "right"
            return f"scroll {direction} {abs(dy) or abs(dx)}"
        case TypeText(text=text):
            return f"type {len(text)} character{'' if len(text) == 1 else 's'}"
        case Hotkey(keys=keys):
            return "press " + "+".join(keys)
        case Wait(seconds=seconds, until_settled=True):
            return f"wait for the screen (at most {seconds:g} s)"
        case Wait(seconds=seconds):
            return f"wait {seconds:g} s"
        case Done(answer=answer):
            return f"done: {_clip(answer)}" if answer else "done"
        case Fail(reason=reason):
            return f"give up: {_clip(reason)}" if reason else "give up"
        case AskUser(question=question):
            return f"ask: {_clip(question)}"
    return type(action).__name__  # pragma: no cover


def describe_actions(actions: Sequence[Action], target: tuple[int, int] | None = None) -> str:
    """The actions of one step, in order: ``click at (412, 300), then type 5 characters``.

    ``target`` belongs to the first action (as :attr:`Step.target <omnidesk.agent.ports.Step>` does).
    """
    if not actions:
        return describe_action(None)
    parts = [describe_action(actions[0], target)] + [describe_action(a) for a in actions[1:]]
    return ", then ".join(parts)
