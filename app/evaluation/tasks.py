"""Running evaluation tasks (``omnidesk eval tasks``): set up, run the agent, read the result, tear down.

Each task gets a private home folder (a temporary directory: its files, the application's configuration),
its application started there and waited for on the accessibility bus, then an agent session composed as
``omnidesk run`` composes one (:func:`~omnidesk.app.compose.build_agent_session`, recorded by
:class:`~omnidesk.app.recorded_run.RecordedRun` into ``runs/<task id>`` of the output folder) with an
:class:`~omnidesk.agent.confirmers.UnattendedConfirmer` that says yes only to the confirmations the spec
lists. The step and time budgets are the spec's. Afterwards the spec's checks read the result from the
world; the application is closed and the home folder removed whatever happened.

A task the harness could not measure — its application missing or never showing, a set-up that failed,
a model that did not answer, a result that could not be read — is ``errored`` with the reason, and the run
goes on with the next task.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from omnidesk.agent.confirmers import Asked, UnattendedConfirmer
from omnidesk.agent.describe import describe_actions
from omnidesk.agent.errors import AccessibilityError, EvalError, GenerationCancelled, ModelError, OmnideskError
from omnidesk.agent.eval_tasks import TaskOutcome, TaskSpec, evaluate, judge
from omnidesk.agent.evaluation.records import ItemResult, ItemStatus, TaskDetail
from omnidesk.agent.ports import (
    AccessibleTree,
    CancelToken,
    ModelCapabilities,
    ModelClient,
    ModelReply,
    ModelRequest,
    Step,
    TokenDelta,
)
from omnidesk.agent.trajectory import PngEncoder
from omnidesk.app.compose import AgentSession
from omnidesk.app.evaluation.driver import CaseInfo, RunHeader
from omnidesk.app.recorded_run import RecordedRun
from omnidesk.app.settings import Settings

__all__ = ["TaskRunner", "TaskWorldOnDisk", "TasksEvalRunner", "item_result"]

log = logging.getLogger(__name__)


class Launched(Protocol):
    """A running application of a task (``runtime/desktop_apps.py``'s LaunchedApp)."""

    def tree(self, *, window: str | None = None) -> AccessibleTree: ...

    def close(self, timeout: float = 10.0) -> int: ...


class Launcher(Protocol):
    """Starts a task's application in its home folder and waits until it shows (``DesktopApps``)."""

    def launch(self, key: str, args: list[str], home: Path) -> Launched: ...


SessionFactory = Callable[..., AgentSession]


@dataclass
class TaskWorldOnDisk:
    """A running task's world for its checks: files under ``home``, the application's tree."""

    home: Path
    app: Launched

    def read_file(self, path: str) -> str | None:
        target = self.home / path
        if not target.is_file():
            return None
        return target.read_text(encoding="utf-8")

    def tree(self) -> AccessibleTree:
        return self.app.tree()


class _WatchedModel:
    """The shared model client, remembering a failure to answer (a cancel is not one)."""

    def __init__(self, model: ModelClient) -> None:
        self._model = model
        self.failure: str = ""

    @property
    def capabilities(self) -> ModelCapabilities:
        return self._model.capabilities

    def generate(
        self,
        request: ModelRequest,
        *,
        on_token: Callable[[TokenDelta], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> ModelReply:
        try:
            return self._model.generate(request, on_token=on_token, cancel=cancel)
        except GenerationCancelled:
            raise
        except ModelError as exc:
            self.failure = str(exc)
            raise

    def close(self) -> None:
        """Nothing: the runner closes the shared model once every task has run."""


def _settings_for(settings: Settings, spec: TaskSpec) -> Settings:
    safety = settings.safety.model_copy(update={"max_steps": spec.max_steps, "max_seconds": spec.max_seconds})
    return settings.model_copy(update={"safety": safety})


class TaskRunner:
    """Runs task specs one after another (see the module doc); ``out_dir/runs/<id>`` holds each trajectory.

    A cancelled token (Ctrl+C) stops the task in flight, which is then errored, and the ones after it.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        model: ModelClient,
        apps: Launcher,
        build_session: SessionFactory,
        encoder: PngEncoder,
        out_dir: Path,
        monitor: int | str | None = None,
    ) -> None:
        self._settings = settings
        self._model = model
        self._apps = apps
        self._build_session = build_session
        self._encoder = encoder
        self._out_dir = out_dir
        self._monitor = monitor

    def run(self, specs: Iterable[TaskSpec], cancel: CancelToken) -> Iterator[TaskOutcome]:
        """Each task's outcome as it ends; stops early on cancel."""
        for spec in specs:
            if cancel.cancelled:
                return
            yield self.run_one(spec, cancel)

    def run_one(self, spec: TaskSpec, cancel: CancelToken) -> TaskOutcome:
        """Set up, run, check and tear down one task; never raises for what the task or model did."""
        started = time.monotonic()
        home = Path(tempfile.mkdtemp(prefix=f"omnidesk-task-{spec.id}-"))
        launched: Launched | None = None
        try:
            try:
                for task_file in spec.files:
                    target = home / task_file.path
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(task_file.content, encoding="utf-8")
                launched = self._apps.launch(spec.app, list(spec.argv(str(home))), home)
            except (EvalError, OSError) as exc:
                return self._errored(spec, f"set-up failed: {exc}", started)
            return self._run_and_check(spec, home, launched, started, cancel)
        finally:
            if launched is not None:
                launched.close()
            shutil.rmtree(home, ignore_errors=True)

    def _errored(self, spec: TaskSpec, reason: str, started: float, ran: TaskOutcome | None = None) -> TaskOutcome:
        log.warning("task %s errored: %s", spec.id, reason)
        base = ran if ran is not None else TaskOutcome(spec.id, spec.app, "errored", "")
        return replace(base, verdict="errored", reason=reason, seconds=time.monotonic() - started)

    def _run_and_check(
        self, spec: TaskSpec, home: Path, launched: Launched, started: float, cancel: CancelToken
    ) -> TaskOutcome:
        confirmer = UnattendedConfirmer(allowed=spec.confirm, answers=dict(spec.answers), who=f"task {spec.id}")
        model = _WatchedModel(self._model)
        folder = self._out_dir / "runs" / spec.id
        try:
            session = self._build_session(
                _settings_for(self._settings, spec),
                model=model,
                confirmer=confirmer,
                monitor=self._monitor,
                close_model=False,
            )
        except OmnideskError as exc:
            return self._errored(spec, f"the agent could not start: {exc}", started)
        recorded = RecordedRun.create(
            session,
            spec.instruction,
            runs_dir=self._out_dir / "runs",
            folder=folder,
            encoder=self._encoder,
            dry_run=False,
            via="eval",
        )
        recorded.meta["task"] = spec.id
        steps: list[Step] = []
        try:
            for step in recorded.steps(cancel):
                steps.append(step)
        except OmnideskError as exc:
            ran = TaskOutcome(spec.id, spec.app, "errored", "", bundle=str(folder), steps=len(steps))
            return self._errored(spec, f"the run failed: {exc}", started, ran)
        last = steps[-1] if steps else None
        seen = [s for s in steps if s.observation is not None]
        ran = TaskOutcome(
            spec.id,
            spec.app,
            "errored",
            "",
            confirmations=tuple(confirmer.asked),
            questions=tuple(confirmer.questions),
            steps=len(steps),
            prompt_tokens=sum(s.prompt_tokens for s in steps),
            completion_tokens=sum(s.completion_tokens for s in steps),
            stop="" if last is None else (last.error or last.result or last.status),
            bundle=str(folder),
            screenshot=str(folder / f"step-{seen[-1].index:04d}.png") if seen else "",
            actions=tuple(_step_line(s) for s in steps),
        )
        if model.failure:
            return self._errored(spec, f"the model did not answer: {model.failure}", started, ran)
        if cancel.cancelled:
            return self._errored(spec, "stopped before the end (Ctrl+C)", started, ran)
        try:
            checks = evaluate(spec, TaskWorldOnDisk(home, launched))
        except (AccessibilityError, OSError, UnicodeDecodeError) as exc:
            return self._errored(spec, f"the result could not be read: {exc}", started, ran)
        verdict, reason = judge(checks, confirmer.asked)
        log.info("task %s %s: %s", spec.id, verdict, reason)
        return replace(ran, verdict=verdict, reason=reason, checks=checks, seconds=time.monotonic() - started)


def _step_line(step: Step) -> str:
    what = describe_actions(step.actions) if step.actions else "no action"
    detail = step.error or step.result
    return f"{step.status}: {what}" + (f" ({detail})" if detail else "")


def _relative(path: str, out_dir: Path) -> str:
    target = Path(path)
    return str(target.relative_to(out_dir) if target.is_relative_to(out_dir) else target)


def _confirmation_line(asked: Asked) -> str:
    answer = "yes (the spec expects it)" if asked.allowed else "refused: not in the spec"
    return f"{asked.action} [{', '.join(asked.rules) or 'no rule'}]: {answer}"


def item_result(spec: TaskSpec, outcome: TaskOutcome, out_dir: Path) -> ItemResult:
    """A task's outcome as a report item: the verdict and why, each check, each confirmation, the run."""
    statuses: dict[str, ItemStatus] = {"passed": "pass", "failed": "fail", "errored": "errored"}
    status = statuses[outcome.verdict]
    notes = {
        "checks": "; ".join(c.detail for c in outcome.checks) or "not read",
        "confirmations": "; ".join(_confirmation_line(a) for a in outcome.confirmations) or "none",
        "steps": f"{outcome.steps} of at most {spec.max_steps} (time budget {spec.max_seconds:.0f} s)",
    }
    if outcome.questions:
        notes["questions"] = "; ".join(f"{q!r}: {'answered' if a else 'no answer'}" for q, a in outcome.questions)
    if outcome.stop:
        notes["run ended"] = outcome.stop
    if outcome.bundle:
        notes["trajectory"] = _relative(outcome.bundle, out_dir)
    detail = None
    if outcome.screenshot or outcome.actions:
        screenshot = _relative(outcome.screenshot, out_dir) if outcome.screenshot else ""
        detail = TaskDetail(screenshot=screenshot, actions=outcome.actions)
    return ItemResult(
        id=spec.id,
        status=status,
        instruction=spec.instruction,
        labels=_labels(spec),
        seconds=round(outcome.seconds, 3),
        prompt_tokens=outcome.prompt_tokens,
        completion_tokens=outcome.completion_tokens,
        error="" if status == "pass" else outcome.reason,
        task=detail,
        notes=notes,
    )


def _labels(spec: TaskSpec) -> dict[str, str]:
    labels = {"app": spec.app}
    if spec.tags:
        labels["kind"] = spec.tags[0]
    return labels


@dataclass
class TasksEvalRunner:
    """The task suite as one evaluation of the shared loop (``app/evaluation/driver.py``)."""

    runner: TaskRunner
    specs: Sequence[TaskSpec]
    out_dir: Path
    describe_model: str
    format_name: str

    @property
    def header(self) -> RunHeader:
        notes = (
            "Each task ran in a private home folder with its application started there; checks read the saved "
            "files and the application's accessibility tree. Errored tasks could not be measured and are not in "
            "the rate.",
        )
        suite = f"omnidesk tasks ({len(self.specs)})"
        return RunHeader("tasks", self.describe_model, self.format_name, suite, None, notes)

    def cases(self) -> Sequence[TaskSpec]:
        return self.specs

    def describe(self, case: TaskSpec) -> CaseInfo:
        return CaseInfo(case.id, case.instruction, _labels(case))

    def run(self, case: TaskSpec, cancel: CancelToken) -> ItemResult:
        return item_result(case, self.runner.run_one(case, cancel), self.out_dir)
