"""Replay: a recorded run done again without the model, yielding the same :class:`Step` records as the Agent.

Points are not replayed blindly. Each recorded action point comes with a *target patch* — a small picture
of what was under it — and the :class:`TargetLocator` port finds that patch again on the current screen,
so a window that moved since the recording is still hit. A target that cannot be found, or is found in
two places, stops the replay (``TargetNotFoundError``, naming the step) instead of clicking elsewhere —
a taught automation may then hand the rest to the model (``agent/replay_fallback.py``); the safety policy reviews
every action as in a run (refused or declined: ``SafetyStop``) — keys against the window with keyboard
focus, every secret fill confirmed and allowed only by its binding, the focus checked again right before
the keys (:class:`~omnidesk.agent.keyguard.KeyGuard`); after each action the screen settles.

The bundle → replay contract (:func:`load_replay`; what a recording must hold to be replayable, whether
the agent wrote it or it was cut from a person's demonstration):

- ``run.json``: ``task``.
- ``steps.jsonl``: each step's ``actions`` carried out (the first ``performed`` of them; action JSON of
  :data:`~omnidesk.agent.actions.ACTION_ADAPTER`, any coordinate space but ``pointer``) are replayed in
  order; a step written before multi-action steps has one ``action``, replayed when its ``status`` is
  ``acted`` or ``planned``. ``ask_user``/``done``/``fail`` are skipped. The replayed actions need one
  entry in ``patches`` per point, in order (:func:`~omnidesk.agent.safety.action_points` of each
  action, action after action): ``file`` (an RGB PNG in the bundle
  folder), ``anchor`` (``[x, y]``, the point inside the patch, in patch pixels) and ``image_size``
  (``[side, side]`` of the square letterboxed overview the patch was cut from, which sets the scale the
  patch is searched at: a patch cut at a monitor's native resolution gives its longer side).
  ``observation.monitor.name`` of the first step names the monitor replayed on by default.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from omnidesk.agent.acting import perform
from omnidesk.agent.actions import ACTION_ADAPTER, Action, AskUser, Click, Done, Drag, Fail, Move, Point, Scroll, Wait
from omnidesk.agent.describe import describe_action
from omnidesk.agent.errors import ActionError, RecordingError, SafetyStop, TargetNotFoundError
from omnidesk.agent.geometry import resolve_monitor
from omnidesk.agent.keyguard import KeyGuard
from omnidesk.agent.ports import (
    CancelToken,
    Clock,
    ConfirmationRequest,
    Confirmer,
    InputDevice,
    Screen,
    SecretRedactor,
    Step,
    TargetLocator,
    TargetMatch,
    TargetPatch,
)
from omnidesk.agent.safety import SafetyPolicy, Verdict, action_points
from omnidesk.agent.trajectory import bundle_file, load_bundle

__all__ = ["ReplayScript", "ReplayStep", "Replayer", "load_replay", "with_points"]

logger = logging.getLogger(__name__)

_BY_USER = "stopped by the user"


@dataclass(frozen=True, slots=True)
class ReplayStep:
    """One recorded step's actions to do again, in order, with a target patch per point of them
    (``index``: its step in the recording)."""

    index: int
    actions: tuple[Action, ...]
    patches: tuple[TargetPatch, ...]


@dataclass(frozen=True, slots=True)
class ReplayScript:
    """What a bundle says to replay: the task, the monitor it was recorded on, and the steps."""

    folder: Path
    task: str
    monitor: str | None
    steps: tuple[ReplayStep, ...]


def load_replay(folder: Path) -> ReplayScript:
    """Read a bundle as a replay (see the module doc for the contract), checking it all before any action.

    Raises:
        RecordingError: not a bundle, malformed, naming a file outside itself, or a step with points
            lacks its target patches.
    """
    bundle = load_bundle(folder)  # typed records, every file name confined to the bundle
    steps: list[ReplayStep] = []
    monitor: str | None = None
    for record in bundle.steps:
        done = _carried_out(record)
        actions = tuple(a for a in done if not isinstance(a, Done | Fail | AskUser))
        if not actions:
            continue
        if monitor is None:
            monitor = ((record["observation"] or {}).get("monitor") or {}).get("name") or None
        patches = tuple(_patch(folder, patch) for patch in record["patches"])
        if len(patches) != sum(len(action_points(a)) for a in actions):
            raise RecordingError(f"step {record['index'] + 1} has no saved target patches; it cannot be replayed")
        if any(p.space == "pointer" for a in actions for p in action_points(a)):
            raise RecordingError(f"step {record['index'] + 1} has an action without its place; record the run again")
        steps.append(ReplayStep(record["index"], actions, patches))
    return ReplayScript(folder, bundle.summary["task"], monitor, tuple(steps))


def _carried_out(record: dict[str, Any]) -> list[Action]:
    """The actions a step line says were carried out (``actions[:performed]``, or an older line's
    ``action`` when its status is acted/planned); the line's types were checked by ``load_bundle``."""
    if record["actions"] is not None:
        actions = [ACTION_ADAPTER.validate_python(a) for a in record["actions"]]
        return actions[: record["performed"]]
    if record["status"] in {"acted", "planned"} and record["action"]:
        return [ACTION_ADAPTER.validate_python(record["action"])]
    return []


def _patch(folder: Path, record: dict[str, Any]) -> TargetPatch:
    ax, ay = record["anchor"]
    return TargetPatch(bundle_file(folder, record["file"]), (ax, ay), record["image_size"][0])


def _with_matches(actions: tuple[Action, ...], matches: list[TargetMatch]) -> tuple[Action, ...]:
    """Each action with its points where the locator found its targets (matches in point order)."""
    live, used = [], 0
    for action in actions:
        count = len(action_points(action))
        found = [Point(x=m.x, y=m.y, space="desktop") for m in matches[used : used + count]]
        live.append(with_points(action, found) if count else action)
        used += count
    return tuple(live)


def _summed(timings: list[tuple[str, float]]) -> tuple[tuple[str, float], ...]:
    """Repeated phases (one act and settle per action) added up, in first-seen order."""
    total: dict[str, float] = {}
    for name, seconds in timings:
        total[name] = total.get(name, 0.0) + seconds
    return tuple(total.items())


def with_points(action: Action, points: list[Point]) -> Action:
    """The action with its points replaced, in order (start, end for a drag)."""
    match action:
        case Click() | Move() | Scroll():
            return action.model_copy(update={"point": points[0]})
        case Drag():
            return action.model_copy(update={"start": points[0], "end": points[1]})
    return action


class Replayer:
    """Replays :class:`ReplayScript` s through the ports; see :meth:`run`."""

    def __init__(  # noqa: PLR0917 - the ports in the Agent's order: screen, locator, input, confirmer, clock
        self,
        screen: Screen,
        locator: TargetLocator,
        input_device: InputDevice,
        confirmer: Confirmer,
        clock: Clock,
        policy: SafetyPolicy,
        *,
        redactor: SecretRedactor | None = None,
        dry_run: bool = False,
        settle_seconds: float = 0.3,
        settle_timeout: float = 3.0,
    ) -> None:
        self._screen = screen
        self._locator = locator
        self._input = input_device
        self._confirmer = confirmer
        self._clock = clock
        self._policy = policy
        self._guard = KeyGuard(policy, clock=clock, pointer=input_device.position, redactor=redactor)
        self._dry_run = dry_run
        self._settle_seconds = settle_seconds
        self._settle_timeout = settle_timeout

    def run(self, script: ReplayScript, cancel: CancelToken, *, monitor: int | str | None = None) -> Iterator[Step]:
        """Do ``script``'s steps again on ``monitor`` (None: the one recorded on), one Step each, then a
        ``finished`` step; a stop request ends it with a ``stopped`` step.

        Raises:
            TargetNotFoundError: a target is missing or ambiguous (``step``: its position in the script).
            ActionError: the input device failed.
            SafetyStop: a step was refused, or declined by the person.
            RecordingError: a patch file is unreadable.
        """
        selector = monitor if monitor is not None else script.monitor
        index = resolve_monitor(self._screen.monitors(), selector)
        if not self._dry_run:
            cancel.on_cancel(self._release_quietly)
        done = 0
        try:
            for recorded in script.steps:
                if cancel.cancelled:
                    break
                step = self._step(done, script.task, recorded, index, cancel)
                yield step
                if step.status == "stopped":
                    return
                done += 1
            last = Step(index=done, task=script.task, started_at=self._clock.wall_time(), status="stopped")
            if cancel.cancelled:
                yield replace(last, error=_BY_USER, result="stop request")
            else:
                answer = f"replayed {done} steps without the model"
                yield replace(
                    last, status="finished", actions=(Done(answer=answer),), performed=1, result=f"finished: {answer}"
                )
        finally:
            if not self._dry_run:
                self._release_quietly()
            logger.info("replayed %d of %d steps of %s", done, len(script.steps), script.folder)

    def _step(self, index: int, task: str, recorded: ReplayStep, monitor: int, cancel: CancelToken) -> Step:
        started, t0 = self._clock.wall_time(), self._clock.monotonic()
        matches = self._locate(recorded, monitor, index)
        live = _with_matches(recorded.actions, matches)
        t1 = self._clock.monotonic()
        base = Step(index=index, task=task, started_at=started, status="planned", actions=live)
        if matches:
            scores = ", ".join(f"{m.score:.2f}" for m in matches)
            base = replace(base, result=f"found again (match {scores})")
        first = action_points(live[0])  # the first action's last point, as the Agent records it
        if first:
            base = replace(base, target=(int(first[-1].x), int(first[-1].y)))
        timings = [("locate", t1 - t0)]
        for done, action in enumerate(live):
            if done and cancel.cancelled:
                return replace(base, status="stopped", performed=done, error=_BY_USER, timings=tuple(timings))
            verdict, asked = self._review(recorded, action)
            if self._dry_run:
                continue
            if cancel.cancelled:
                return replace(base, status="stopped", performed=done, error=_BY_USER, result="not carried out")
            moved = self._guard.refusal(action, verdict, asked=asked)
            if moved is not None:
                raise SafetyStop(f"step {recorded.index + 1} refused: {moved}")
            t2 = self._clock.monotonic()
            try:
                perform(
                    action,
                    self._input,
                    clock=self._clock,
                    cancel=cancel,
                    secrets=self._policy.secrets,
                    settle=lambda timeout: self._wait_still(monitor, cancel, timeout),
                )
            except SafetyStop:
                if not cancel.cancelled:
                    raise
            t3 = self._clock.monotonic()
            timings.append(("act", t3 - t2))
            if cancel.cancelled:  # stopped during the action: no settling, the replay ends now
                return replace(
                    base, status="stopped", performed=done, error=_BY_USER, result="stopped during the action"
                )
            settled = self._wait_still(monitor, cancel)
            t4 = self._clock.monotonic()
            timings.append(("settle", t4 - t3))
            if not settled and done == len(live) - 1:
                base = replace(
                    base, result=f"{base.result or 'done'}; the screen was still changing after {t4 - t3:.1f} s"
                )
        if self._dry_run:
            result = base.result or "dry run: not carried out"
            return replace(base, performed=len(live), timings=tuple(timings), result=result)
        return replace(
            base, status="acted", performed=len(live), result=base.result or "done", timings=_summed(timings)
        )

    def _locate(self, recorded: ReplayStep, monitor: int, position: int) -> list[TargetMatch]:
        if not recorded.patches:
            return []
        frame = self._screen.grab(monitor)
        try:
            return [self._locator.locate(frame, patch) for patch in recorded.patches]
        except TargetNotFoundError as exc:
            raise TargetNotFoundError(str(exc), step=position) from exc

    def _review(self, recorded: ReplayStep, live: Action) -> tuple[Verdict, bool]:
        """The verdict on ``live`` (the person's yes included) and whether they were asked.

        Raises:
            SafetyStop: refused, or not confirmed.
        """
        if isinstance(live, Wait):
            return Verdict("allow"), False
        verdict = self._policy.review(live)
        if verdict.decision == "confirm":
            question = f"Replay wants to {describe_action(live)}: {verdict.reason}. Allow it?"
            request = ConfirmationRequest(live, verdict.reason, question, rules=verdict.rules)
            if not self._confirmer.confirm(request):
                raise SafetyStop(f"step {recorded.index + 1} not confirmed: {verdict.reason}")
            return verdict, True
        if verdict.decision == "refuse":
            raise SafetyStop(f"step {recorded.index + 1} refused: {verdict.reason}")
        return verdict, False

    def _wait_still(self, monitor: int, cancel: CancelToken, timeout: float | None = None) -> bool:
        """Until two grabs ``settle_seconds`` apart are identical; False after ``timeout`` (default
        ``settle_timeout``) or a stop."""
        deadline = self._clock.monotonic() + (self._settle_timeout if timeout is None else timeout)
        previous = np.array(self._screen.grab(monitor).pixels, copy=True)  # grabs may reuse their buffer
        while self._clock.monotonic() < deadline and not cancel.cancelled:
            self._clock.sleep(self._settle_seconds)
            current = self._screen.grab(monitor).pixels
            if np.array_equal(previous, current):
                return True
            previous = np.array(current, copy=True)
        return False

    def _release_quietly(self) -> None:
        try:
            self._input.release_all()
        except ActionError:
            logger.exception("could not release held keys and buttons")
