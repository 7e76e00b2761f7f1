"""The step loop: observe → prompt → generate → parse → check → map → act → settle → yield a Step.

``Agent.run(task, cancel)`` is a generator of frozen :class:`Step` records; the GUI, the CLI, the
trajectory writer and the MCP server only consume it. A run ends only on a typed ``done``/``fail``, a
limit, the loop detector (after one re-plan and the person's say), or a stop request — which aborts the
generation in flight and releases every held key and button.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from typing import Literal

from omnidesk.agent.acting import perform
from omnidesk.agent.actions import Action, AskUser, Done, Fail, Wait
from omnidesk.agent.config import AgentConfig, SafetyConfig
from omnidesk.agent.coords import action_to_desktop, resolve_pointer
from omnidesk.agent.describe import describe_action, describe_actions
from omnidesk.agent.errors import ActionError, CoordinateError, ModelError, ModelOutputError, SafetyStop
from omnidesk.agent.formats import Conversation, FinishedStep, FormatSettings, ModelFormat, get_format, resolve_settings
from omnidesk.agent.geometry import ImageTransform
from omnidesk.agent.keyguard import KeyGuard
from omnidesk.agent.parsing import Parsed
from omnidesk.agent.ports import (
    CancelToken,
    Clock,
    ConfirmationRequest,
    Confirmer,
    FieldInspector,
    FrameSampler,
    InputDevice,
    ModelClient,
    ModelImage,
    Observation,
    SecretRedactor,
    SettleResult,
    Step,
    TokenDelta,
    WindowInspector,
)
from omnidesk.agent.safety import LoopDetector, SafetyPolicy, UserActivity, Verdict, action_points, user_moved
from omnidesk.agent.secrets import RunSecrets, SecretStore, is_secret_question

__all__ = ["Agent", "perform"]

logger = logging.getLogger(__name__)

_BY_USER = "stopped by the user"
_TIME_UP = "stopped: the run's time limit (max_seconds) ran out during the generation"

Status = Literal["acted", "planned", "refused", "model_error", "finished", "stopped"]


def _frozen(timings: dict[str, float]) -> tuple[tuple[str, float], ...]:
    """A step's laps as the frozen Step keeps them (in the order they were taken)."""
    return tuple(timings.items())


@dataclass
class _Run:
    """Mutable state of one run (kept out of the Agent so one Agent can run tasks one after another)."""

    task: str
    conversation: Conversation
    started: float
    index: int = 0
    model_errors: int = 0
    notes: list[str] = field(default_factory=list)
    pointer: tuple[int, int] | None = None
    quiet_since: float = 0.0
    force_keyframe: bool = True


class Agent:
    """Runs tasks against a model through the ports; see :meth:`run`."""

    def __init__(  # noqa: PLR0917 - the issue's positional signature: Agent(model, sampler, input, …)
        self,
        model: ModelClient,
        sampler: FrameSampler,
        input_device: InputDevice,
        confirmer: Confirmer,
        clock: Clock,
        config: AgentConfig,
        safety: SafetyConfig,
        *,
        windows: WindowInspector | None = None,
        secrets: SecretStore | None = None,
        model_format: ModelFormat | None = None,
        format_settings: FormatSettings | None = None,
        model_size: tuple[int, int] | None = None,
        on_token: Callable[[TokenDelta], None] | None = None,
        activity: UserActivity | None = None,
        redactor: SecretRedactor | None = None,
        fields: FieldInspector | None = None,
        own_pids: Collection[int] = (),
    ) -> None:
        self._model = model
        self._sampler = sampler
        self._input = input_device
        self._confirmer = confirmer
        self._clock = clock
        self._config = config
        self._safety_config = safety
        self._secrets = RunSecrets(secrets)
        self._policy = SafetyPolicy(safety, windows=windows, secrets=self._secrets, fields=fields, own_pids=own_pids)
        self._guard = KeyGuard(
            self._policy, clock=clock, pointer=input_device.position, redactor=redactor, fields=fields
        )
        # The format comes from the profile (compose); without one, the default profile's (Nemotron's), or
        # Omnidesk's JSON mode when the settings ask for it.
        self._format = model_format or get_format(
            "json" if config.use_json_actions else "nemotron", model.capabilities.coordinate_convention
        )
        self._format_settings = format_settings or resolve_settings(
            self._format, config, slow_decoding=model.capabilities.slow_decoding
        )
        self._model_size = model_size
        self._on_token = on_token
        self._activity = activity

    def _to_desktop(self, transform: ImageTransform) -> Callable[[Action], Action]:
        """Each action's points in desktop pixels; where the engine letterboxes the sent image onto a canvas,
        the model's pointing reference (measured by ``omnidesk calibrate --model``) says which one it names."""
        capabilities = self._model.capabilities
        canvas = capabilities.image_canvas
        view = canvas.view(transform.image_width, transform.image_height) if canvas is not None else None

        def mapped(action: Action) -> Action:
            return action_to_desktop(
                action, transform, model_size=self._model_size, canvas=view, reference=capabilities.pointing_reference
            )

        return mapped

    # --- the loop ---------------------------------------------------------------------------------------

    def run(self, task: str, cancel: CancelToken) -> Iterator[Step]:
        """Carry out ``task``, yielding one :class:`Step` per step until it ends (see module doc)."""
        conversation = self._format.conversation(task, self._format_settings)
        run = _Run(task=task, conversation=conversation, started=self._clock.monotonic())
        run.pointer = self._input.position()
        run.quiet_since = self._clock.monotonic()
        loops = LoopDetector(self._safety_config.loop_repeats)
        cancel.on_cancel(self._release_quietly)
        logger.info("run started: %d characters of task", len(task))
        try:
            while True:
                step = self._step(run, loops, cancel)
                run.index += 1
                yield step
                if step.status in {"finished", "stopped"}:
                    return
        finally:
            self._secrets.clear()
            self._release_quietly()

    def _step(self, run: _Run, loops: LoopDetector, cancel: CancelToken) -> Step:
        t0 = self._clock.monotonic()
        base = Step(index=run.index, task=run.task, started_at=self._clock.wall_time(), status="stopped")
        timings: dict[str, float] = {}

        def lap(name: str, since: float) -> float:
            now = self._clock.monotonic()
            timings[name] = now - since
            return now

        if cancel.cancelled:
            return replace(base, error=_BY_USER, result="stop request")
        try:
            self._policy.check_limits(run.index, t0 - run.started)
        except SafetyStop as exc:
            return replace(base, error=str(exc), result=exc.reason)

        observation = self._observe(run)
        t = lap("observe", t0)
        overview = observation.images[0]
        notes, run.notes = tuple(run.notes), []
        request = run.conversation.request(observation, notes)
        t = lap("prompt", t)
        # The generation stops on the user's stop request or when the run's time budget runs out.
        generation = CancelToken()
        cancel.on_cancel(generation.cancel)
        remaining = self._safety_config.max_seconds - (t - run.started)
        timer = threading.Timer(max(0.0, remaining), generation.cancel)
        timer.daemon = True
        timer.start()
        try:
            reply = self._model.generate(request, on_token=self._on_token, cancel=generation)
        except ModelError as exc:
            stopped = _BY_USER if cancel.cancelled else _TIME_UP if generation.cancelled else str(exc)
            return replace(base, observation=observation, error=stopped, timings=_frozen(timings))
        finally:
            timer.cancel()
        t = lap("generate", t)
        base = replace(
            base,
            observation=observation,
            raw_output=reply.text,
            reasoning=reply.reasoning,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            reused_tokens=reply.reused_tokens,
        )
        if reply.stop_reason == "cancelled" or generation.cancelled:
            stopped = _BY_USER if cancel.cancelled else _TIME_UP
            return self._finish(run, replace(base, error=stopped, timings=_frozen(timings)))

        try:
            parsed = run.conversation.parse(reply)
            t = lap("parse", t)
            return self._decide(
                run,
                loops=loops,
                cancel=cancel,
                base=base,
                parsed=parsed,
                overview=overview,
                observation=observation,
                timings=timings,
                t=t,
            )
        except (ModelOutputError, CoordinateError) as exc:
            lap("parse", t)
            return self._model_error(run, base, exc, timings)

    def _observe(self, run: _Run) -> Observation:
        # Trained formats take the whole screenshot every step; only Omnidesk's own layout adds EVS crops.
        observation = self._sampler.observe(force_keyframe=run.force_keyframe or not self._format.detail_crops)
        run.force_keyframe = False
        if observation.images and observation.images[0].kind == "overview":
            return observation
        # Points always refer to an overview of this step: take one, keep the changed crops as details.
        keyframe = self._sampler.observe(force_keyframe=True)
        crops = tuple(image for image in observation.images if image.kind != "overview")
        return replace(
            keyframe,
            images=keyframe.images[:1] + crops,
            changed_fraction=observation.changed_fraction,
            changed_boxes=observation.changed_boxes,
        )

    def _model_error(self, run: _Run, base: Step, exc: Exception, timings: dict[str, float]) -> Step:
        run.model_errors += 1
        message = f"your last output could not be used: {exc}"
        run.notes.append(message)
        step = replace(base, status="model_error", error=str(exc), timings=_frozen(timings))
        if run.model_errors > self._safety_config.model_error_retries:
            step = replace(step, status="stopped", result="too many unusable outputs in a row")
        return self._finish(run, step, result=message)

    def _decide(
        self,
        run: _Run,
        *,
        loops: LoopDetector,
        cancel: CancelToken,
        base: Step,
        parsed: Parsed,
        overview: ModelImage,
        observation: Observation,
        timings: dict[str, float],
        t: float,
    ) -> Step:
        """Carry out the reply's actions in order, each mapped, reviewed and done on its own; a refusal, a
        declined confirmation, the person's input or a stop ends the step with the rest undone."""
        actions, n = parsed.actions, len(parsed.actions)
        transform = overview.transform
        start = self._input.position()
        # Every point is checked before anything is done: one point off the image is a model error.
        to_desktop = self._to_desktop(transform)
        planned = [to_desktop(resolve_pointer(a, start)) for a in actions]
        run.model_errors = 0
        points = action_points(planned[0])
        base = replace(base, actions=actions, target=(int(points[-1].x), int(points[-1].y)) if points else None)
        summary = parsed.summary or describe_actions(actions)
        recorded = list(actions)

        def step(status: Status, performed: int, *, result: str = "", error: str = "") -> Step:
            if 0 < performed < n and status != "finished":
                done = f"{performed} of the {n} actions were carried out"
                result = f"{result}; {done}" if result else done
            return replace(
                base,
                actions=tuple(recorded),
                performed=performed,
                status=status,
                result=result,
                error=error,
                timings=_frozen(timings),
            )

        def finish(done: Step, *, result: str = "") -> Step:
            return self._finish(run, done, parsed, summary, result=result)

        acting = [m for m in planned if not isinstance(m, Wait | Done | Fail | AskUser)]
        verdict = loops.record(acting[0], observation.changed_fraction) if acting else "ok"
        if verdict != "ok":
            return self._loop(
                run, loops=loops, base=step("refused", 0), parsed=parsed, verdict=verdict, summary=summary
            )

        settled_at_end = False
        for i, action in enumerate(actions):
            if i and cancel.cancelled:
                return finish(step("stopped", i, error=_BY_USER))
            if isinstance(action, Done | Fail):
                outcome = action.answer if isinstance(action, Done) else action.reason  # in full, not shortened
                result = f"finished: {action.kind}: {outcome}" if outcome else f"finished: {action.kind}"
                return finish(step("finished", i + 1, result=result))
            if isinstance(action, AskUser):
                answered = self._ask(action, step, i)
                if answered.status == "acted":  # the answer reaches the model inside the next instruction
                    run.notes.append(f"you asked the user: {action.question}; {answered.result}")
                return finish(answered)
            try:
                live = resolve_pointer(action, self._input.position())
                mapped = to_desktop(live)
            except CoordinateError as exc:  # the pointer left the monitor the model sees
                run.notes.append(f"that action could not be placed: {exc}")
                return finish(step("refused", i, error=str(exc)))
            recorded[i] = live
            review, asked = Verdict("allow"), False
            if not isinstance(action, Wait):
                refused, review, asked = self._review(action, mapped)
                if refused:
                    run.notes.append(f"that action was refused: {refused}; choose another way")
                    return finish(step("refused", i, error=refused))
            t = self._lap(timings, "safety", t)
            if self._safety_config.pause_on_user_input and self._user_active(run):
                return self._pause(run, step("refused", i), parsed, summary)
            if self._safety_config.dry_run:
                continue
            if cancel.cancelled:  # the stop came before this action: do not start it
                return finish(step("stopped", i, error=_BY_USER, result="not carried out" if i == 0 else ""))
            moved = self._guard.refusal(mapped, review, asked=asked)
            if moved is not None:
                run.notes.append(f"that action was not carried out: {moved}; choose another way")
                return finish(step("refused", i, error=moved))
            try:
                self._act(mapped, cancel)
            except SafetyStop as exc:
                self._release_quietly()
                error, result = (_BY_USER, str(exc)) if cancel.cancelled else (str(exc), "")
                return finish(step("stopped", i, error=error, result=result))
            except ActionError as exc:
                self._release_quietly()
                return finish(step("stopped", i, error=f"the input device failed: {exc}"))
            if cancel.cancelled:  # stopped during the action: no settling, the run ends now
                self._lap(timings, "act", t)
                return finish(step("stopped", i, error=_BY_USER, result="stopped during the action"))
            run.pointer = self._input.position()
            run.quiet_since = self._clock.monotonic()
            t = self._lap(timings, "act", t)
            settled_at_end = isinstance(action, Wait) and action.until_settled
            if i + 1 < n and not isinstance(action, Wait):  # the next action was aimed at a settled screen
                self._settle(cancel)
                t = self._lap(timings, "settle", t)
        if self._safety_config.dry_run:
            return finish(step("planned", n, result="dry run: not carried out"))
        result = "done"
        if not settled_at_end:
            settle = self._settle(cancel)
            self._lap(timings, "settle", t)
            if not settle.settled:
                result = f"done; the screen was still changing after {settle.waited_seconds:.1f} s"
        return finish(step("acted", n, result=result))

    def _review(self, action: Action, mapped: Action) -> tuple[str, Verdict, bool]:
        """Ask the safety policy (and the person, when it says so) about one action: the reason it may not
        be done ("" when it may), the policy's verdict, and whether the person was asked."""
        decision = self._policy.review(mapped)
        if decision.decision == "confirm":
            question = f"Omnidesk wants to {describe_action(action)}: {decision.reason}. Allow it?"
            request = ConfirmationRequest(action, decision.reason, question, rules=decision.rules)
            if self._confirmer.confirm(request):
                return "", decision, True
            return f"not confirmed ({decision.reason})", decision, True
        return (decision.reason if decision.decision == "refuse" else ""), decision, False

    def _ask(self, action: AskUser, step: Callable[..., Step], index: int) -> Step:
        """The model's question to the person; an answer about a secret is kept as a run secret (it reaches
        neither the prompt nor the bundle), bound to the window focused before the question moved the focus."""
        secret = is_secret_question(action.question)
        focused = self._policy.focused_window() if secret else None
        answer = self._confirmer.ask(action.question)
        if answer is None:
            return step("stopped", index, result="the user did not answer")
        if secret:
            placeholder = self._secrets.keep_answer(answer, focused)
            return step("acted", index + 1, result=f"the user answered with a secret; type it as {placeholder}")
        return step("acted", index + 1, result=f"the user answered: {answer}")

    def _settle(self, cancel: CancelToken, timeout: float | None = None) -> SettleResult:
        return self._sampler.wait_settled(
            still_for=self._config.settle_seconds,
            timeout=self._config.settle_timeout if timeout is None else timeout,
            cancel=cancel,
        )

    def _user_active(self, run: _Run) -> bool:
        """The pointer is not where Omnidesk left it, or the person typed/clicked since its last action."""
        if user_moved(run.pointer, self._input.position()):
            return True
        return self._activity is not None and self._activity.active_since(run.quiet_since)

    def _lap(self, timings: dict[str, float], name: str, since: float) -> float:
        """Add the time since ``since`` to phase ``name`` (phases repeat when a step has several actions)."""
        now = self._clock.monotonic()
        timings[name] = timings.get(name, 0.0) + now - since
        return now

    def _loop(
        self,
        run: _Run,
        *,
        loops: LoopDetector,
        base: Step,
        parsed: Parsed,
        verdict: str,
        summary: str,
    ) -> Step:
        what = describe_actions(parsed.actions)
        if verdict == "replan":
            note = (
                f"you chose '{what}' {loops.repeats} times and the screen did not change; "
                "it was not carried out again — re-plan and try a different way"
            )
            run.notes.append(note)
            step = replace(base, status="refused", error="loop detected: re-planning")
            return self._finish(run, step, parsed, summary, result=note)
        answer = self._confirmer.ask(
            f"Omnidesk seems stuck on '{run.task}': it keeps trying '{what}' without "
            "effect. How should it go on? (no answer stops the task)"
        )
        if not answer:
            step = replace(base, status="stopped", error="loop detected: stopped")
            return self._finish(run, step, parsed, summary)
        loops.reset()
        run.notes.append(f"the user says: {answer}")
        step = replace(base, status="refused", error="loop detected: asked the user", result=f"the user says: {answer}")
        return self._finish(run, step, parsed, summary)

    def _pause(self, run: _Run, base: Step, parsed: Parsed, summary: str) -> Step:
        """The person used the computer: release everything and ask whether to resume (``base`` holds the
        step as far as it got; the action about to be done is dropped)."""
        self._release_quietly()
        question = "You used the mouse or keyboard while Omnidesk was working, so it paused. Resume the task?"
        action = parsed.actions[min(base.performed, len(parsed.actions) - 1)]
        request = ConfirmationRequest(action, "you used the computer", question, rules=("user_input",))
        resume = self._confirmer.confirm(request)
        run.pointer = self._input.position()
        run.quiet_since = self._clock.monotonic()
        run.force_keyframe = True
        if not resume:
            step = replace(base, status="stopped", error="paused by user input and not resumed")
            return self._finish(run, step, parsed, summary)
        run.notes.append("the user used the computer meanwhile; look at the new screenshot before acting")
        step = replace(base, status="refused", error="paused by user input; the action was dropped")
        return self._finish(run, step, parsed, summary)

    def _finish(
        self, run: _Run, step: Step, parsed: Parsed | None = None, summary: str = "", *, result: str = ""
    ) -> Step:
        outcome = result or step.result or step.error or step.status
        finished = FinishedStep(step.index, step.status, step.raw_output, step.reasoning, parsed, outcome)
        run.conversation.record(finished)
        total = step.seconds
        logger.info("step %d %s: %s (%.2f s)", step.index + 1, step.status, summary or step.error, total)
        return step

    # --- acting -----------------------------------------------------------------------------------------

    def _act(self, action: Action, cancel: CancelToken) -> None:
        perform(
            action,
            self._input,
            clock=self._clock,
            cancel=cancel,
            secrets=self._secrets,
            settle=lambda timeout: self._settle(cancel, timeout),
        )

    def _release_quietly(self) -> None:
        try:
            self._input.release_all()
        except ActionError:
            logger.exception("could not release held keys and buttons")
