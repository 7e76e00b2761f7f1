"""Running a replay automation: the replay engine, and the model run a taught one hands over to.

``omnidesk replay`` and the window's replay automations both come here. The replay runs in its own
session, closed before anything else opens (:func:`replay_steps`); when a taught automation's target is
not on the screen, :func:`~omnidesk.agent.replay_fallback.replay_with_fallback` hands the rest to
:func:`model_hand_over`'s run: an ordinary agent session on the same monitor with the same confirmer —
every action reviewed by the safety policy, secrets filled only in their bound windows — recorded like
any run (:class:`~omnidesk.app.recorded_run.RecordedRun`, ``handed_over_from`` naming the automation's
bundle in its ``run.json``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

from omnidesk.agent.ports import CancelToken, Confirmer, ModelClient, Step
from omnidesk.agent.replay import ReplayScript
from omnidesk.agent.replay_fallback import HandOver
from omnidesk.app.compose import AgentSession
from omnidesk.app.settings import Settings

__all__ = ["SessionFactory", "fallback_wanted", "model_configured", "model_hand_over", "replay_steps"]

log = logging.getLogger(__name__)

SessionFactory = Callable[..., AgentSession]
"""``build_agent_session``'s signature (the GUI passes its own, tests a fake desktop's)."""


def model_configured(settings: Settings) -> bool:
    """Whether a model is set up to hand over to (a remote engine, or a local model file or name)."""
    return bool(settings.model.remote_url or settings.model.model)


def fallback_wanted(settings: Settings, description: str, *, override: bool | None = None) -> bool:
    """Whether a missing target hands over: the setting (or the person's ``override``), a description,
    and a model."""
    wanted = settings.replay.model_fallback if override is None else override
    return wanted and bool(description.strip()) and model_configured(settings)


def replay_steps(
    settings: Settings,
    script: ReplayScript,
    cancel: CancelToken,
    *,
    confirmer: Confirmer,
    monitor: int | str | None = None,
    dry_run: bool = False,
    min_score: float = 0.8,
) -> Iterator[Step]:
    """``script`` replayed on this desktop; the replay session is closed when the replay ends, however it
    ends (before a model run opens its own)."""
    from omnidesk.app.compose import build_replay_session

    session = build_replay_session(settings, confirmer=confirmer, dry_run=dry_run, min_score=min_score)
    with session:
        yield from session.replayer.run(script, cancel, monitor=monitor)


def model_hand_over(
    settings: Settings,
    *,
    model: Callable[[], ModelClient | None],
    confirmer: Confirmer,
    cancel: CancelToken,
    origin: Path,
    monitor: int | str | None,
    dry_run: bool,
    runs_dir: Path | None,
    via: Literal["cli", "mcp", "gui", "eval"],
    close_model: bool = True,
    session_factory: SessionFactory | None = None,
    on_bundle: Callable[[Path], None] | None = None,
) -> HandOver:
    """A model run of the hand-over task on ``monitor``, recorded in ``runs_dir`` (None: not recorded).

    ``model`` gives the client when the hand-over happens (so a model is loaded only if one is needed; None:
    the run was stopped while it loaded); ``close_model`` false keeps a shared one loaded. ``origin`` is the
    automation's bundle, written into the run's ``run.json``; ``on_bundle`` hears the run's folder.
    """

    def run(task: str) -> Iterator[Step]:
        from omnidesk.app.compose import build_agent_session, build_png_encoder
        from omnidesk.app.recorded_run import RecordedRun

        client = model()
        if client is None:
            return
        factory = session_factory or build_agent_session
        session = factory(
            settings,
            model=client,
            confirmer=confirmer,
            monitor=monitor,
            dry_run=dry_run or None,
            close_model=close_model,
        )
        log.info("the model carries on with %s's task", origin.name)
        if runs_dir is None:
            with session:
                yield from session.agent.run(task, cancel)
            return
        recorded = RecordedRun.create(
            session, task, runs_dir=runs_dir, encoder=build_png_encoder(), dry_run=dry_run, via=via
        )
        recorded.meta["handed_over_from"] = str(origin)
        if on_bundle is not None:
            on_bundle(recorded.folder)
        yield from recorded.steps(cancel)

    return run
