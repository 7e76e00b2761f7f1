"""Replay automations in the GUI: the replay engine on the run worker, its steps on the timeline.

A saved replay automation is a finished run's trajectory bundle. :func:`replay_run` does it again without
the model through :func:`omnidesk.app.compose.build_replay_session` — the same engine as ``omnidesk
replay``, yielding the same :class:`Step` records as a model run, so the timeline, Stop, Pause and the
kill switch work as for one. It runs on the controller's worker thread, never the GUI thread. A taught
automation whose target is gone hands over to the loaded model there (``GuiAgentRunner``, through
:mod:`omnidesk.app.automation_run`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from omnidesk.agent.ports import CancelToken, Confirmer, Step
from omnidesk.app.gui.controller import RunRequest
from omnidesk.app.settings import Settings

__all__ = ["replay_run"]

log = logging.getLogger(__name__)


def replay_run(settings: Settings, confirmer: Confirmer, request: RunRequest, cancel: CancelToken) -> Iterator[Step]:
    """Replay ``request.replay`` on the request's monitor (else the recorded one); one Step per action."""
    from omnidesk.agent.replay import load_replay
    from omnidesk.app.compose import build_replay_session

    assert request.replay is not None
    script = load_replay(request.replay)
    monitor = request.monitor.name if request.monitor is not None else None
    with build_replay_session(settings, confirmer=confirmer, dry_run=request.dry_run) as session:
        yield from session.replayer.run(script, cancel, monitor=monitor)
