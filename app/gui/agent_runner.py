"""The GUI's :data:`Runner` on top of the composition root: one model for the session, one Agent per run.

The model loads once, on a worker (``load`` is the window's status source); each run then builds an
agent session (capture + EVS + input) for the monitor and dry-run choice of the request, lending it the
model (``close_model=False``) so that closing the session does not unload it; every run is recorded as a
trajectory bundle in the data dir's ``runs/`` by :class:`RecordedRun` (what the History panel shows). A
spoken command goes to the omni model as an ``AudioPart`` with the current screen
(:meth:`GuiAgentRunner.understand`); the model restates it and the window runs it like a typed task.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

from omnidesk.agent.actions import AskUser
from omnidesk.agent.errors import ConfigError, ModelCapabilityError
from omnidesk.agent.geometry import MonitorInfo
from omnidesk.agent.ports import (
    AudioClip,
    AudioPart,
    CancelToken,
    ChatMessage,
    ConfirmationRequest,
    Confirmer,
    ImagePart,
    ModelClient,
    ModelImage,
    ModelRequest,
    Part,
    Step,
    TextPart,
)
from omnidesk.app.gui.controller import RunRequest
from omnidesk.app.gui.model_loader import ModelStatus
from omnidesk.app.settings import AppPaths, Settings

if TYPE_CHECKING:
    from pathlib import Path

    from omnidesk.app.compose import AgentSession
    from omnidesk.app.recording_question import Progress, RecordingAnswer, RecordingQuestion
    from omnidesk.app.teaching.describe import TaskDescription

__all__ = [
    "ANSWER_PROMPT",
    "TRANSCRIBE_PROMPT",
    "UNDERSTAND_PROMPT",
    "VOICE_MAX_TOKENS",
    "GuiAgentRunner",
    "OverviewSource",
]

log = logging.getLogger(__name__)

TRANSCRIBE_PROMPT = (
    "The recording is a person telling a computer assistant what to do. Write their instruction as one "
    "plain sentence, in their language, and nothing else."
)
UNDERSTAND_PROMPT = (
    "The image is the person's screen now. The recording is the person telling a computer assistant what to "
    "do on it. Restate their command as one plain imperative sentence, in their language, precise enough to "
    "act on (name the app, the button, the text), and write nothing else."
)
ANSWER_PROMPT = (
    "The image is the person's screen now. The assistant asked the person: {question}\n"
    "The recording is the person's spoken answer. Write their answer as one plain sentence, and nothing else."
)

ReplayRunner = Callable[[Settings, Confirmer, RunRequest, CancelToken], Iterator[Step]]
"""``(settings, confirmer, request, cancel) -> steps``: a replay automation done again without the model."""

OverviewSource = Callable[[Settings, "str | None"], ModelImage]
"""``(settings, monitor name or None) -> ModelImage``: the current screen for the model (the whole of it)."""

VOICE_MAX_TOKENS = 256
"""A spoken command's restatement is one sentence; thinking is off for it, so all of these go to the answer."""


def _voice_request(parts: tuple[Part, ...]) -> ModelRequest:
    """A request that restates speech: no thinking (it would spend the tokens the one sentence needs)."""
    return ModelRequest(
        (ChatMessage("user", parts),), max_tokens=VOICE_MAX_TOKENS, temperature=0.0, enable_thinking=False
    )


class SessionFactory(Protocol):
    """``compose.build_agent_session``'s shape: the runner lends its model (``close_model=False``)."""

    def __call__(
        self,
        settings: Settings,
        *,
        model: ModelClient,
        confirmer: Confirmer,
        monitor: int | str | None = None,
        dry_run: bool | None = None,
        close_model: bool = True,
    ) -> AgentSession: ...


def _default_model_factory(settings: Settings, paths: AppPaths, consent: Callable[[str], bool]) -> ModelClient:
    from omnidesk.app.compose import build_model_client

    return build_model_client(settings, paths, consent=consent)


def _default_overview(settings: Settings, monitor: str | None) -> ModelImage:
    """One grab of the whole monitor at its native size (Omnidesk's own windows masked)."""
    from omnidesk.agent.formats import ImageSizing
    from omnidesk.agent.geometry import resolve_monitor
    from omnidesk.app.compose import build_screen
    from omnidesk.runtime.images import whole_image

    screen = build_screen(settings)
    try:
        index = resolve_monitor(screen.monitors(), monitor if monitor is not None else settings.capture.monitor)
        return whole_image(screen.grab(index), ImageSizing.native())
    finally:
        screen.close()


def _default_session_factory(
    settings: Settings,
    *,
    model: ModelClient,
    confirmer: Confirmer,
    monitor: int | str | None = None,
    dry_run: bool | None = None,
    close_model: bool = True,
) -> AgentSession:
    from omnidesk.app.compose import build_agent_session

    return build_agent_session(
        settings, model=model, confirmer=confirmer, monitor=monitor, dry_run=dry_run, close_model=close_model
    )


class GuiAgentRunner:
    """Call it with a :class:`RunRequest`; run :meth:`load` first (on a worker) to load the model."""

    def __init__(
        self,
        settings: Settings,
        paths: AppPaths,
        confirmer: Confirmer,
        *,
        model_factory: Callable[[Settings, AppPaths, Callable[[str], bool]], ModelClient] = _default_model_factory,
        session_factory: SessionFactory = _default_session_factory,
        overview: OverviewSource = _default_overview,
        replayer: ReplayRunner | None = None,
        record: bool = True,
    ) -> None:
        self._settings = settings
        self._paths = paths
        self._confirmer = confirmer
        self._model_factory = model_factory
        self._session_factory = session_factory
        self._overview = overview
        self._replayer = replayer
        self._record = record
        self._model: ModelClient | None = None
        self._loaded = threading.Event()
        self._problem = ""

    @property
    def configured(self) -> bool:
        model = self._settings.model
        return bool(model.remote_url or model.model)

    @property
    def settings(self) -> Settings:
        return self._settings

    def update_settings(self, settings: Settings) -> None:
        """Settings for the next run (capture, deny-list, safety…) and the next :meth:`load` (the model).

        Call between runs, from the GUI thread; a run in progress keeps the settings it started with.
        """
        self._settings = settings

    def load(self, cancel: CancelToken) -> Iterator[ModelStatus]:
        """Status source: (re)load the model from the current settings (runs on a worker thread).

        A model loaded before is closed first, so a changed model never sits in memory twice.
        """
        self._loaded.clear()
        self._problem = ""
        old, self._model = self._model, None
        try:
            if old is not None:
                yield ModelStatus("loading", f"unloading {old.capabilities.name}…")
                old.close()
            if not self.configured:
                self._problem = "no model is set up yet: choose a download or an engine in the window"
                yield ModelStatus("missing", "not set up — choose one in the window")
                return
            where = self._settings.model.remote_url or self._settings.model.model
            yield ModelStatus("loading", f"loading {where}…")
            self._model = self._model_factory(self._settings, self._paths, self._remote_consent)
            yield ModelStatus("ready", f"{self._model.capabilities.name} · ready")
        except Exception as exc:
            self._problem = f"the model failed to load: {exc}"
            raise
        finally:
            self._loaded.set()

    def _remote_consent(self, question: str) -> bool:
        """Ask in the confirmation bar (from the loading worker) before the screen goes off this machine."""
        request = ConfirmationRequest(AskUser(question=question), "remote engine", question, rules=("remote_engine",))
        return bool(self._confirmer.confirm(request))

    def hearing_problem(self) -> str | None:
        """Why spoken commands cannot work with the loaded model, and how to fix it (None: they can, or not loaded)."""
        model = self._model
        if model is None or model.capabilities.audio:
            return None
        return (
            f"{model.capabilities.name} cannot hear: its mmproj has no audio encoder. Use the omni mmproj with the "
            "audio encoder (download it in the window, or set model.mmproj in Settings), or type the task"
        )

    def understand(
        self, clip: AudioClip, monitor: MonitorInfo | None, cancel: CancelToken, *, question: str | None = None
    ) -> str | None:
        """Send the recording with the current screen to the model; its restatement (None if cancelled).

        With ``question`` the recording is the person's answer to it. Runs on a worker thread.
        """
        model = self._wait_for_model(cancel)
        if model is None:
            return None
        problem = self.hearing_problem()
        if problem is not None:
            raise ModelCapabilityError(problem)
        parts: list[Part] = []
        if model.capabilities.vision:
            parts.append(ImagePart(self._overview(self._settings, monitor.name if monitor else None)))
        prompt = UNDERSTAND_PROMPT if question is None else ANSWER_PROMPT.format(question=question)
        parts += [AudioPart(clip), TextPart(prompt)]
        request = _voice_request(tuple(parts))
        reply = model.generate(request, cancel=cancel)
        if reply.stop_reason == "cancelled" or cancel.cancelled:
            return None
        text = " ".join(reply.text.split())
        if not text:
            raise ModelCapabilityError("the model heard no instruction in the recording; speak again or type it")
        log.info("spoken %s understood (%d characters)", "answer" if question else "command", len(text))
        return text

    def ask_recording(self, ask: RecordingQuestion, progress: Progress, cancel: CancelToken) -> RecordingAnswer | None:
        """Answer a question about a recording with the loaded model (None if stopped). Runs on a worker thread."""
        from omnidesk.app.recording_question import ask_about_recording

        model = self._wait_for_model(cancel)
        if model is None:
            return None
        answer = ask_about_recording(model, ask, evs=self._settings.evs, progress=progress, cancel=cancel)
        return None if cancel.cancelled else answer

    def describe_demonstration(self, folder: Path, cancel: CancelToken) -> TaskDescription | None:
        """The loaded model's description of the demonstration recorded in ``folder`` (None if stopped), as
        ``omnidesk teach --describe`` asks it. Runs on the teach worker.

        Raises:
            ConfigError: no model is set up, or it failed to load (the reason says which).
            ModelOutputError: the answer is off the asked form.
        """
        from omnidesk.app.teaching.describe import describe_demonstration

        model = self._wait_for_model(cancel)
        if model is None:
            return None
        described = describe_demonstration(model, folder, evs=self._settings.evs, cancel=cancel)
        return None if cancel.cancelled else described

    def close(self) -> None:
        model, self._model = self._model, None
        if model is not None:
            model.close()

    def __call__(self, request: RunRequest, cancel: CancelToken) -> Iterator[Step]:
        if request.replay is not None:  # a replay automation: no model unless a taught one hands over
            yield from self._replay(request, cancel)
            return
        model = self._wait_for_model(cancel)
        if model is None:
            return  # stopped while the model was loading
        task = request.task
        if request.voice is not None:
            heard = self._transcribe(model, request, cancel)
            if heard is None:
                return  # stopped while listening
            task = heard
            log.info("spoken task transcribed (%d characters)", len(task))
        monitor = request.monitor.name if request.monitor is not None else None
        session = self._session_factory(
            self._settings,
            model=model,
            confirmer=self._confirmer,
            monitor=monitor,
            dry_run=request.dry_run,
            close_model=False,  # the model stays loaded for the next run
        )
        if not self._record:
            with session:
                yield from session.agent.run(task, cancel)
            return
        from omnidesk.app.compose import build_png_encoder
        from omnidesk.app.recorded_run import RecordedRun

        recorded = RecordedRun.create(
            session,
            task,
            runs_dir=self._paths.runs_dir,
            encoder=build_png_encoder(),
            dry_run=request.dry_run,
            via="gui",
        )
        yield from recorded.steps(cancel)

    def _replay(self, request: RunRequest, cancel: CancelToken) -> Iterator[Step]:
        """The replay, and the loaded model carrying on where a taught automation's target is gone (a
        ``handed_over`` step on the timeline, then the model's steps, recorded like any run)."""
        import time

        from omnidesk.agent.replay import load_replay
        from omnidesk.agent.replay_fallback import replay_with_fallback
        from omnidesk.app.automation_run import fallback_wanted, model_hand_over

        assert request.replay is not None
        replayer = self._replayer
        if replayer is None:
            from omnidesk.app.gui.replay_runner import replay_run

            replayer = replay_run
        settings, steps = self._settings, replayer(self._settings, self._confirmer, request, cancel)
        if not fallback_wanted(settings, request.fallback):
            yield from steps
            return
        script = load_replay(request.replay)
        monitor = request.monitor.name if request.monitor is not None else script.monitor
        hand_over = model_hand_over(
            settings,
            model=lambda: self._wait_for_model(cancel),
            confirmer=self._confirmer,
            cancel=cancel,
            origin=request.replay,
            monitor=monitor,
            dry_run=request.dry_run,
            runs_dir=self._paths.runs_dir if self._record else None,
            via="gui",
            close_model=False,  # the model stays loaded for the next run
            session_factory=self._session_factory,
        )
        yield from replay_with_fallback(steps, script, description=request.fallback, hand_over=hand_over, now=time.time)

    def _wait_for_model(self, cancel: CancelToken) -> ModelClient | None:
        while not self._loaded.wait(0.1):
            if cancel.cancelled:
                return None
        if self._model is None:
            raise ConfigError(self._problem or "the model is not loaded; see the status bar")
        return self._model

    def _transcribe(self, model: ModelClient, request: RunRequest, cancel: CancelToken) -> str | None:
        assert request.voice is not None
        if not model.capabilities.audio:
            raise ModelCapabilityError(
                f"{model.capabilities.name} cannot hear: load a model with an audio mmproj, or type the task"
            )
        parts = (AudioPart(request.voice), TextPart(TRANSCRIBE_PROMPT))
        reply = model.generate(_voice_request(parts), cancel=cancel)
        if reply.stop_reason == "cancelled" or cancel.cancelled:
            return None
        text = " ".join(reply.text.split())
        if not text:
            raise ModelCapabilityError("the model heard no instruction in the recording; speak again or type it")
        typed = "" if request.task.startswith("(spoken task") else request.task.strip()
        return f"{text}\n(typed with it: {typed})" if typed else text
