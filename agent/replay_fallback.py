"""A replay that cannot find a target hands the rest to the model — when it was taught with a description.

Teach mode keeps the model's description of the task with the automation. When a replayed step's target
is not on the screen (:class:`~omnidesk.agent.errors.TargetNotFoundError`: the app looks different, the
button moved into another window, the patch matches twice), :func:`replay_with_fallback` yields one
``handed_over`` step saying so and goes on with a model-driven run of :func:`handover_task`: the saved
description, what the replay already did and the steps left, as they were recorded. The person sees it in
every consumer (CLI line, JSON record, GUI timeline), and the model run is an ordinary run: every action
reviewed by the safety policy, secrets typed only as ``{{secret:NAME}}`` placeholders into the windows
they are bound to.

Only a missing target hands over. A refusal, a declined confirmation, a lock, focus or secret violation
(``SafetyStop``), an input failure or a stop request end the replay as before; so does a missing target
when there is no description or no model to hand over to (``hand_over`` is None): the replay's own error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from omnidesk.agent.actions import Action, TypeText
from omnidesk.agent.describe import describe_action
from omnidesk.agent.errors import TargetNotFoundError
from omnidesk.agent.ports import Step
from omnidesk.agent.replay import ReplayScript
from omnidesk.agent.secrets import secret_names

__all__ = ["HandOver", "handover_task", "recorded_step_text", "replay_with_fallback"]

logger = logging.getLogger(__name__)

HandOver = Callable[[str], Iterator[Step]]
"""``task -> steps``: a model-driven run of ``task`` on the same monitor (the caller builds and closes it)."""

HANDED_OVER = "handed over to the model: it carries on from the saved description"


def recorded_step_text(actions: Sequence[Action]) -> str:
    """A recorded step for the model, never its typed text: a secret by its placeholder (the model may type
    it, and Omnidesk fills it only in its bound window), any other text by its length."""
    parts = []
    for action in actions:
        if isinstance(action, TypeText) and secret_names(action.text) and _only_placeholders(action.text):
            parts.append(f"type {action.text}")
        else:
            parts.append(describe_action(action))
    return ", then ".join(parts)


def _only_placeholders(text: str) -> bool:
    rest = text
    for name in secret_names(text):
        rest = rest.replace("{{secret:" + name + "}}", "")
    return not rest.strip()


def handover_task(description: str, script: ReplayScript, missing: int) -> str:
    """The model's task when step ``missing`` (a position in ``script.steps``) has no target on the screen:
    the description, then the recorded steps done and left (points where things were when recorded)."""
    steps = script.steps
    done = [f"{n}. {recorded_step_text(s.actions)}" for n, s in enumerate(steps[:missing], 1)]
    left = [f"{n}. {recorded_step_text(s.actions)}" for n, s in enumerate(steps[missing:], missing + 1)]
    lines = [description.strip(), ""]
    if done:
        lines += ["The recorded steps already done again:", *done, ""]
    lines += [
        f"The target of step {missing + 1} is not on the screen as it was recorded. Do the rest yourself; the "
        "recorded steps left (positions are where things were when it was recorded):",
        *left,
    ]
    return "\n".join(lines)


def replay_with_fallback(
    steps: Iterator[Step],
    script: ReplayScript,
    *,
    description: str,
    hand_over: HandOver | None,
    now: Callable[[], float],
) -> Iterator[Step]:
    """The replay's ``steps``; on a missing target, a ``handed_over`` step and ``hand_over``'s run of
    :func:`handover_task` (its steps numbered on from the replay's), when there is a description and a
    ``hand_over``.

    Raises:
        TargetNotFoundError: a target is missing and there is nothing to hand over to.
        Whatever the replay or the model run raise otherwise, unchanged.
    """
    try:
        for step in steps:
            yield step
        return
    except TargetNotFoundError as exc:
        if hand_over is None or not description.strip() or exc.step is None:
            raise
        missing, why = exc.step, str(exc)
    # The replay ended with the exception: its input is released and (when its generator owns it) its
    # session closed before the model run opens its own.
    logger.info("replay: step %d of %s has no target on the screen; the model carries on", missing + 1, script.folder)
    yield Step(
        index=missing,
        task=script.task,
        started_at=now(),
        status="handed_over",
        actions=script.steps[missing].actions,
        error=why,
        result=HANDED_OVER,
    )
    for step in hand_over(handover_task(description, script, missing)):
        yield replace(step, index=missing + 1 + step.index)
