"""Short human-readable text for actions and steps (timeline rows, confirmation bar, tray tooltip)."""

from __future__ import annotations

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
from omnidesk.agent.ports import Step

__all__ = ["describe_action", "describe_step", "describe_timings"]

_STATUS = {
    "acted": "done",
    "planned": "planned (dry run)",
    "refused": "refused",
    "model_error": "model error",
    "finished": "finished",
    "stopped": "stopped",
}


def _point(point: Point) -> str:
    if point.space == "fraction":
        return f"({point.x:.3f}, {point.y:.3f})"
    return f"({point.x:.0f}, {point.y:.0f})"


def _clip(text: str, limit: int = 48) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_action(action: Action | None, target: tuple[int, int] | None = None) -> str:
    """E.g. ``double click at (412, 300)``, ``type “hello”``, ``press ctrl+s``."""
    where = f"({target[0]}, {target[1]})" if target is not None else None
    match action:
        case None:
            return "no action"
        case Click(button=button, count=count, modifiers=mods):
            name = {1: "click", 2: "double click", 3: "triple click"}[count]
            prefix = "+".join(mods) + " " if mods else ""
            side = "" if button == "left" else f"{button} "
            return f"{prefix}{side}{name} at {where or _point(action.point)}"
        case Move():
            return f"move to {where or _point(action.point)}"
        case Drag():
            return f"drag {_point(action.start)} → {_point(action.end)}"
        case Scroll(dx=dx, dy=dy):
            direction = "up" if dy > 0 else "down" if dy < 0 else "left" if dx < 0 else "right"
            return f"scroll {direction} {abs(dy) or abs(dx)}"
        case TypeText(text=text):
            return f"type “{_clip(text)}”"
        case Hotkey(keys=keys):
            return "press " + "+".join(keys)
        case Wait(seconds=seconds):
            return f"wait {seconds:g} s"
        case Done(answer=answer):
            return f"done: {_clip(answer)}" if answer else "done"
        case Fail(reason=reason):
            return f"give up: {_clip(reason)}" if reason else "give up"
        case AskUser(question=question):
            return f"ask: {_clip(question)}"
    return type(action).__name__


def describe_timings(timings: dict[str, float]) -> str:
    """``2.41 s (model 2.20, act 0.11)``; empty when there are none."""
    if not timings:
        return ""
    total = timings.get("total", sum(v for k, v in timings.items() if k != "total"))
    parts = ", ".join(f"{k} {v:.2f}" for k, v in timings.items() if k != "total")
    return f"{total:.2f} s ({parts})" if parts else f"{total:.2f} s"


def describe_step(step: Step) -> str:
    """One timeline line: ``#3 click at (412, 300) — done``."""
    status = _STATUS.get(step.status, step.status)
    return f"#{step.index} {describe_action(step.action, step.target)} — {status}"
