"""Short human-readable text for steps (timeline rows); actions are described by ``agent/describe.py``."""

from __future__ import annotations

from collections.abc import Sequence

from omnidesk.agent.describe import describe_actions
from omnidesk.agent.ports import Step

__all__ = ["describe_step", "describe_timings"]

_STATUS = {
    "acted": "done",
    "planned": "planned (dry run)",
    "refused": "refused",
    "model_error": "model error",
    "finished": "finished",
    "stopped": "stopped",
    "handed_over": "target gone: handed over to the model",
}


def describe_timings(timings: Sequence[tuple[str, float]]) -> str:
    """``2.41 s (model 2.20, act 0.11)`` from a step's ``(phase, seconds)`` pairs; empty when there are none."""
    if not timings:
        return ""
    laps = dict(timings)
    total = laps.pop("total", sum(laps.values()))
    parts = ", ".join(f"{k} {v:.2f}" for k, v in laps.items())
    return f"{total:.2f} s ({parts})" if parts else f"{total:.2f} s"


def describe_step(step: Step) -> str:
    """One timeline line: ``#3 click at (412, 300) — done``."""
    status = _STATUS.get(step.status, step.status)
    return f"#{step.index} {describe_actions(step.actions, step.target)} — {status}"
