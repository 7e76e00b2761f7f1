"""Replay automations in the GUI: ``omnidesk replay``'s engine on the run worker, as timeline steps.

A saved replay automation is a finished run's trajectory bundle. :func:`replay_run` repeats its acted
steps without the model — each target found again on the current screen by template matching — and
yields one :class:`Step` per replayed action, so the timeline, Stop, Pause and the kill switch work as
for a model run. It runs on the controller's worker thread, never the GUI thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Literal

from omnidesk.agent.actions import Done
from omnidesk.agent.ports import CancelToken, Confirmer, Step
from omnidesk.app.gui.controller import RunRequest
from omnidesk.app.settings import Settings

__all__ = ["replay_run"]

log = logging.getLogger(__name__)


def replay_run(settings: Settings, confirmer: Confirmer, request: RunRequest, cancel: CancelToken) -> Iterator[Step]:
    """Replay ``request.replay`` on the screen (its monitor, else the recorded one); one Step per action."""
    from omnidesk.agent.safety import SafetyPolicy
    from omnidesk.app.commands.replay import replay_steps
    from omnidesk.app.compose import build_screen
    from omnidesk.runtime.clock import SystemClock
    from omnidesk.runtime.input import PyAutoGuiInput
    from omnidesk.runtime.secrets import KeyringSecretStore
    from omnidesk.runtime.windows import X11WindowInspector

    assert request.replay is not None
    screen = build_screen(settings)
    windows = X11WindowInspector()
    device = PyAutoGuiInput()
    status: Literal["planned", "acted"] = "planned" if request.dry_run else "acted"
    count = 0
    try:
        steps = replay_steps(
            request.replay,
            screen=screen,
            monitor=request.monitor.name if request.monitor is not None else None,
            policy=SafetyPolicy(settings.safety, windows=windows),
            confirmer=confirmer,
            device=device,
            clock=SystemClock(),
            cancel=cancel,
            secrets=KeyringSecretStore(),
            dry_run=request.dry_run,
        )
        started = time.monotonic()
        for done in steps:
            count += 1
            yield Step(
                index=count,
                task=request.task,
                started_at=time.time(),
                status=status,
                timings=(("replay", time.monotonic() - started),),
                action=done.action,
                target=done.targets[0] if done.targets else None,
                result=f"found again (match {', '.join(f'{s:.2f}' for s in done.scores)})" if done.scores else "done",
            )
            started = time.monotonic()
        if not cancel.cancelled:
            yield Step(
                index=count + 1,
                task=request.task,
                started_at=time.time(),
                status="finished",
                action=Done(answer=f"replayed {count} steps without the model"),
            )
    finally:
        if not request.dry_run:
            device.release_all()
        windows.close()
        screen.close()
    log.info("replayed %d steps of %s", count, request.replay)
